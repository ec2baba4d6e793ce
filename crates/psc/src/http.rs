//! The one HTTP client used to talk to the provider: `reqwest` (rustls on ring), no redirects,
//! a timeout, and a cap on response bodies. It implements `openidconnect`'s async client trait so
//! that discovery, the token exchange and the JWKS use it too.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

/// Largest response body read from the provider (discovery, JWKS, tokens, userinfo).
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Why an HTTP exchange with the provider failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// Connection, TLS, timeout or protocol failure.
    #[error("{0}")]
    Transport(#[from] reqwest::Error),
    /// The request could not be built or the response could not be assembled.
    #[error("{0}")]
    Http(#[from] openidconnect::http::Error),
    /// The response body is larger than `MAX_BODY_BYTES` (1 MiB).
    #[error("response body larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
}

/// A `reqwest` client that never follows redirects.
#[derive(Clone, Debug)]
pub(crate) struct HttpClient(reqwest::Client);

impl HttpClient {
    /// A client with its own connection pool, rustls (ring), the given timeout, no redirects.
    pub(crate) fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("rpps-plus/", env!("CARGO_PKG_VERSION")))
            .build()
            .map(HttpClient)
    }

    /// Wraps a client built by the caller, who must have turned redirects off.
    pub(crate) fn from_reqwest(client: reqwest::Client) -> Self {
        HttpClient(client)
    }

    /// Sends `request` and reads the whole response, up to [`MAX_BODY_BYTES`].
    pub(crate) async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let mut response = self.0.execute(request).await?;
        let mut builder = openidconnect::http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(HttpError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(builder.body(body)?)
    }
}

impl<'c> AsyncHttpClient<'c> for HttpClient {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}
