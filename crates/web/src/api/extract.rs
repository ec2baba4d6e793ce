//! Extractors of the API: bearer authentication, JSON bodies, query strings and path segments.
//! Each rejects with the API's error shape, never with axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use rppsplus_app::FieldError;
use rppsplus_app::tokens::Authenticated;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::AppState;

/// The caller, authenticated by `Authorization: Bearer rpps_…`.
#[derive(Debug, Clone)]
pub struct Caller(pub Authenticated);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthenticated());
        };
        let Some((scheme, token)) = value.to_str().ok().and_then(|v| v.split_once(' ')) else {
            return Err(ApiError::unauthenticated());
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::unauthenticated());
        }
        match state.app.authenticate_token(token.trim()).await? {
            Some(authenticated) => Ok(Caller(authenticated)),
            None => Err(ApiError::invalid_token()),
        }
    }
}

/// A JSON object as a request body. The content type must be JSON; a body that is not a JSON
/// object is `400 malformed_json`. Field types are checked by the handler's input type (see
/// [`Text`]), so that each wrong field is reported on its own.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false)
}

fn malformed(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", message)
}

/// The body of a JSON request, read but not parsed: for a handler that reads a well-formed body
/// straight into borrowed fields and gives any other to [`ApiJson::parse`] for its messages.
#[derive(Debug, Clone)]
pub struct JsonBytes(pub Bytes);

impl<S> FromRequest<S> for JsonBytes
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(&req) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Envoyez le corps de la requête en JSON, avec l'en-tête « Content-Type: application/json ».",
            ));
        }
        Bytes::from_request(req, state)
            .await
            .map(JsonBytes)
            .map_err(|e: BytesRejection| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        "Le corps de la requête est trop volumineux.",
                    )
                } else {
                    malformed("Le corps de la requête n'a pas pu être lu.")
                }
            })
    }
}

impl<T: DeserializeOwned> ApiJson<T> {
    /// Reads a body that must be a JSON object into `T`.
    pub fn parse(bytes: &[u8]) -> Result<T, ApiError> {
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|_| malformed("Le corps de la requête n'est pas du JSON valide."))?;
        if !value.is_object() {
            return Err(malformed("Le corps de la requête doit être un objet JSON."));
        }
        serde_json::from_value(value)
            .map_err(|_| malformed("Le corps de la requête ne correspond pas au format attendu."))
    }
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let JsonBytes(bytes) = JsonBytes::from_request(req, state).await?;
        Self::parse(&bytes).map(ApiJson)
    }
}

/// A query string. One that cannot be read is `400 invalid_query`.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| ApiQuery(q))
            .map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    "Les paramètres de l'adresse ne sont pas lisibles.",
                )
            })
    }
}

/// One path segment, as text. A segment that cannot be read is `404 not_found`.
#[derive(Debug, Clone)]
pub struct Segment(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Segment {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(s)| Segment(s))
            .map_err(|_| ApiError::not_found())
    }
}

impl Segment {
    /// The segment as a positive internal id; anything else names nothing (`404`).
    pub fn id(&self) -> Result<i64, ApiError> {
        match self.0.parse::<i64>() {
            Ok(id) if id > 0 => Ok(id),
            _ => Err(ApiError::not_found()),
        }
    }
}

/// A JSON value where a string is expected. Anything else (a number, an object…) is kept, so
/// that the field can be reported as `invalid_type` rather than failing the whole body.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Text {
    /// A string, as expected.
    Str(String),
    /// Any other JSON value (its content does not matter).
    Other(serde::de::IgnoredAny),
}

/// Collects the field problems of a request body before the use case is called.
#[derive(Debug, Default)]
pub struct Fields(Vec<FieldError>);

impl Fields {
    /// A string field that must be present.
    pub fn required(&mut self, name: &str, value: Option<Text>) -> String {
        match value {
            Some(Text::Str(s)) => s,
            Some(Text::Other(_)) => {
                self.invalid_type(name);
                String::new()
            }
            None => {
                self.0.push(FieldError::new(
                    name,
                    "required",
                    format!("Le champ « {name} » est obligatoire."),
                ));
                String::new()
            }
        }
    }

    /// A string field that may be absent (or `null`).
    pub fn optional(&mut self, name: &str, value: Option<Text>) -> Option<String> {
        match value {
            Some(Text::Str(s)) => Some(s),
            Some(Text::Other(_)) => {
                self.invalid_type(name);
                None
            }
            None => None,
        }
    }

    /// A required field with a fixed set of values.
    pub fn choice<T>(
        &mut self,
        name: &str,
        value: Option<Text>,
        parse: fn(&str) -> Option<T>,
        allowed: &[&str],
    ) -> Option<T> {
        let raw = self.required(name, value);
        if !self.0.iter().any(|e| e.field == name) {
            if let Some(v) = parse(&raw) {
                return Some(v);
            }
            let list = allowed
                .iter()
                .map(|a| format!("« {a} »"))
                .collect::<Vec<_>>()
                .join(", ");
            self.0.push(FieldError::new(
                name,
                "invalid_value",
                format!("Valeurs possibles pour « {name} » : {list}."),
            ));
        }
        None
    }

    fn invalid_type(&mut self, name: &str) {
        self.0.push(FieldError::new(
            name,
            "invalid_type",
            format!("Le champ « {name} » doit être une chaîne de caractères."),
        ));
    }

    /// `422 invalid_input` if any field was wrong, else `value` (present whenever no field was
    /// wrong).
    pub fn done<T>(self, value: Option<T>) -> Result<T, ApiError> {
        self.check()?;
        value.ok_or_else(ApiError::internal)
    }

    /// `422 invalid_input` if any field was wrong.
    pub fn check(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(self.0))
        }
    }
}
