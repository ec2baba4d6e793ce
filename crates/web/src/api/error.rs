//! The one error shape of the API, and the mapping from use-case errors to it.
//!
//! Every error answers `{"error": {"code", "message", "fields"?}}`: `code` is stable (clients
//! branch on it), `message` is French (people read it), `fields` lists invalid fields, each
//! with its own stable code.

use std::borrow::Cow;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rppsplus_app::{AppError, FieldError};
use serde::Serialize;
use utoipa::ToSchema;

/// The realm named in `WWW-Authenticate`.
const REALM: &str = "Bearer realm=\"rpps-plus\"";

/// An error, as every endpoint reports it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code, e.g. `invalid_input`, `unauthenticated`, `invalid_token`, `forbidden`,
    /// `not_found`, `method_not_allowed`, `malformed_json`, `unsupported_media_type`,
    /// `payload_too_large`, `invalid_query`, a conflict code (`already_granted`,
    /// `already_legal_representative`, `too_many_tokens`, `stale_version`…) or
    /// `internal_error`.
    #[schema(example = "invalid_input")]
    pub code: Cow<'static, str>,
    /// French message for people.
    pub message: String,
    /// The invalid fields (with `invalid_input` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldErrorBody>,
}

/// One invalid field.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldErrorBody {
    /// The field, as named in the request body or query (`person`, `scope`, `q`…).
    #[schema(example = "person")]
    pub field: String,
    /// Stable code of the problem: `required`, `invalid_type`, `invalid_value`,
    /// `invalid_idnps`, `invalid_finess`, `unknown_person`, `unknown_structure`,
    /// `elearning_missing`, `centralised_management`, `per_site_management`, `invalid_date`,
    /// `in_future`, `too_short`, `invalid_label`…
    #[schema(example = "invalid_idnps")]
    pub code: Cow<'static, str>,
    /// French message: what is wrong and what to do.
    pub message: String,
}

impl From<FieldError> for FieldErrorBody {
    fn from(e: FieldError) -> Self {
        FieldErrorBody {
            field: e.field,
            code: Cow::Borrowed(e.code),
            message: e.message,
        }
    }
}

/// An error response of the API.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: Cow<'static, str>,
    message: String,
    fields: Vec<FieldErrorBody>,
    challenge: Option<&'static str>,
}

impl ApiError {
    /// An error without fields.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: Cow::Borrowed(code),
            message: message.into(),
            fields: Vec::new(),
            challenge: None,
        }
    }

    /// 422 with the invalid fields; nothing was stored.
    pub fn invalid(fields: Vec<FieldError>) -> Self {
        ApiError {
            fields: fields.into_iter().map(FieldErrorBody::from).collect(),
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
                "Les données envoyées sont invalides : corrigez les champs signalés. Rien n'a été enregistré.",
            )
        }
    }

    /// 401 without credentials.
    pub fn unauthenticated() -> Self {
        ApiError {
            challenge: Some(REALM),
            ..ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentifiez-vous avec un jeton d'API : en-tête « Authorization: Bearer rpps_… ».",
            )
        }
    }

    /// 401 with a token that is malformed, unknown or revoked.
    pub fn invalid_token() -> Self {
        ApiError {
            challenge: Some("Bearer realm=\"rpps-plus\", error=\"invalid_token\""),
            ..ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "Ce jeton d'API n'est pas valide : il est mal formé, inconnu ou révoqué.",
            )
        }
    }

    /// 404.
    pub fn not_found() -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "Ressource introuvable : elle n'existe pas ou n'est plus disponible.",
        )
    }

    /// 500, the details having been logged by the caller.
    pub fn internal() -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Le service a rencontré une erreur. Réessayez dans quelques instants.",
        )
    }

    /// For an endpoint whose structure comes from the path: a FINESS number that is invalid
    /// or unknown there is a missing resource, not an invalid field.
    pub fn structure_in_path(e: AppError) -> Self {
        match e {
            AppError::Invalid(fields)
                if fields.iter().any(|f| {
                    f.field == "structure"
                        && matches!(f.code, "invalid_finess" | "unknown_structure")
                }) =>
            {
                ApiError::not_found()
            }
            other => ApiError::from(other),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid(fields) => ApiError::invalid(fields),
            AppError::NotFound => ApiError::not_found(),
            AppError::Forbidden => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Action non autorisée : ce jeton n'a pas d'habilitation qui le permette sur cette structure.",
            ),
            AppError::Conflict { code, message } => ApiError {
                code: Cow::Borrowed(code),
                ..ApiError::new(StatusCode::CONFLICT, "conflict", message)
            },
            AppError::Store(inner) => {
                // Logged once, here, where it is handled; the response says nothing of it.
                tracing::error!(error = %inner, "storage failure");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                fields: self.fields,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(challenge) = self.challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}
