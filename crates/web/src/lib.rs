//! The HTTP layer: French web pages, health endpoints and security headers.
//!
//! Handlers are thin: they extract input, call one use case of [`rppsplus_app::App`] and map
//! the result to a response. This is the only crate that knows HTTP.

mod access;
mod api;
mod assets;
mod auth;
mod client_ip;
mod directory_access;
mod error;
mod fhir;
mod habilitations;
mod health;
mod pages;
mod professionals;
mod rate_limit;
mod registrations;
mod security;
mod self_registration;
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

pub use api::DEFAULT_SELF_REGISTRATIONS_PER_HOUR;
pub use client_ip::{ProxyNetwork, TrustedProxies};
pub use directory_access::{DirectoryCaller, DirectorySettings, KEY_HEADER};
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
    /// Who may read the public directory (FHIR API, extracts), and how fast.
    pub directory: DirectorySettings,
    /// Self-registrations (`POST /api/v1/self-registrations`, no token) one client IP address
    /// may submit per hour.
    pub self_registrations_per_hour: u32,
    /// The key signing the anonymous forms' tokens (the self-registration page). Instances
    /// behind one load balancer share it; `None`: each process draws its own at random.
    pub form_secret: Option<String>,
    /// The reverse proxies whose `X-Forwarded-For` names the client, for the limits counted
    /// per address; none by default.
    pub trusted_proxies: TrustedProxies,
}

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings {
            demo: false,
            local_sign_in: false,
            public_url: "http://127.0.0.1:8080".to_owned(),
            psc: None,
            directory: DirectorySettings::default(),
            self_registrations_per_hour: api::DEFAULT_SELF_REGISTRATIONS_PER_HOUR,
            form_secret: None,
            trusted_proxies: TrustedProxies::default(),
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
    /// The rate limit of self-registrations, per client address.
    self_registrations: Arc<api::rate_limit::AddressBuckets>,
    /// The key of the self-registration page's form tokens (see `self_registration`).
    form_key: Arc<self_registration::FormKey>,
}

/// Largest request body accepted, but on the upload of identity-document scans, which reads
/// its own body (see `registrations::upload_routes`).
const BODY_LIMIT: usize = 6 * 1024 * 1024;

/// The complete router of the server.
pub fn router(app: Arc<App>, settings: WebSettings) -> Router {
    let directory = directory_access::Gate::new(
        app.clone(),
        settings.directory.clone(),
        settings.demo,
        settings.trusted_proxies.clone(),
    );
    let form_key = Arc::new(self_registration::FormKey::new(
        settings.form_secret.clone(),
    ));
    let state = AppState {
        app,
        self_registrations: Arc::new(api::rate_limit::AddressBuckets::per_hour(
            settings.self_registrations_per_hour,
        )),
        settings: Arc::new(settings),
        psc: Arc::new(tokio::sync::OnceCell::new()),
        form_key,
    };
    // Pages see who is signed in; probes and static files do not touch the session store.
    let pages = Router::new()
        .route("/", get(pages::home))
        .route("/structures", get(pages::search_structures))
        .route("/structures/{finess}", get(pages::structure))
        .route(
            "/structures/{finess}/professionnels",
            get(professionals::list),
        )
        .route(
            "/structures/{finess}/professionnels.csv",
            get(professionals::export),
        )
        .route(
            "/structures/{finess}/demandes/{id}/validation",
            post(professionals::validate_pending),
        )
        .route(
            "/structures/{finess}/demandes/{id}/refus",
            post(professionals::reject_pending),
        )
        .route("/professionnels/{rpps}", get(professionals::professional))
        .route(
            "/professionnels/{rpps}/situations/{id}",
            post(professionals::modify),
        )
        .route(
            "/professionnels/{rpps}/situations/{id}/cloture",
            post(professionals::close),
        )
        .route(
            "/professionnels/{rpps}/identite",
            post(professionals::correct_identity),
        )
        .route(
            "/professionnels/{rpps}/contact",
            post(professionals::change_contact),
        )
        .route("/demo", get(pages::demo))
        .route(
            "/inscription",
            get(self_registration::page).post(self_registration::submit),
        )
        .route("/inscription/envoyee", get(self_registration::done))
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
        .merge(registrations::routes())
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
        .nest(fhir::PREFIX, directory.protect(fhir::router()))
        .merge(directory.extracts())
        .merge(pages)
        // Every route but the upload of identity-document scans, which reads its body itself
        // so that a file too large gets a French page (see `registrations`).
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .merge(registrations::upload_routes(state.clone()))
        .with_state(state);
    security::layer(routes)
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
    // The client's address keys the rate limit of anonymous directory reads.
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
