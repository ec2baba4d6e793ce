//! "Mes jetons d'API": a signed-in person creates tokens for their software (HR tools,
//! scripts) that act with their own habilitations, sees when each was last used, revokes them.

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use rppsplus_app::sessions::SignedIn;
use rppsplus_app::tokens::TokenView;
use rppsplus_store::ApiTokenId;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{CsrfForm, Viewer, require_sign_in, require_signed_in_form};
use crate::error::{WebError, render};
use crate::pages::{FormErrors, Layout};

struct TokenRow {
    id: i64,
    label: String,
    created_on: String,
    last_used: String,
}

fn paris(at: jiff::Timestamp) -> jiff::Zoned {
    at.to_zoned(jiff::tz::TimeZone::get("Europe/Paris").unwrap_or(jiff::tz::TimeZone::UTC))
}

impl From<&TokenView> for TokenRow {
    fn from(t: &TokenView) -> Self {
        TokenRow {
            id: t.id.0,
            label: t.label.clone(),
            created_on: rppsplus_domain::validation::format_date_fr(paris(t.created_at).date()),
            last_used: t
                .last_used_at
                .map(|at| paris(at).strftime("%d/%m/%Y à %H:%M").to_string())
                .unwrap_or_else(|| "jamais".to_owned()),
        }
    }
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    layout: Layout,
    form: FormErrors,
    label: String,
    issued: Option<String>,
    revoked: bool,
    rows: Vec<TokenRow>,
}

/// What the page shows besides the list.
#[derive(Default)]
struct Shown {
    form: FormErrors,
    label: String,
    issued: Option<String>,
    revoked: bool,
}

async fn page(
    state: &AppState,
    viewer: &Viewer,
    signed_in: &SignedIn,
    status: StatusCode,
    shown: Shown,
) -> Response {
    let layout = viewer.layout(state, "tokens");
    match state.app.my_tokens(&signed_in.actor).await {
        Ok(tokens) => {
            let mut response = render(
                status,
                &TokensPage {
                    layout,
                    form: shown.form,
                    label: shown.label,
                    issued: shown.issued,
                    revoked: shown.revoked,
                    rows: tokens.iter().map(TokenRow::from).collect(),
                },
            );
            // A page that may show a secret is never kept by a cache or the history.
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => WebError::from_app(e, layout).into_response(),
    }
}

/// The list of my tokens and the creation form.
pub async fn tokens(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    axum::extract::Query(q): axum::extract::Query<Done>,
) -> Response {
    let signed_in = match require_sign_in(&viewer) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let revoked = q.ok.as_deref() == Some("revoque");
    let shown = Shown {
        revoked,
        ..Shown::default()
    };
    page(&state, &viewer, &signed_in, StatusCode::OK, shown).await
}

/// Result messages after a redirect.
#[derive(Debug, Deserialize)]
pub struct Done {
    ok: Option<String>,
}

/// The creation form.
#[derive(Debug, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    label: String,
}

/// Creates a token and shows its secret, once.
pub async fn create(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Form(form): Form<CreateForm>,
) -> Response {
    let signed_in = match require_signed_in_form(&state, &viewer, &headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let label = (!form.label.trim().is_empty()).then_some(form.label.as_str());
    match state.app.create_my_token(&signed_in.actor, label).await {
        Ok(issued) => {
            let shown = Shown {
                issued: Some(issued.secret),
                ..Shown::default()
            };
            page(&state, &viewer, &signed_in, StatusCode::CREATED, shown).await
        }
        Err(e) => {
            let errors = match FormErrors::from_app(&e) {
                Some(f) => f,
                None => match &e {
                    rppsplus_app::AppError::Conflict { message, .. } => {
                        FormErrors::from_fields(&[rppsplus_app::FieldError::new(
                            "label",
                            "conflict",
                            message.clone(),
                        )])
                    }
                    _ => {
                        return WebError::from_app(e, viewer.layout(&state, "tokens"))
                            .into_response();
                    }
                },
            };
            let shown = Shown {
                form: errors,
                label: form.label,
                ..Shown::default()
            };
            page(
                &state,
                &viewer,
                &signed_in,
                StatusCode::UNPROCESSABLE_ENTITY,
                shown,
            )
            .await
        }
    }
}

/// Revokes one of my tokens.
pub async fn revoke(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let signed_in = match require_signed_in_form(&state, &viewer, &headers, form.token()) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    match state
        .app
        .revoke_my_token(&signed_in.actor, ApiTokenId(id))
        .await
    {
        Ok(()) => Redirect::to("/mes-jetons?ok=revoque").into_response(),
        Err(e) => WebError::from_app(e, viewer.layout(&state, "tokens")).into_response(),
    }
}
