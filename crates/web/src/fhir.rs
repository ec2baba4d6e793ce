//! The FHIR R4 directory API under `/fhir/v2`, read-compatible with the national Annuaire
//! Santé API v2: `metadata`, read and search (GET, or POST `_search` with a form) on
//! Practitioner, PractitionerRole and Organization. Every answer, errors included, is
//! `application/fhir+json`; errors are OperationOutcomes.
//!
//! Access control (API keys, rate limit) wraps this router from the outside.

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rppsplus_fhir::{Outcome, ResourceType};
use serde_json::Value;

use crate::AppState;

/// The path below which the router is nested.
pub(crate) const PREFIX: &str = "/fhir/v2";

/// The FHIR routes, to nest under [`PREFIX`].
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/metadata", get(metadata))
        .route("/{resource}", get(search_get))
        .route("/{resource}/_search", post(search_post))
        .route("/{resource}/{id}", get(read))
        .fallback(not_found)
}

fn fhir_json(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+json; charset=utf-8"),
    );
    r
}

fn outcome(o: &Outcome) -> Response {
    let status = StatusCode::from_u16(o.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    fhir_json(status, &o.to_json())
}

fn base(state: &AppState) -> String {
    format!(
        "{}{PREFIX}",
        state.settings.public_url.trim_end_matches('/')
    )
}

fn resource_type(name: &str) -> Result<ResourceType, Outcome> {
    ResourceType::parse(name).ok_or_else(|| Outcome::unknown_type(name))
}

async fn metadata(State(state): State<AppState>) -> Response {
    fhir_json(
        StatusCode::OK,
        &rppsplus_fhir::capability_statement(&base(&state), env!("CARGO_PKG_VERSION")),
    )
}

async fn search(state: &AppState, resource: &str, params: &[(String, String)]) -> Response {
    let run = async {
        let t = resource_type(resource)?;
        let s = rppsplus_fhir::parse_search(t, params)?;
        state.app.fhir_search(&s, &base(state)).await
    };
    match run.await {
        Ok(bundle) => fhir_json(StatusCode::OK, &bundle),
        Err(o) => outcome(&o),
    }
}

fn bad_parameters(what: &str) -> Response {
    outcome(&Outcome::invalid(format!(
        "Paramètres illisibles ({what}) : encodage application/x-www-form-urlencoded attendu"
    )))
}

async fn search_get(
    State(state): State<AppState>,
    Path(resource): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let Ok(Query(params)) = query else {
        return bad_parameters("URL");
    };
    search(&state, &resource, &params).await
}

async fn search_post(
    State(state): State<AppState>,
    Path(resource): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let Ok(Query(mut params)) = query else {
        return bad_parameters("URL");
    };
    let Ok(Form(body)) = form else {
        return bad_parameters("corps");
    };
    params.extend(body);
    search(&state, &resource, &params).await
}

async fn read(
    State(state): State<AppState>,
    Path((resource, id)): Path<(String, String)>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let run = async {
        let t = resource_type(&resource)?;
        if let Ok(Query(params)) = &query {
            // Only the format may be chosen on a read; it is checked like a search's.
            let format: Vec<(String, String)> = params
                .iter()
                .filter(|(k, _)| k == "_format")
                .cloned()
                .collect();
            rppsplus_fhir::parse_search(t, &format)?;
        }
        state.app.fhir_read(t, &id).await
    };
    match run.await {
        Ok(resource) => fhir_json(StatusCode::OK, &resource),
        Err(o) => outcome(&o),
    }
}

async fn not_found() -> Response {
    outcome(&Outcome {
        status: 404,
        code: "not-supported",
        diagnostics: "Opération inconnue : seuls metadata, la lecture et la recherche sur \
                      Practitioner, PractitionerRole et Organization sont servis"
            .to_owned(),
    })
}
