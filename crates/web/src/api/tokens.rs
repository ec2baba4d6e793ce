//! The caller's own API tokens: list, create (the secret is shown once), revoke.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rppsplus_app::tokens::TokenView;
use rppsplus_store::ApiTokenId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, Caller, Fields, Segment, Text};
use crate::AppState;

/// A token, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenBody {
    /// Its id (to revoke it).
    pub id: i64,
    /// The label chosen at creation.
    pub label: String,
    /// When created.
    pub created_at: jiff::Timestamp,
    /// Last use, to the minute.
    pub last_used_at: Option<jiff::Timestamp>,
}

impl From<&TokenView> for TokenBody {
    fn from(t: &TokenView) -> Self {
        TokenBody {
            id: t.id.0,
            label: t.label.clone(),
            created_at: t.created_at,
            last_used_at: t.last_used_at,
        }
    }
}

/// The caller's tokens in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    /// Oldest first.
    pub tokens: Vec<TokenBody>,
}

/// List the caller's tokens in force (a person's; empty for systems and the operator).
#[utoipa::path(
    get,
    path = "/tokens",
    tag = "tokens",
    operation_id = "list_tokens",
    responses(
        (status = 200, description = "The caller's tokens.", body = TokenList),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<TokenList>, ApiError> {
    let tokens = state.app.my_tokens(&caller.actor).await?;
    Ok(Json(TokenList {
        tokens: tokens.iter().map(TokenBody::from).collect(),
    }))
}

/// A token to create.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateTokenBody {
    /// What the token is for (100 characters at most); `Jeton d'API` when absent.
    #[schema(value_type = Option<String>, example = "Export SI-RH")]
    label: Option<Text>,
}

/// A token just created.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedTokenBody {
    /// Its id.
    pub id: i64,
    /// The token, shown this once: `rpps_` and 64 hexadecimal digits. Only its hash is kept.
    #[schema(example = "rpps_0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0")]
    pub token: String,
    /// Its label.
    pub label: String,
    /// When created.
    pub created_at: jiff::Timestamp,
}

/// Create a token acting for the caller, with the caller's own habilitations (a person's
/// token only).
#[utoipa::path(
    post,
    path = "/tokens",
    tag = "tokens",
    operation_id = "create_token",
    request_body = CreateTokenBody,
    responses(
        (status = 201, description = "Created; the token is in the body, this once.", body = CreatedTokenBody),
        (status = 400, description = "The body is not a JSON object.", body = ErrorBody),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 403, description = "Only a person's token creates tokens.", body = ErrorBody),
        (status = 409, description = "Too many tokens in force (`too_many_tokens`).", body = ErrorBody),
        (status = 415, description = "The body is not sent as JSON.", body = ErrorBody),
        (status = 422, description = "Invalid `label`; nothing stored.", body = ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<CreateTokenBody>,
) -> Result<Response, ApiError> {
    let mut fields = Fields::default();
    let label = fields.optional("label", body.label);
    fields.check()?;
    let issued = state
        .app
        .create_my_token(&caller.actor, label.as_deref())
        .await?;
    let mut response = (
        StatusCode::CREATED,
        Json(CreatedTokenBody {
            id: issued.view.id.0,
            token: issued.secret,
            label: issued.view.label,
            created_at: issued.view.created_at,
        }),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Revoke one of the caller's tokens (possibly the one in use): it stops working at once.
#[utoipa::path(
    delete,
    path = "/tokens/{id}",
    tag = "tokens",
    operation_id = "revoke_token",
    params(("id" = i64, Path, description = "Id of the token.")),
    responses(
        (status = 204, description = "Revoked."),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 404, description = "The caller has no token in force with this id.", body = ErrorBody),
    ),
)]
pub async fn revoke(
    State(state): State<AppState>,
    Caller(caller): Caller,
    id: Segment,
) -> Result<StatusCode, ApiError> {
    let id = ApiTokenId(id.id()?);
    state.app.revoke_my_token(&caller.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
