//! The HTTP layer: French web pages, health endpoints and security headers.
//!
//! Handlers are thin: they extract input, call one use case of [`rppsplus_app::App`] and map
//! the result to a response. This is the only crate that knows HTTP.

mod access;
mod api;
mod assets;
mod auth;
mod error;
mod habilitations;
mod health;
mod pages;
mod security;
mod tokens;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::routing::{get, post};
use rppsplus_app::App;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

pub use error::WebError;

/// Settings of the web layer, passed down from the command line.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Demo mode: fictitious data, a banner on every page, the demo listing page.
    pub demo: bool,
    /// The local sign-in (no identity provider): demo and development only.
    pub local_sign_in: bool,
    /// The URL users reach the server at (`https://…` turns on `Secure` cookies); also the
    /// base of the Pro Santé Connect redirect URI.
    pub public_url: String,
    /// Pro Santé Connect, when configured.
    pub psc: Option<rppsplus_psc::PscConfig>,
}

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings {
            demo: false,
            local_sign_in: false,
            public_url: "http://127.0.0.1:8080".to_owned(),
            psc: None,
        }
    }
}

/// The path Pro Santé Connect sends the browser back to.
pub const PSC_CALLBACK_PATH: &str = "/connexion/psc/retour";

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub app: Arc<App>,
    /// The web settings.
    pub settings: Arc<WebSettings>,
    /// The Pro Santé Connect client, discovered at the first sign-in (so that the server starts
    /// even when the provider is briefly unreachable).
    psc: Arc<tokio::sync::OnceCell<rppsplus_psc::PscClient>>,
}

/// Largest request body accepted (identity document scans come later, at 5 MB).
const BODY_LIMIT: usize = 6 * 1024 * 1024;

/// The complete router of the server.
pub fn router(app: Arc<App>, settings: WebSettings) -> Router {
    let state = AppState {
        app,
        settings: Arc::new(settings),
        psc: Arc::new(tokio::sync::OnceCell::new()),
    };
    // Pages see who is signed in; probes and static files do not touch the session store.
    let pages = Router::new()
        .route("/", get(pages::home))
        .route("/structures", get(pages::search_structures))
        .route("/structures/{finess}", get(pages::structure))
        .route("/demo", get(pages::demo))
        .route("/acces", get(access::matrix))
        .route("/connexion", get(auth::sign_in))
        .route("/connexion/locale", post(auth::local_sign_in))
        .route("/connexion/psc", get(auth::psc_start))
        .route(PSC_CALLBACK_PATH, get(auth::psc_callback))
        .route("/deconnexion", post(auth::sign_out))
        .route("/mes-structures", get(habilitations::my_structures))
        .route(
            "/mes-structures/mode-de-gestion",
            post(habilitations::set_mode),
        )
        .route(
            "/mes-habilitations",
            get(habilitations::habilitations).post(habilitations::grant),
        )
        .route(
            "/mes-habilitations/e-learning",
            post(habilitations::record_elearning),
        )
        .route(
            "/mes-habilitations/{id}/retrait",
            post(habilitations::revoke),
        )
        .route("/mes-jetons", get(tokens::tokens).post(tokens::create))
        .route("/mes-jetons/{id}/revocation", post(tokens::revoke))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::resolve_session,
        ));
    let routes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/static/{file}", get(assets::serve))
        .route("/favicon.ico", get(assets::favicon))
        .nest(api::PREFIX, api::router())
        .merge(pages)
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
