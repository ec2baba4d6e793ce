//! Sign-in, sessions and CSRF protection of the pages.
//!
//! - The session lives in the database; the browser holds a random secret in an `HttpOnly`,
//!   `SameSite=Lax` cookie (`Secure` and `__Host-` prefixed when the public URL is https).
//! - Every unsafe request (POST) must come from our own origin (`Origin` / `Sec-Fetch-Site`)
//!   and, once signed in, carry the session's form token.
//! - Pro Santé Connect sign-ins are kept server-side between the redirect and the callback,
//!   bound to the browser that started them by a second cookie.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use rppsplus_app::directory::PersonKind;
use rppsplus_app::sessions::{SignInMethod, SignedIn, new_secret};
use rppsplus_app::{AppError, FieldError};
use rppsplus_domain::Idnps;
use rppsplus_psc::{PendingSignIn, PscClient, PscError};
use serde::Deserialize;

use crate::AppState;
use crate::error::{WebError, render};
use crate::pages::{FormErrors, Layout};

const SESSION_COOKIE: &str = "rppsplus_session";
const SECURE_SESSION_COOKIE: &str = "__Host-rppsplus_session";
const SIGN_IN_COOKIE: &str = "rppsplus_sign_in";
const SECURE_SIGN_IN_COOKIE: &str = "__Host-rppsplus_sign_in";

/// Who is looking at the page, resolved once per request by [`resolve_session`].
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    /// The signed-in person, if any.
    pub signed_in: Option<Arc<SignedIn>>,
    /// A short description of the structures they act for, for the page header.
    pub scope_label: Option<String>,
}

impl Viewer {
    /// The layout of a page for this viewer.
    pub fn layout(&self, state: &AppState, section: &'static str) -> Layout {
        Layout {
            demo: state.settings.demo,
            user: self.signed_in.as_ref().map(|s| s.display_name.clone()),
            structure: self.scope_label.clone(),
            section,
            csrf_token: self.signed_in.as_ref().map(|s| s.csrf_token.clone()),
        }
    }
}

impl AppState {
    fn secure_cookies(&self) -> bool {
        self.settings.public_url.starts_with("https://")
    }

    fn session_cookie_name(&self) -> &'static str {
        if self.secure_cookies() {
            SECURE_SESSION_COOKIE
        } else {
            SESSION_COOKIE
        }
    }

    fn sign_in_cookie_name(&self) -> &'static str {
        if self.secure_cookies() {
            SECURE_SIGN_IN_COOKIE
        } else {
            SIGN_IN_COOKIE
        }
    }

    fn cookie(&self, name: &str, value: &str, max_age_secs: i64) -> Option<HeaderValue> {
        let secure = if self.secure_cookies() {
            "; Secure"
        } else {
            ""
        };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
        ))
        .ok()
    }
}

/// The value of a cookie in the request.
fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Middleware: resolves the session cookie into a [`Viewer`] for the handlers.
pub async fn resolve_session(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let mut viewer = Viewer::default();
    if let Some(secret) = read_cookie(req.headers(), state.session_cookie_name()) {
        match state.app.session(&secret).await {
            Ok(Some(signed_in)) => {
                viewer.scope_label = scope_label(&state, &signed_in).await;
                viewer.signed_in = Some(Arc::new(signed_in));
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = ?e, "session lookup failed"),
        }
    }
    req.extensions_mut().insert(viewer);
    next.run(req).await
}

async fn scope_label(state: &AppState, s: &SignedIn) -> Option<String> {
    let scopes = state.app.my_structures(&s.actor).await.ok()?;
    match scopes.as_slice() {
        [] => None,
        [one] => Some(one.structure.record.name.clone()),
        many => Some(format!("{} structures", many.len())),
    }
}

/// Refuses requests that do not come from our own pages: a cross-site `Sec-Fetch-Site`, or an
/// `Origin` that is neither the public URL's nor the `Host` the request was sent to.
pub fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<(), Refused> {
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site" || v == "same-site")
    {
        return Err(Refused::Forbidden);
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let public = state.settings.public_url.trim_end_matches('/');
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let from_host = host.is_some_and(|h| {
        origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority == h)
    });
    if origin == public || from_host {
        Ok(())
    } else {
        Err(Refused::Forbidden)
    }
}

/// Checks origin and the form token of a signed-in person's unsafe request.
pub fn check_csrf(
    state: &AppState,
    headers: &HeaderMap,
    signed_in: &SignedIn,
    token: &str,
) -> Result<(), Refused> {
    check_origin(state, headers)?;
    if constant_time_eq(token.as_bytes(), signed_in.csrf_token.as_bytes()) {
        Ok(())
    } else {
        Err(Refused::Forbidden)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a request is turned away before reaching its use case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not from one of our forms (origin or form token).
    Forbidden,
    /// The page needs a signed-in person.
    SignInRequired,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Forbidden => (
                StatusCode::FORBIDDEN,
                "Requête refusée : elle ne provient pas d'un formulaire de ce site. Rechargez la page et recommencez.",
            )
                .into_response(),
            Refused::SignInRequired => Redirect::to("/connexion").into_response(),
        }
    }
}

