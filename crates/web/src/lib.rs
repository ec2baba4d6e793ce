//! The HTTP layer: French web pages, health endpoints and security headers.
//!
//! Handlers are thin: they extract input, call one use case of [`rppsplus_app::App`] and map
//! the result to a response. This is the only crate that knows HTTP.

mod assets;
mod error;
mod health;
mod pages;
mod security;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::routing::get;
use rppsplus_app::App;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

pub use error::WebError;

/// Settings of the web layer, passed down from the command line.
#[derive(Debug, Clone, Default)]
pub struct WebSettings {
    /// Demo mode: fictitious data, a banner on every page, the demo listing page.
    pub demo: bool,
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub app: Arc<App>,
    /// The web settings.
    pub settings: Arc<WebSettings>,
}

/// Largest request body accepted (identity document scans come later, at 5 MB).
const BODY_LIMIT: usize = 6 * 1024 * 1024;

/// The complete router of the server.
pub fn router(app: Arc<App>, settings: WebSettings) -> Router {
    let state = AppState {
        app,
        settings: Arc::new(settings),
    };
    let routes = Router::new()
        .route("/", get(pages::home))
        .route("/structures", get(pages::search_structures))
        .route("/structures/{finess}", get(pages::structure))
        .route("/demo", get(pages::demo))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/static/{file}", get(assets::serve))
        .route("/favicon.ico", get(assets::favicon))
        .fallback(pages::not_found)
        .with_state(state);
    security::layer(routes)
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(
            // The span names the route pattern, never the raw path or query: those may carry
            // identifiers or names typed into a search.
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let route = req
                    .extensions()
                    .get::<MatchedPath>()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_else(|| "unmatched".to_owned());
                tracing::info_span!("http", method = %req.method(), route = %route)
            }),
        )
        .layer(CatchPanicLayer::new())
}

/// Serves the router on a bound listener until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
