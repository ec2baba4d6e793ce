//! Structures: public FINESS data (search, read), the legal representative (operator) and the
//! management mode (legal representative).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rppsplus_domain::Finess;
use rppsplus_store::{ManagementMode, RepresentativeCard, Structure, StructureKind};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiQuery, Caller, Fields, Segment, Text};
use crate::AppState;

/// `EJ` (entité juridique) or `EG` (établissement).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum StructureKindBody {
    /// Entité juridique.
    #[serde(rename = "EJ")]
    Ej,
    /// Entité géographique (établissement).
    #[serde(rename = "EG")]
    Eg,
}

impl From<StructureKind> for StructureKindBody {
    fn from(k: StructureKind) -> Self {
        match k {
            StructureKind::Ej => StructureKindBody::Ej,
            StructureKind::Eg => StructureKindBody::Eg,
        }
    }
}

/// How a legal entity manages its professionals' habilitations.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ManagementModeBody {
    /// Habilitations are granted on the legal entity and cover all its establishments.
    Centralised,
    /// Habilitations are granted on one establishment.
    PerSite,
}

impl From<ManagementMode> for ManagementModeBody {
    fn from(m: ManagementMode) -> Self {
        match m {
            ManagementMode::Centralised => ManagementModeBody::Centralised,
            ManagementMode::PerSite => ManagementModeBody::PerSite,
        }
    }
}

/// A structure's public FINESS data.
#[derive(Debug, Serialize, ToSchema)]
pub struct StructureBody {
    /// FINESS number.
    #[schema(example = "690001029")]
    pub finess: String,
    /// EJ or EG.
    pub kind: StructureKindBody,
    /// Raison sociale.
    pub name: String,
    /// For an establishment, the FINESS number of its legal entity.
    pub legal_entity_finess: Option<String>,
    /// SIRET, when known.
    pub siret: Option<String>,
    /// FINESS category code, for an establishment.
    pub category_code: Option<String>,
    /// `ESMS`, `officine`, `etablissement_sanitaire` or `other`, for an establishment.
    pub setting: Option<String>,
    /// Address line.
    pub address: Option<String>,
    /// Postcode.
    pub postcode: Option<String>,
    /// COG code of the commune.
    pub commune_code: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Whether the structure is open.
    pub open: bool,
    /// Date of closure.
    pub closed_on: Option<jiff::civil::Date>,
    /// For a legal entity, how it manages habilitations.
    pub management_mode: Option<ManagementModeBody>,
}

impl From<&Structure> for StructureBody {
    fn from(s: &Structure) -> Self {
        let r = &s.record;
        StructureBody {
            finess: r.finess.to_string(),
            kind: r.kind.into(),
            name: r.name.clone(),
            legal_entity_finess: r.ej_finess.as_ref().map(ToString::to_string),
            siret: r.siret.as_ref().map(ToString::to_string),
            category_code: r.category_code.clone(),
            setting: r.setting.clone(),
            address: r.address.clone(),
            postcode: r.postcode.clone(),
            commune_code: r.commune_code.clone(),
            city: r.city.clone(),
            open: r.open,
            closed_on: r.closed_on,
            management_mode: (r.kind == StructureKind::Ej).then(|| s.management_mode.into()),
        }
    }
}

/// A short reference to a structure.
#[derive(Debug, Serialize, ToSchema)]
pub struct StructureRef {
    /// FINESS number.
    #[schema(example = "690001011")]
    pub finess: String,
    /// EJ or EG.
    pub kind: StructureKindBody,
    /// Raison sociale.
    pub name: String,
}

impl From<&Structure> for StructureRef {
    fn from(s: &Structure) -> Self {
        StructureRef {
            finess: s.record.finess.to_string(),
            kind: s.record.kind.into(),
            name: s.record.name.clone(),
        }
    }
}

/// Structures found.
#[derive(Debug, Serialize, ToSchema)]
pub struct StructureList {
    /// In FINESS order, at most `limit`.
    pub structures: Vec<StructureBody>,
}

/// A structure with its legal entity and related establishments.
#[derive(Debug, Serialize, ToSchema)]
pub struct StructureDetail {
    /// The structure.
    pub structure: StructureBody,
    /// For an establishment, its legal entity.
    pub legal_entity: Option<StructureBody>,
    /// For a legal entity, its establishments; for an establishment, the other establishments
    /// of its legal entity.
    pub related_establishments: Vec<StructureBody>,
}

/// The search.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The start of a FINESS number, or words of the name (case and accents ignored); 2
    /// characters at least.
    #[param(example = "tilleuls")]
    q: Option<String>,
    /// Most results returned, 1 to 100 (50 when absent).
    limit: Option<String>,
}

/// Results when `limit` is absent.
const DEFAULT_LIMIT: usize = 50;
/// Most results in one answer.
const MAX_LIMIT: usize = 100;

/// Search structures by FINESS number or name.
#[utoipa::path(
    get,
    path = "/structures",
    tag = "structures",
    operation_id = "search_structures",
    params(SearchParams),
    responses(
        (status = 200, description = "Structures found (public FINESS data).", body = StructureList),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 422, description = "`q` too short or `limit` out of range.", body = ErrorBody),
    ),
)]
pub async fn search(
    State(state): State<AppState>,
    _caller: Caller,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<StructureList>, ApiError> {
    let limit = match params.limit.as_deref().map(str::parse::<usize>) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            return Err(ApiError::invalid(vec![rppsplus_app::FieldError::new(
                "limit",
                "invalid_value",
                "« limit » est un nombre entier de 1 à 100.",
            )]));
        }
    };
    let found = state
        .app
        .search_structures(params.q.as_deref().unwrap_or_default(), limit)
        .await?;
    Ok(Json(StructureList {
        structures: found.iter().map(StructureBody::from).collect(),
    }))
}