/// The signed-in person, or a redirect to the sign-in page.
pub fn require_sign_in(viewer: &Viewer) -> Result<Arc<SignedIn>, Refused> {
    viewer.signed_in.clone().ok_or(Refused::SignInRequired)
}

/// For a signed-in person's form: the person, once the origin and the form token are checked.
pub fn require_signed_in_form(
    state: &AppState,
    viewer: &Viewer,
    headers: &HeaderMap,
    token: &str,
) -> Result<Arc<SignedIn>, Refused> {
    let signed_in = require_sign_in(viewer)?;
    check_csrf(state, headers, &signed_in, token)?;
    Ok(signed_in)
}

struct DemoPerson {
    idnps: String,
    label: String,
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    layout: Layout,
    form: FormErrors,
    psc: bool,
    local: bool,
    idnps: String,
    representatives: Vec<DemoPerson>,
    managers: Vec<DemoPerson>,
    professionals: Vec<DemoPerson>,
    problem: Option<String>,
}

async fn sign_in_page(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    form: FormErrors,
    idnps: String,
    problem: Option<String>,
) -> Response {
    let mut page = SignInPage {
        layout: viewer.layout(state, "sign_in"),
        form,
        psc: state.settings.psc.is_some(),
        local: state.settings.local_sign_in,
        idnps,
        representatives: Vec::new(),
        managers: Vec::new(),
        professionals: Vec::new(),
        problem,
    };
    if state.settings.local_sign_in {
        // Listing everyone is only sensible on the small demo registry, where the local sign-in
        // is meant to be used.
        if let Ok(summary) = state.app.directory_summary().await {
            for p in summary.people {
                let item = DemoPerson {
                    label: format!("{} — {}", p.name, p.idnps),
                    idnps: p.idnps,
                };
                match p.kind {
                    PersonKind::LegalRepresentative => page.representatives.push(item),
                    PersonKind::Manager => page.managers.push(item),
                    PersonKind::Professional => page.professionals.push(item),
                }
            }
        }
    }
    render(status, &page)
}

/// The sign-in page: Pro Santé Connect, and the local sign-in when it is on.
pub async fn sign_in(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
) -> Response {
    sign_in_page(
        &state,
        &viewer,
        StatusCode::OK,
        FormErrors::default(),
        String::new(),
        None,
    )
    .await
}

/// The local sign-in form.
#[derive(Debug, Deserialize)]
pub struct LocalSignInForm {
    #[serde(default)]
    idnps: String,
}

/// Signs in without an identity provider: for the demo and development only.
pub async fn local_sign_in(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
    headers: HeaderMap,
    Form(form): Form<LocalSignInForm>,
) -> Response {
    if !state.settings.local_sign_in {
        return WebError::not_found(viewer.layout(&state, "")).into_response();
    }
    if let Err(r) = check_origin(&state, &headers) {
        return r.into_response();
    }
    let typed = form.idnps.trim().to_owned();
    let field_error = |message: &str, code: &'static str| {
        FormErrors::from_fields(&[FieldError::new("idnps", code, message)])
    };
    let Ok(idnps) = Idnps::parse(&typed) else {
        let form = field_error(
            "Choisissez une personne ou saisissez un IDNPS : 8 suivi du numéro RPPS (12 chiffres).",
            "invalid_idnps",
        );
        return sign_in_page(
            &state,
            &viewer,
            StatusCode::UNPROCESSABLE_ENTITY,
            form,
            typed,
            None,
        )
        .await;
    };
    start_session(&state, &viewer, &idnps, SignInMethod::Local, typed).await
}

async fn start_session(
    state: &AppState,
    viewer: &Viewer,
    idnps: &Idnps,
    method: SignInMethod,
    typed: String,
) -> Response {
    match state.app.start_session(idnps, method).await {
        Ok(secrets) => {
            let max_age = state.app.settings().sessions.absolute_timeout.as_secs();
            let mut response = Redirect::to("/mes-structures").into_response();
            if let Some(c) = state.cookie(state.session_cookie_name(), &secrets.cookie, max_age) {
                response.headers_mut().append(header::SET_COOKIE, c);
            }
            response
        }
        Err(AppError::NotFound) => {
            let form = FormErrors::from_fields(&[FieldError::new(
                "idnps",
                "unknown_person",
                "Vous n'êtes pas enregistré dans le RPPS+ : demandez au gestionnaire RPPS+ de votre établissement de vous enregistrer.",
            )]);
            sign_in_page(state, viewer, StatusCode::FORBIDDEN, form, typed, None).await
        }
        Err(e) => WebError::from_app(e, viewer.layout(state, "")).into_response(),
    }
}

