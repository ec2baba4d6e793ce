//! Gestionnaire RPPS+ and mandataire habilitations: those the caller may manage, granting and
//! revoking them (legal representatives and mandataires).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rppsplus_app::habilitations::{GrantRequest, HabilitationView};
use rppsplus_store::{HabilitationId, HabilitationKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, Caller, Fields, Segment, Text};
use super::structures::StructureRef;
use crate::AppState;

/// The right a habilitation gives.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HabilitationKindBody {
    /// Gestionnaire RPPS+: registers and manages the structure's professionals.
    Manager,
    /// Mandataire: grants habilitations in the legal representative's place.
    Mandatary,
}

impl From<HabilitationKind> for HabilitationKindBody {
    fn from(k: HabilitationKind) -> Self {
        match k {
            HabilitationKind::Manager => HabilitationKindBody::Manager,
            HabilitationKind::Mandatary => HabilitationKindBody::Mandatary,
        }
    }
}

/// The person holding a habilitation.
#[derive(Debug, Serialize, ToSchema)]
pub struct HolderBody {
    /// IDNPS.
    pub idnps: String,
    /// First name and name.
    pub name: String,
}

/// A habilitation in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct HabilitationBody {
    /// Its id (to revoke it).
    pub id: i64,
    /// Manager or mandataire.
    pub kind: HabilitationKindBody,
    /// Who holds it.
    pub person: HolderBody,
    /// The structure it is held on (an EJ when management is centralised, else an EG).
    pub scope: StructureRef,
    /// When granted.
    pub granted_at: jiff::Timestamp,
    /// The holder's latest e-learning completion.
    pub elearning_completed_on: Option<jiff::civil::Date>,
}

impl From<&HabilitationView> for HabilitationBody {
    fn from(h: &HabilitationView) -> Self {
        HabilitationBody {
            id: h.id.0,
            kind: h.kind.into(),
            person: HolderBody {
                idnps: h.person_idnps.clone(),
                name: h.person_name.clone(),
            },
            scope: StructureRef::from(&h.scope),
            granted_at: h.granted_at,
            elearning_completed_on: h.elearning_on,
        }
    }
}

/// The habilitations the caller may manage.
#[derive(Debug, Serialize, ToSchema)]
pub struct HabilitationList {
    /// On the caller's scopes (as legal representative or mandataire) and the establishments
    /// they cover.
    pub habilitations: Vec<HabilitationBody>,
}

/// List the habilitations the caller may manage (as legal representative or mandataire).
#[utoipa::path(
    get,
    path = "/habilitations",
    tag = "habilitations",
    operation_id = "list_habilitations",
    responses(
        (status = 200, description = "Habilitations in force on the caller's scopes; empty for a caller who manages none.", body = HabilitationList),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<HabilitationList>, ApiError> {
    let views = state.app.manageable_habilitations(&caller.actor).await?;
    Ok(Json(HabilitationList {
        habilitations: views.iter().map(HabilitationBody::from).collect(),
    }))
}

/// A habilitation to grant.
#[derive(Debug, Deserialize, ToSchema)]
pub struct GrantBody {
    /// IDNPS of the person to habilitate.
    #[schema(value_type = String, required = true)]
    person: Option<Text>,
    /// FINESS number of the scope: the EJ when management is centralised, an EG when per site.
    #[schema(value_type = String, required = true, example = "690001011")]
    scope: Option<Text>,
    /// `manager` (Gestionnaire RPPS+) or `mandatary` (mandataire, legal representative only).
    #[schema(value_type = HabilitationKindBody, required = true)]
    kind: Option<Text>,
}

/// A habilitation just granted.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantedBody {
    /// Its id.
    pub id: i64,
    /// IDNPS of the person, as sent.
    pub person: String,
    /// FINESS number of the scope, as sent.
    pub scope: String,
    /// The right.
    pub kind: HabilitationKindBody,
}

/// Grant a habilitation (legal representative; a mandataire grants `manager` only).
#[utoipa::path(
    post,
    path = "/habilitations",
    tag = "habilitations",
    operation_id = "grant_habilitation",
    request_body = GrantBody,
    responses(
        (status = 201, description = "Granted.", body = GrantedBody),
        (status = 400, description = "The body is not a JSON object.", body = ErrorBody),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 403, description = "The caller may not grant this on this scope.", body = ErrorBody),
        (status = 409, description = "Already granted (`already_granted`), or the person is the legal representative (`already_legal_representative`).", body = ErrorBody),
        (status = 415, description = "The body is not sent as JSON.", body = ErrorBody),
        (status = 422, description = "Invalid fields: `invalid_idnps`, `unknown_person`, `invalid_finess`, `unknown_structure`, `elearning_missing`, `centralised_management`, `per_site_management`…; nothing stored.", body = ErrorBody),
    ),
)]
pub async fn grant(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<GrantBody>,
) -> Result<(StatusCode, Json<GrantedBody>), ApiError> {
    let mut fields = Fields::default();
    let person = fields.required("person", body.person);
    let scope = fields.required("scope", body.scope);
    let kind = fields.choice(
        "kind",
        body.kind,
        HabilitationKind::parse,
        &["manager", "mandatary"],
    );
    let kind = fields.done(kind)?;
    let req = GrantRequest {
        person,
        scope,
        kind,
    };
    let id = state.app.grant(&caller.actor, &req).await?;
    Ok((
        StatusCode::CREATED,
        Json(GrantedBody {
            id: id.0,
            person: req.person,
            scope: req.scope,
            kind: kind.into(),
        }),
    ))
}

/// Revoke a habilitation: its holder loses the right at their next request.
#[utoipa::path(
    delete,
    path = "/habilitations/{id}",
    tag = "habilitations",
    operation_id = "revoke_habilitation",
    params(("id" = i64, Path, description = "Id of the habilitation.")),
    responses(
        (status = 204, description = "Revoked."),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 403, description = "The caller may not revoke it.", body = ErrorBody),
        (status = 404, description = "No habilitation in force has this id.", body = ErrorBody),
    ),
)]
pub async fn revoke(
    State(state): State<AppState>,
    Caller(caller): Caller,
    id: Segment,
) -> Result<StatusCode, ApiError> {
    let id = HabilitationId(id.id()?);
    state.app.revoke(&caller.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