/// Read a structure's public FINESS data.
#[utoipa::path(
    get,
    path = "/structures/{finess}",
    tag = "structures",
    operation_id = "read_structure",
    params(("finess" = String, Path, description = "FINESS number of an EJ or an EG.", example = "690001029")),
    responses(
        (status = 200, description = "The structure.", body = StructureDetail),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 404, description = "No structure has this FINESS number.", body = ErrorBody),
    ),
)]
pub async fn read(
    State(state): State<AppState>,
    _caller: Caller,
    finess: Segment,
) -> Result<Json<StructureDetail>, ApiError> {
    let finess = Finess::read(&finess.0)
        .map(|r| r.finess)
        .map_err(|_| ApiError::not_found())?;
    let view = state.app.structure_view(&finess).await?;
    Ok(Json(StructureDetail {
        structure: StructureBody::from(&view.structure),
        legal_entity: view.legal_entity.as_ref().map(StructureBody::from),
        related_establishments: view.sisters.iter().map(StructureBody::from).collect(),
    }))
}

/// The legal representative to designate.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LegalRepresentativeRequest {
    /// IDNPS of the person.
    #[schema(value_type = String, required = true)]
    person: Option<Text>,
    /// The card they sign in with: `CDE` (directeur d'établissement) or `CPS`.
    #[schema(value_type = CardBody, required = true)]
    card: Option<Text>,
}

/// A legal representative's card. Documents the accepted values; the request reads them with
/// the registry's own parser.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[allow(dead_code)]
pub enum CardBody {
    /// Carte de directeur d'établissement.
    #[serde(rename = "CDE")]
    Cde,
    /// Carte de professionnel de santé.
    #[serde(rename = "CPS")]
    Cps,
}

/// Designate a structure's legal representative (the operator's act, after the paper
/// procedure; needs an operator token).
#[utoipa::path(
    put,
    path = "/structures/{finess}/legal-representative",
    tag = "structures",
    operation_id = "set_legal_representative",
    params(("finess" = String, Path, description = "FINESS number of the structure represented.")),
    request_body = LegalRepresentativeRequest,
    responses(
        (status = 204, description = "Designated; any previous legal representative is replaced."),
        (status = 400, description = "The body is not a JSON object.", body = ErrorBody),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 403, description = "Only the operator designates legal representatives.", body = ErrorBody),
        (status = 404, description = "No structure has this FINESS number.", body = ErrorBody),
        (status = 415, description = "The body is not sent as JSON.", body = ErrorBody),
        (status = 422, description = "Invalid fields (`person`, `card`); nothing stored.", body = ErrorBody),
    ),
)]
pub async fn set_legal_representative(
    State(state): State<AppState>,
    Caller(caller): Caller,
    finess: Segment,
    ApiJson(body): ApiJson<LegalRepresentativeRequest>,
) -> Result<StatusCode, ApiError> {
    let mut fields = Fields::default();
    let person = fields.required("person", body.person);
    let card = fields.choice(
        "card",
        body.card,
        RepresentativeCard::parse,
        &["CDE", "CPS"],
    );
    let card = fields.done(card)?;
    state
        .app
        .designate_legal_representative(&caller.actor, &finess.0, &person, card)
        .await
        .map_err(ApiError::structure_in_path)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The management mode to set.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ManagementModeRequest {
    /// `centralised` (habilitations on the legal entity) or `per_site` (on each establishment).
    #[schema(value_type = ManagementModeBody, required = true)]
    mode: Option<Text>,
}

/// Choose how a legal entity manages habilitations (its legal representative, or the
/// operator).
#[utoipa::path(
    put,
    path = "/structures/{finess}/management-mode",
    tag = "structures",
    operation_id = "set_management_mode",
    params(("finess" = String, Path, description = "FINESS number of the legal entity (EJ).")),
    request_body = ManagementModeRequest,
    responses(
        (status = 204, description = "Changed."),
        (status = 400, description = "The body is not a JSON object.", body = ErrorBody),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 403, description = "The caller is not the legal representative of this legal entity.", body = ErrorBody),
        (status = 404, description = "No structure has this FINESS number.", body = ErrorBody),
        (status = 415, description = "The body is not sent as JSON.", body = ErrorBody),
        (status = 422, description = "Invalid `mode`, or the structure is an establishment (`not_a_legal_entity`); nothing stored.", body = ErrorBody),
    ),
)]
pub async fn set_management_mode(
    State(state): State<AppState>,
    Caller(caller): Caller,
    finess: Segment,
    ApiJson(body): ApiJson<ManagementModeRequest>,
) -> Result<StatusCode, ApiError> {
    let mut fields = Fields::default();
    let mode = fields.choice(
        "mode",
        body.mode,
        ManagementMode::parse,
        &["centralised", "per_site"],
    );
    let mode = fields.done(mode)?;
    state
        .app
        .change_management_mode(&caller.actor, &finess.0, mode)
        .await
        .map_err(ApiError::structure_in_path)?;
    Ok(StatusCode::NO_CONTENT)
}