/// Signs out: ends the session in the database and clears the cookie.
pub async fn sign_out(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let mut response = Redirect::to("/").into_response();
    if let Some(signed_in) = &viewer.signed_in {
        if let Err(r) = check_csrf(&state, &headers, signed_in, &form.csrf) {
            return r.into_response();
        }
        if let Some(secret) = read_cookie(&headers, state.session_cookie_name())
            && let Err(e) = state.app.end_session(&secret).await
        {
            return WebError::from_app(e, viewer.layout(&state, "")).into_response();
        }
    }
    if let Some(c) = state.cookie(state.session_cookie_name(), "", 0) {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}

/// A form that carries only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

impl CsrfForm {
    /// The token sent.
    pub fn token(&self) -> &str {
        &self.csrf
    }
}

async fn psc_client(state: &AppState) -> Result<&PscClient, PscError> {
    let Some(config) = state.settings.psc.clone() else {
        return Err(PscError::Config(
            "Pro Santé Connect n'est pas configuré".to_owned(),
        ));
    };
    state
        .psc
        .get_or_try_init(|| PscClient::discover(config))
        .await
}

/// Starts a Pro Santé Connect sign-in: remembers it server-side, then sends the browser to PSC.
pub async fn psc_start(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
) -> Response {
    let client = match psc_client(&state).await {
        Ok(c) => c,
        Err(e) => return psc_problem(&state, &viewer, &e).await,
    };
    let (url, pending) = client.start_sign_in();
    let browser = match new_secret() {
        Ok(b) => b,
        Err(e) => return WebError::from_app(e, viewer.layout(&state, "")).into_response(),
    };
    let payload = match serde_json::to_string(&pending) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "pending sign-in not serialisable");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    if let Err(e) = state
        .app
        .remember_sign_in(pending.state(), &browser, payload)
        .await
    {
        return WebError::from_app(e, viewer.layout(&state, "")).into_response();
    }
    let max_age = state.app.settings().sessions.sign_in_timeout.as_secs();
    let mut response = Redirect::to(url.as_str()).into_response();
    if let Some(c) = state.cookie(state.sign_in_cookie_name(), &browser, max_age) {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}

/// What Pro Santé Connect sends back.
#[derive(Debug, Deserialize)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The return from Pro Santé Connect: checks everything, then opens the session.
pub async fn psc_callback(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
    headers: HeaderMap,
    Query(params): Query<CallbackParams>,
) -> Response {
    if let Some(error) = &params.error {
        let e = PscError::from_callback(error, params.error_description.as_deref());
        return psc_problem(&state, &viewer, &e).await;
    }
    let (Some(code), Some(returned_state)) = (params.code, params.state) else {
        return psc_expired(&state, &viewer).await;
    };
    let Some(browser) = read_cookie(&headers, state.sign_in_cookie_name()) else {
        return psc_expired(&state, &viewer).await;
    };
    let payload = match state.app.take_sign_in(&returned_state, &browser).await {
        Ok(Some(p)) => p,
        Ok(None) => return psc_expired(&state, &viewer).await,
        Err(e) => return WebError::from_app(e, viewer.layout(&state, "")).into_response(),
    };
    let Ok(pending) = serde_json::from_str::<PendingSignIn>(&payload) else {
        return psc_expired(&state, &viewer).await;
    };
    let client = match psc_client(&state).await {
        Ok(c) => c,
        Err(e) => return psc_problem(&state, &viewer, &e).await,
    };
    let identity = match client.finish_sign_in(pending, &returned_state, &code).await {
        Ok(i) => i,
        Err(e) => return psc_problem(&state, &viewer, &e).await,
    };
    let mut response = match Idnps::parse(&identity.subject_name_id) {
        Ok(idnps) => {
            start_session(
                &state,
                &viewer,
                &idnps,
                SignInMethod::ProSanteConnect,
                identity.subject_name_id.clone(),
            )
            .await
        }
        Err(_) => {
            let message = "Votre identifiant Pro Santé Connect n'est pas un identifiant national de professionnel (IDNPS) connu du RPPS+.".to_owned();
            sign_in_page(
                &state,
                &viewer,
                StatusCode::FORBIDDEN,
                FormErrors::default(),
                String::new(),
                Some(message),
            )
            .await
        }
    };
    if let Some(c) = state.cookie(state.sign_in_cookie_name(), "", 0) {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}

async fn psc_expired(state: &AppState, viewer: &Viewer) -> Response {
    let message =
        "La connexion a expiré ou a été ouverte dans un autre navigateur : recommencez.".to_owned();
    sign_in_page(
        state,
        viewer,
        StatusCode::BAD_REQUEST,
        FormErrors::default(),
        String::new(),
        Some(message),
    )
    .await
}

async fn psc_problem(state: &AppState, viewer: &Viewer, e: &PscError) -> Response {
    // Logged with its stable code only: the details may carry identifiers.
    tracing::warn!(code = e.code(), "Pro Santé Connect sign-in refused");
    let message = format!("La connexion par Pro Santé Connect a échoué : {e}");
    sign_in_page(
        state,
        viewer,
        StatusCode::BAD_GATEWAY,
        FormErrors::default(),
        String::new(),
        Some(message),
    )
    .await
}
