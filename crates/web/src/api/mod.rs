//! The JSON API under `/api/v1`, for software (HR tools, scripts, consuming systems).
//!
//! Every endpoint but the OpenAPI document needs `Authorization: Bearer rpps_…` (an API token,
//! see `rppsplus_app::tokens`); the token acts with its holder's own habilitations. Handlers
//! are thin: extract, call one use case, map. Errors have one shape ([`error::ErrorBody`]).
//! The OpenAPI document is generated from the handlers themselves and served at
//! `/api/v1/openapi.json`.

mod decisions;
mod elearning;
mod error;
mod extract;
mod habilitations;
mod me;
pub(crate) mod rate_limit;
mod registrations;
mod structures;
mod tokens;

use std::sync::LazyLock;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{OpenApi as OpenApiDoc, PathItem};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use error::ApiError;
pub use rate_limit::DEFAULT_SELF_REGISTRATIONS_PER_HOUR;

/// Where the API is mounted.
pub const PREFIX: &str = "/api/v1";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "RPPS+ API",
        version = "1.0.0",
        description = "API of the RPPS+ registry of health, social and medico-social professionals. \
Authenticate with an API token: `Authorization: Bearer rpps_…`. A person's token acts with that \
person's own habilitations; a system's token acts as no person and holds no habilitation; an \
operator's token has every right. Errors always answer `{\"error\": {\"code\", \"message\", \
\"fields\"}}` with a stable `code` and a French `message`.",
        license(name = "EUPL-1.2", identifier = "EUPL-1.2"),
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(error::ErrorBody, error::ErrorDetail, error::FieldErrorBody)),
    tags(
        (name = "structures", description = "Public FINESS data, legal representatives, management mode."),
        (name = "professionals", description = "Registering professionals: search before create, registration, situations."),
        (name = "habilitations", description = "Gestionnaire RPPS+ and mandataire habilitations, e-learning."),
        (name = "tokens", description = "The caller and their API tokens."),
        (name = "access", description = "Access decisions for consuming systems: may a professional open patient documents of a type (DMP / Mon espace santé)."),
        (name = "meta", description = "This document and no-op endpoints."),
    ),
)]
struct ApiDoc;

/// Declares the `bearer` security scheme every operation uses.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some(
            "An API token: `rpps_` followed by 64 hexadecimal digits, shown once at creation."
                .to_owned(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The routes and the document describing them, from the same list.
fn parts() -> (Router<AppState>, OpenApiDoc) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(structures::search))
        .routes(routes!(structures::read))
        .routes(routes!(structures::set_legal_representative))
        .routes(routes!(structures::set_management_mode))
        .routes(routes!(habilitations::list, habilitations::grant))
        .routes(routes!(habilitations::revoke))
        .routes(routes!(elearning::record))
        .routes(routes!(registrations::register))
        .routes(routes!(registrations::search))
        .routes(routes!(registrations::read))
        .routes(routes!(registrations::list_at_structure))
        .routes(routes!(
            registrations::read_situation,
            registrations::modify
        ))
        .routes(routes!(registrations::close))
        .routes(routes!(registrations::correct_identity))
        .routes(routes!(registrations::change_contact))
        .routes(routes!(registrations::manager_departure))
        .routes(routes!(registrations::submit_self))
        .routes(routes!(registrations::list_self))
        .routes(routes!(registrations::validate_self))
        .routes(routes!(registrations::reject_self))
        .routes(routes!(me::me))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(decisions::decide))
        .routes(routes!(decisions::decide_batch))
        .routes(routes!(decisions::ping))
        .routes(routes!(decisions::ping_authenticated))
        .routes(routes!(openapi_json))
        .split_for_parts()
}

/// The OpenAPI document of the API, with paths as clients call them (`/api/v1/…`).
pub fn openapi() -> OpenApiDoc {
    let (_, mut doc) = parts();
    let paths = std::mem::take(&mut doc.paths.paths);
    doc.paths.paths = paths
        .into_iter()
        .map(|(path, item): (String, PathItem)| (format!("{PREFIX}{path}"), item))
        .collect();
    doc
}

/// The document as served, built once.
static DOCUMENT: LazyLock<Result<String, String>> =
    LazyLock::new(|| openapi().to_pretty_json().map_err(|e| e.to_string()));

/// The router of the API, to nest at [`PREFIX`]. Unknown paths and methods answer in the
/// API's error shape; no response is cached (they carry personal data or secrets).
pub fn router() -> Router<AppState> {
    let (routes, _) = parts();
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}

/// This OpenAPI document (no token needed).
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    operation_id = "openapi",
    security(()),
    responses((status = 200, description = "The OpenAPI document of this API.", content_type = "application/json")),
)]
async fn openapi_json() -> Response {
    match DOCUMENT.as_ref() {
        Ok(json) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            json.clone(),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "the OpenAPI document cannot be serialised");
            ApiError::internal().into_response()
        }
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Cette méthode HTTP n'est pas acceptée à cette adresse.",
    )
}

#[cfg(test)]
mod tests;
