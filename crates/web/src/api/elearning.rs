//! E-learning completions ("Gestionnaire RPPS+" training of the ANS), the prerequisite of the
//! manager habilitation in social and medico-social structures.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, Caller, Fields, Text};
use crate::AppState;

/// An e-learning completion.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ElearningBody {
    /// IDNPS of the person who completed it.
    #[schema(value_type = String, required = true)]
    person: Option<Text>,
    /// Date of completion, `YYYY-MM-DD` (`JJ/MM/AAAA` is accepted too); not in the future.
    #[schema(value_type = String, format = Date, required = true, example = "2025-03-14")]
    completed_on: Option<Text>,
    /// Reference of the certificate (100 characters at most).
    #[schema(value_type = String, required = true, example = "ELEARN-2025-0001")]
    certificate_ref: Option<Text>,
}

/// Record an e-learning completion: for oneself, or, as legal representative or mandataire,
/// for a future manager.
#[utoipa::path(
    post,
    path = "/elearning",
    tag = "habilitations",
    operation_id = "record_elearning",
    request_body = ElearningBody,
    responses(
        (status = 204, description = "Recorded."),
        (status = 400, description = "The body is not a JSON object.", body = ErrorBody),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 403, description = "The caller may record only their own completion.", body = ErrorBody),
        (status = 415, description = "The body is not sent as JSON.", body = ErrorBody),
        (status = 422, description = "Invalid fields: `invalid_idnps`, `unknown_person`, `invalid_date`, `in_future`, `required`…; nothing stored.", body = ErrorBody),
    ),
)]
pub async fn record(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<ElearningBody>,
) -> Result<StatusCode, ApiError> {
    let mut fields = Fields::default();
    let person = fields.required("person", body.person);
    let completed_on = fields.required("completed_on", body.completed_on);
    let certificate_ref = fields.required("certificate_ref", body.certificate_ref);
    fields.check()?;
    state
        .app
        .record_elearning_for(&caller.actor, &person, &completed_on, &certificate_ref)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
