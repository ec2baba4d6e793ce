//! Who the token acts for, and the structures they act for.

use axum::Json;
use axum::extract::State;
use rppsplus_app::Actor;
use rppsplus_app::habilitations::ScopeView;
use rppsplus_domain::authz::Capacity;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::Caller;
use super::structures::StructureRef;
use crate::AppState;

/// Whom a token acts for.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenKindBody {
    /// A person, with their own habilitations.
    Person,
    /// A consuming system: no person, no habilitation.
    System,
    /// The registry operator.
    Operator,
}

/// What a person holds on a structure.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CapacityBody {
    /// Représentant légal.
    LegalRepresentative,
    /// Gestionnaire RPPS+.
    Manager,
    /// Mandataire.
    Mandatary,
}

impl From<Capacity> for CapacityBody {
    fn from(c: Capacity) -> Self {
        match c {
            Capacity::LegalRepresentative => CapacityBody::LegalRepresentative,
            Capacity::Manager => CapacityBody::Manager,
            Capacity::Mandatary => CapacityBody::Mandatary,
        }
    }
}

/// A structure the person acts for.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScopeBody {
    /// Where the capacity is held (an EJ or an EG).
    pub structure: StructureRef,
    /// What is held there.
    pub capacity: CapacityBody,
    /// The establishments covered: the EG itself, or every EG of the EJ.
    pub establishments: Vec<StructureRef>,
}

impl From<&ScopeView> for ScopeBody {
    fn from(s: &ScopeView) -> Self {
        ScopeBody {
            structure: StructureRef::from(&s.structure),
            capacity: s.capacity.into(),
            establishments: s.establishments.iter().map(StructureRef::from).collect(),
        }
    }
}

/// The caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeBody {
    /// Whom the token acts for.
    pub kind: TokenKindBody,
    /// The token's id.
    pub token_id: i64,
    /// The person's IDNPS, for a person's token.
    pub idnps: Option<String>,
    /// The system's name, for a system's token.
    pub system: Option<String>,
    /// The structures the person acts for (empty for systems and the operator).
    pub structures: Vec<ScopeBody>,
}

/// Who the token acts for, and their structures ("Mes structures").
#[utoipa::path(
    get,
    path = "/me",
    tag = "tokens",
    operation_id = "me",
    responses(
        (status = 200, description = "The caller.", body = MeBody),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
    ),
)]
pub async fn me(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<MeBody>, ApiError> {
    let structures = state.app.my_structures(&caller.actor).await?;
    let (kind, idnps, system) = match &caller.actor {
        Actor::Person { idnps, .. } => (TokenKindBody::Person, Some(idnps.to_string()), None),
        Actor::Client { name, .. } => (TokenKindBody::System, None, Some(name.clone())),
        Actor::Operator | Actor::System => (TokenKindBody::Operator, None, None),
    };
    Ok(Json(MeBody {
        kind,
        token_id: caller.token.0,
        idnps,
        system,
        structures: structures.iter().map(ScopeBody::from).collect(),
    }))
}
