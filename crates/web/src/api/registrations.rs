//! Registering professionals: search before create, registration, a professional's record,
//! an establishment's professionals, changing and closing situations (with `If-Match`).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rppsplus_app::AppError;
use rppsplus_app::registrations::{
    Candidate, ProfessionalView, RawExercise, RegistrationInput, RegistrationOutcome, SearchQuery,
    SituationPatch, SituationView,
};
use rppsplus_domain::{RawCivilIdentity, RawIdDocument};
use rppsplus_store::{PendingRegistrationId, Person, SituationId};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody, ErrorDetail};
use super::extract::{ApiJson, Caller, Segment, Text};
use crate::AppState;

/// A string field: a non-string value is kept as an empty string so that the use case
/// reports the field (required or invalid) with the others.
fn text(v: Option<Text>) -> Option<String> {
    match v {
        Some(Text::Str(s)) => Some(s),
        Some(Text::Other(_)) => Some(String::new()),
        None => None,
    }
}

/// Identity document.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct IdDocumentBody {
    /// `CNI`, `PASSEPORT`, `TITRE_SEJOUR`…
    #[serde(rename = "type")]
    #[schema(value_type = Option<String>)]
    kind: Option<Text>,
    /// Its number.
    #[schema(value_type = Option<String>)]
    number: Option<Text>,
    /// Printed expiry date (`YYYY-MM-DD`).
    #[schema(value_type = Option<String>, example = "2031-06-30")]
    expires_on: Option<Text>,
}

/// Step 1: état civil.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct IdentityBody {
    /// TRE_R81 civility (`M`, `MME`).
    #[schema(value_type = Option<String>, example = "MME")]
    civility: Option<Text>,
    /// TRE_R10 sex (`F`, `M`).
    #[schema(value_type = Option<String>, example = "F")]
    sex: Option<Text>,
    /// Nom de naissance.
    #[schema(value_type = Option<String>)]
    birth_name: Option<Text>,
    /// Nom d'usage.
    #[schema(value_type = Option<String>)]
    usage_name: Option<Text>,
    /// Prénoms, in civil order.
    #[schema(value_type = Option<Vec<String>>)]
    first_names: Option<Vec<Text>>,
    /// Date de naissance (`YYYY-MM-DD`).
    #[schema(value_type = Option<String>, example = "1985-04-12")]
    birth_date: Option<Text>,
    /// COG country code (`99100` for France).
    #[schema(value_type = Option<String>, example = "99100")]
    birth_country: Option<Text>,
    /// COG commune code, when born in France.
    #[schema(value_type = Option<String>, example = "69123")]
    birth_commune: Option<Text>,
    /// Identity document.
    id_document: Option<IdDocumentBody>,
}

/// Step 2: contact.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ContactBody {
    /// Personal e-mail (one person per address).
    #[schema(value_type = Option<String>)]
    email: Option<Text>,
    /// Personal mobile, French or overseas (one person per number).
    #[schema(value_type = Option<String>)]
    mobile: Option<Text>,
}

/// Step 3: exercise.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ExerciseBody {
    /// Nom d'exercice (defaults to the nom d'usage, else de naissance).
    #[schema(value_type = Option<String>)]
    exercise_last_name: Option<Text>,
    /// Prénom d'exercice (defaults to the first prénom).
    #[schema(value_type = Option<String>)]
    exercise_first_name: Option<Text>,
    /// FINESS of the establishment (EG) within the caller's scope.
    #[schema(value_type = Option<String>, example = "690001029")]
    establishment_finess: Option<Text>,
    /// Date de prise de fonction (`YYYY-MM-DD`).
    #[schema(value_type = Option<String>)]
    start_date: Option<Text>,
    /// TRE_R85 code allowed in the establishment's setting.
    #[schema(value_type = Option<String>, example = "328")]
    profession: Option<Text>,
    /// RPPS+ role, `GENR08`…`GENR12`.
    #[schema(value_type = Option<String>, example = "GENR12")]
    role: Option<Text>,
    /// TRE_R23 `S`, `L` or `B`.
    #[schema(value_type = Option<String>, example = "S")]
    practice_mode: Option<Text>,
}

/// A registration.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RegistrationBody {
    /// État civil.
    #[serde(default)]
    identity: IdentityBody,
    /// Contact.
    #[serde(default)]
    contact: ContactBody,
    /// Exercise.
    #[serde(default)]
    exercise: ExerciseBody,
    /// RPPS number of an existing person to add the situation to (found by a search).
    #[schema(value_type = Option<String>)]
    existing_rpps: Option<Text>,
    /// Create a new person although strong matches exist (needs `confirm_reason`).
    #[serde(default)]
    confirm_new_person: Option<bool>,
    /// Why a new person is created despite strong matches (audited).
    #[schema(value_type = Option<String>)]
    confirm_reason: Option<Text>,
}

impl RegistrationBody {
    fn into_input(self) -> RegistrationInput {
        let i = self.identity;
        let d = i.id_document.unwrap_or_default();
        let e = self.exercise;
        RegistrationInput {
            identity: RawCivilIdentity {
                civility: text(i.civility),
                sex: text(i.sex),
                birth_name: text(i.birth_name),
                usage_name: text(i.usage_name),
                first_names: i
                    .first_names
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| text(Some(t)).unwrap_or_default())
                    .collect(),
                birth_date: text(i.birth_date),
                birth_country: text(i.birth_country),
                birth_commune: text(i.birth_commune),
                id_document: RawIdDocument {
                    kind: text(d.kind),
                    number: text(d.number),
                    expiry_date: text(d.expires_on),
                },
            },
            email: text(self.contact.email),
            mobile: text(self.contact.mobile),
            exercise: RawExercise {
                exercise_last_name: text(e.exercise_last_name),
                exercise_first_name: text(e.exercise_first_name),
                establishment_finess: text(e.establishment_finess),
                start_date: text(e.start_date),
                profession: text(e.profession),
                role: text(e.role),
                practice_mode: text(e.practice_mode),
            },
            existing_rpps: text(self.existing_rpps),
            confirm_new_person: self.confirm_new_person.unwrap_or(false),
            confirm_reason: text(self.confirm_reason),
        }
    }
}

/// A registration done.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisteredBody {
    /// The person's RPPS number (new, or theirs when reused).
    #[schema(example = "10500000016")]
    pub rpps: String,
    /// Their IDNPS (`8` + RPPS).
    pub idnps: String,
    /// Internal id of the person.
    pub person_id: i64,
    /// Internal id of the new situation.
    pub situation_id: i64,
    /// Whether a new person was created (else an existing one was reused).
    pub person_created: bool,
}

/// A person found, full when in the caller's scope, masked otherwise: initial of the first
/// name, first letter of the name followed by one `•` per further letter, year of birth,
/// first two and last two digits of the RPPS number.
#[derive(Debug, Serialize, ToSchema)]
pub struct CandidateBody {
    /// Whether masked (the person is outside the caller's scope).
    pub masked: bool,
    /// RPPS number, or `10•••••••42` when masked.
    pub rpps: String,
    /// Nom, or `D•••••` when masked.
    pub last_name: String,
    /// Prénoms, or the initial of the first (`J.`) when masked.
    pub first_names: Vec<String>,
    /// Date de naissance (not when masked).
    pub birth_date: Option<jiff::civil::Date>,
    /// Year of birth.
    pub birth_year: i16,
}

impl From<Candidate> for CandidateBody {
    fn from(c: Candidate) -> Self {
        CandidateBody {
            masked: c.masked,
            rpps: c.rpps,
            last_name: c.last_name,
            first_names: c.first_names,
            birth_date: c.birth_date,
            birth_year: c.birth_year,
        }
    }
}

/// `409 strong_match`: persons very close to the identity sent are registered.
#[derive(Debug, Serialize, ToSchema)]
pub struct StrongMatchBody {
    /// `code` = `strong_match`.
    pub error: ErrorDetail,
    /// The persons found (masked outside the caller's scope).
    pub candidates: Vec<CandidateBody>,
}

/// Register a professional at an establishment within the caller's scope: a new person with a
/// new RPPS number, or an existing person (`existing_rpps`) who gets a new situation.
#[utoipa::path(
    post,
    path = "/registrations",
    tag = "professionals",
    operation_id = "register",
    request_body = RegistrationBody,
    responses(
        (status = 201, description = "Registered in one transaction (person, situation, RPPS number, audit, mails, change feed).", body = RegisteredBody),
        (status = 400, description = "The body is not a JSON object of this shape.", body = ErrorBody),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 403, description = "The establishment is outside the caller's scope.", body = ErrorBody),
        (status = 409, description = "`strong_match`: persons very close to this identity exist; nothing stored. Send `existing_rpps`, or `confirm_new_person` with `confirm_reason`.", body = StrongMatchBody),
        (status = 415, description = "The body is not sent as JSON.", body = ErrorBody),
        (status = 422, description = "Every invalid field (`identity.birth_name`, `contact.email`, `exercise.profession`…), each with its code and French message; nothing stored.", body = ErrorBody),
    ),
)]
pub async fn register(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<RegistrationBody>,
) -> Result<Response, ApiError> {
    let outcome = state.app.register(&caller.actor, body.into_input()).await?;
    Ok(outcome_response(outcome))
}

/// `201` with the registration, or `409 strong_match` with the candidates.
fn outcome_response(outcome: RegistrationOutcome) -> Response {
    match outcome {
        RegistrationOutcome::Registered(r) => (
            StatusCode::CREATED,
            Json(RegisteredBody {
                idnps: r.rpps.idnps().to_string(),
                rpps: r.rpps.to_string(),
                person_id: r.person_id.0,
                situation_id: r.situation_id.0,
                person_created: r.person_created,
            }),
        )
            .into_response(),
        RegistrationOutcome::StrongMatch(candidates) => (
            StatusCode::CONFLICT,
            Json(StrongMatchBody {
                error: ErrorDetail {
                    code: "strong_match".into(),
                    message: "Des professionnels très proches de cette identité sont déjà enregistrés : s'il s'agit de la même personne, indiquez son numéro RPPS (existing_rpps) ; sinon confirmez la création d'une nouvelle personne en donnant la raison. Rien n'a été enregistré.".to_owned(),
                    fields: Vec::new(),
                },
                candidates: candidates.into_iter().map(CandidateBody::from).collect(),
            }),
        )
            .into_response(),
    }
}

/// A search before create.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SearchBody {
    /// By RPPS number (the other fields are then ignored).
    #[schema(value_type = Option<String>)]
    rpps: Option<Text>,
    /// Nom de naissance or nom d'usage (accents, case, hyphens, apostrophes and one typo
    /// tolerated).
    #[schema(value_type = Option<String>)]
    name: Option<Text>,
    /// A prénom (any of the person's, one typo tolerated).
    #[schema(value_type = Option<String>)]
    first_name: Option<Text>,
    /// Date de naissance (`YYYY-MM-DD`).
    #[schema(value_type = Option<String>)]
    birth_date: Option<Text>,
}

/// Persons found.
#[derive(Debug, Serialize, ToSchema)]
pub struct CandidateList {
    /// Masked outside the caller's scope.
    pub candidates: Vec<CandidateBody>,
}

/// Search registered persons before creating one (body rather than query string: it holds
/// personal data).
#[utoipa::path(
    post,
    path = "/professionals/search",
    tag = "professionals",
    operation_id = "search_professionals",
    request_body = SearchBody,
    responses(
        (status = 200, description = "Persons found; masked outside the caller's scope.", body = CandidateList),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 403, description = "The caller manages no structure.", body = ErrorBody),
        (status = 422, description = "Invalid `rpps`, or missing `name`, `first_name` or `birth_date`.", body = ErrorBody),
    ),
)]
pub async fn search(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<SearchBody>,
) -> Result<Json<CandidateList>, ApiError> {
    let q = SearchQuery {
        rpps: text(body.rpps),
        name: text(body.name),
        first_name: text(body.first_name),
        birth_date: text(body.birth_date),
    };
    let found = state.app.search_professionals(&caller.actor, &q).await?;
    Ok(Json(CandidateList {
        candidates: found.into_iter().map(CandidateBody::from).collect(),
    }))
}

/// A situation d'exercice.
#[derive(Debug, Serialize, ToSchema)]
pub struct SituationBody {
    /// Id.
    pub id: i64,
    /// Version, for `If-Match`.
    pub version: i64,
    /// FINESS of the establishment.
    pub establishment_finess: String,
    /// Name of the establishment.
    pub establishment_name: String,
    /// TRE_R85 code.
    pub profession: String,
    /// RPPS+ role.
    pub role: String,
    /// TRE_R23 practice mode.
    pub practice_mode: String,
    /// Nom d'exercice.
    pub exercise_last_name: String,
    /// Prénom d'exercice.
    pub exercise_first_name: String,
    /// Date de prise de fonction.
    pub start_date: jiff::civil::Date,
    /// Last day of activity.
    pub end_date: Option<jiff::civil::Date>,
    /// Why it ended.
    pub end_reason: Option<String>,
    /// The instant it was closed at once (an end date of the day of the closing or earlier):
    /// access ended then, not at the end of that day. Absent for a situation that ends on its
    /// end date, or that was reopened.
    pub closed_at: Option<jiff::Timestamp>,
    /// Active now: start date ≤ today (Europe/Paris) ≤ end date, and not closed at once.
    pub active: bool,
    /// `active`, `upcoming`, `scheduled_closure` (end date in the future) or `closed`.
    pub status: String,
}

impl From<&SituationView> for SituationBody {
    fn from(v: &SituationView) -> Self {
        let s = &v.situation;
        SituationBody {
            id: s.id.0,
            version: s.version,
            establishment_finess: v.structure_finess.to_string(),
            establishment_name: v.structure_name.clone(),
            profession: s.exercise.profession_code.clone(),
            role: s.record.role_code.clone(),
            practice_mode: s.record.practice_mode.clone(),
            exercise_last_name: s.exercise.exercise_last_name.clone(),
            exercise_first_name: s.exercise.exercise_first_name.clone(),
            start_date: s.record.start_date,
            end_date: s.record.end_date,
            end_reason: s.end_reason.clone(),
            closed_at: s.closed_at,
            active: v.active,
            status: v.status.to_owned(),
        }
    }
}

/// A professional, with the situations the caller may see.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfessionalBody {
    /// RPPS number.
    pub rpps: String,
    /// IDNPS.
    pub idnps: String,
    /// Person version (civil identity and contact).
    pub version: i64,
    /// Nom de naissance.
    pub birth_name: String,
    /// Nom d'usage.
    pub usage_name: Option<String>,
    /// Prénoms.
    pub first_names: Vec<String>,
    /// Date de naissance.
    pub birth_date: jiff::civil::Date,
    /// Personal e-mail.
    pub email: Option<String>,
    /// Personal mobile.
    pub mobile: Option<String>,
    /// Whether any situation is active now (a person without one stays, inactive).
    pub active: bool,
    /// Situations at establishments within the caller's scope.
    pub situations: Vec<SituationBody>,
}

fn professional_body(person: &Person, situations: &[SituationView]) -> ProfessionalBody {
    let r = &person.record;
    ProfessionalBody {
        rpps: r.rpps.as_ref().map(ToString::to_string).unwrap_or_default(),
        idnps: r.idnps.to_string(),
        version: person.version,
        birth_name: r.birth_name.clone(),
        usage_name: r.usage_name.clone(),
        first_names: r.first_names.clone(),
        birth_date: r.birth_date,
        email: r.email.clone(),
        mobile: r.mobile.clone(),
        active: situations.iter().any(|s| s.active),
        situations: situations.iter().map(SituationBody::from).collect(),
    }
}

/// Read a professional: identity, contact and the situations at establishments the caller
/// manages.
#[utoipa::path(
    get,
    path = "/professionals/{rpps}",
    tag = "professionals",
    operation_id = "read_professional",
    params(("rpps" = String, Path, description = "RPPS number.")),
    responses(
        (status = 200, description = "The professional; `ETag` holds the person's version (for identity and contact changes).", body = ProfessionalBody,
            headers(("ETag" = String, description = "The person's version, e.g. `\"1\"`."))),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 404, description = "No such professional within the caller's scope.", body = ErrorBody),
    ),
)]
pub async fn read(
    State(state): State<AppState>,
    Caller(caller): Caller,
    rpps: Segment,
) -> Result<Response, ApiError> {
    let ProfessionalView { person, situations } =
        state.app.professional(&caller.actor, &rpps.0).await?;
    Ok(etag(
        Json(professional_body(&person, &situations)).into_response(),
        person.version,
    ))
}

/// One professional's situation at a structure.
#[derive(Debug, Serialize, ToSchema)]
pub struct StructureProfessionalBody {
    /// RPPS number.
    pub rpps: String,
    /// Nom (d'usage, else de naissance).
    pub last_name: String,
    /// Prénoms.
    pub first_names: Vec<String>,
    /// The situation.
    pub situation: SituationBody,
}

/// The professionals of a structure.
#[derive(Debug, Serialize, ToSchema)]
pub struct StructureProfessionals {
    /// Every situation (active, scheduled to close, closed), oldest first.
    pub professionals: Vec<StructureProfessionalBody>,
}

/// List the professionals of an establishment, or of every establishment of a legal entity.
#[utoipa::path(
    get,
    path = "/structures/{finess}/professionals",
    tag = "professionals",
    operation_id = "list_structure_professionals",
    params(("finess" = String, Path, description = "FINESS number of an EJ or an EG.")),
    responses(
        (status = 200, description = "Its professionals.", body = StructureProfessionals),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 403, description = "The caller may not manage this structure's professionals.", body = ErrorBody),
        (status = 404, description = "No structure has this FINESS number.", body = ErrorBody),
    ),
)]
pub async fn list_at_structure(
    State(state): State<AppState>,
    Caller(caller): Caller,
    finess: Segment,
) -> Result<Json<StructureProfessionals>, ApiError> {
    let rows = state
        .app
        .structure_professionals(&caller.actor, &finess.0)
        .await?;
    Ok(Json(StructureProfessionals {
        professionals: rows
            .iter()
            .map(|(p, s)| StructureProfessionalBody {
                rpps: p
                    .record
                    .rpps
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                last_name: p
                    .record
                    .usage_name
                    .clone()
                    .unwrap_or_else(|| p.record.birth_name.clone()),
                first_names: p.record.first_names.clone(),
                situation: SituationBody::from(s),
            })
            .collect(),
    }))
}

/// A response with a version as `ETag`.
fn etag(mut response: Response, version: i64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

/// A situation with its version as `ETag`.
fn with_etag(view: &SituationView) -> Response {
    etag(
        Json(SituationBody::from(view)).into_response(),
        view.situation.version,
    )
}

/// Read a situation (its version in `ETag`).
#[utoipa::path(
    get,
    path = "/situations/{id}",
    tag = "professionals",
    operation_id = "read_situation",
    params(("id" = i64, Path, description = "Id of the situation.")),
    responses(
        (status = 200, description = "The situation; `ETag` holds its version.", body = SituationBody,
            headers(("ETag" = String, description = "The version, e.g. `\"3\"`."))),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 404, description = "No such situation within the caller's scope.", body = ErrorBody),
    ),
)]
pub async fn read_situation(
    State(state): State<AppState>,
    Caller(caller): Caller,
    id: Segment,
) -> Result<Response, ApiError> {
    let view = state
        .app
        .situation_view(&caller.actor, SituationId(id.id()?))
        .await?;
    Ok(with_etag(&view))
}

/// The version an `If-Match` header names: `"3"`, `W/"3"` or `3`.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let raw = value.to_str().unwrap_or_default().trim();
    let raw = raw.strip_prefix("W/").unwrap_or(raw).trim_matches('"');
    raw.parse::<i64>().map(Some).map_err(|_| {
        ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "stale_version",
            "L'en-tête If-Match doit porter la version lue (ETag), par exemple \"3\".",
        )
    })
}

/// A version conflict is `412 Precondition Failed`.
fn versioned(e: AppError) -> ApiError {
    match e {
        AppError::Conflict {
            code: "stale_version",
            message,
        } => ApiError::new(StatusCode::PRECONDITION_FAILED, "stale_version", message),
        other => ApiError::from(other),
    }
}

/// A field that may be absent (`None`), `null` (`Some(None)`) or set.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Text>>, D::Error> {
    Option::<Text>::deserialize(d).map(Some)
}

/// A change to a situation; absent fields keep their value.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SituationPatchBody {
    /// Nom d'exercice.
    #[schema(value_type = Option<String>)]
    exercise_last_name: Option<Text>,
    /// Prénom d'exercice.
    #[schema(value_type = Option<String>)]
    exercise_first_name: Option<Text>,
    /// FINESS of another establishment within the caller's scope.
    #[schema(value_type = Option<String>)]
    establishment_finess: Option<Text>,
    /// Date de prise de fonction.
    #[schema(value_type = Option<String>)]
    start_date: Option<Text>,
    /// Last day of activity; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    end_date: Option<Option<Text>>,
    /// TRE_R85 code.
    #[schema(value_type = Option<String>)]
    profession: Option<Text>,
    /// RPPS+ role.
    #[schema(value_type = Option<String>)]
    role: Option<Text>,
    /// S, L or B.
    #[schema(value_type = Option<String>)]
    practice_mode: Option<Text>,
}

/// Change a situation. `If-Match` must carry the version it was based on (its `ETag`); an
/// outdated version gets `412` and changes nothing.
#[utoipa::path(
    patch,
    path = "/situations/{id}",
    tag = "professionals",
    operation_id = "modify_situation",
    params(
        ("id" = i64, Path, description = "Id of the situation."),
        ("If-Match" = String, Header, description = "The version read, e.g. `\"3\"`."),
    ),
    request_body = SituationPatchBody,
    responses(
        (status = 200, description = "Changed; `ETag` holds the new version.", body = SituationBody),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 403, description = "The new establishment is outside the caller's scope.", body = ErrorBody),
        (status = 404, description = "No such situation within the caller's scope.", body = ErrorBody),
        (status = 412, description = "`stale_version`: changed since that version; nothing changed.", body = ErrorBody),
        (status = 428, description = "`precondition_required`: no `If-Match`.", body = ErrorBody),
        (status = 422, description = "Invalid fields; nothing changed.", body = ErrorBody),
    ),
)]
pub async fn modify(
    State(state): State<AppState>,
    Caller(caller): Caller,
    id: Segment,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SituationPatchBody>,
) -> Result<Response, ApiError> {
    let id = SituationId(id.id()?);
    let version = required_version(&headers)?;
    let patch = SituationPatch {
        exercise_last_name: text(body.exercise_last_name),
        exercise_first_name: text(body.exercise_first_name),
        establishment_finess: text(body.establishment_finess),
        start_date: text(body.start_date),
        end_date: body.end_date.map(text),
        profession: text(body.profession),
        role: text(body.role),
        practice_mode: text(body.practice_mode),
    };
    let view = state
        .app
        .modify_situation(&caller.actor, id, version, patch)
        .await
        .map_err(versioned)?;
    Ok(with_etag(&view))
}

/// Closing a situation.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CloseBody {
    /// Last day of activity (`YYYY-MM-DD`): today or past closes at once, a future date
    /// schedules the departure (it takes effect when that day ends, Europe/Paris).
    #[schema(value_type = String)]
    end_date: Option<Text>,
    /// Why.
    #[schema(value_type = String)]
    reason: Option<Text>,
}

/// Close a situation (optionally `If-Match` with its version).
#[utoipa::path(
    post,
    path = "/situations/{id}/close",
    tag = "professionals",
    operation_id = "close_situation",
    params(("id" = i64, Path, description = "Id of the situation.")),
    request_body = CloseBody,
    responses(
        (status = 200, description = "Closed (`status` = `closed`) or scheduled (`scheduled_closure`).", body = SituationBody),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 404, description = "No such situation within the caller's scope.", body = ErrorBody),
        (status = 409, description = "`already_closed`.", body = ErrorBody),
        (status = 412, description = "`stale_version` (with `If-Match`).", body = ErrorBody),
        (status = 422, description = "Missing or invalid `end_date` or `reason`.", body = ErrorBody),
    ),
)]
pub async fn close(
    State(state): State<AppState>,
    Caller(caller): Caller,
    id: Segment,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CloseBody>,
) -> Result<Response, ApiError> {
    let id = SituationId(id.id()?);
    let version = if_match(&headers)?;
    let end = text(body.end_date);
    let reason = text(body.reason);
    let view = state
        .app
        .close_situation_with_reason(
            &caller.actor,
            id,
            version,
            end.as_deref(),
            reason.as_deref(),
        )
        .await
        .map_err(versioned)?;
    Ok(with_etag(&view))
}

/// `If-Match` is required on changes: `428` without it.
fn required_version(headers: &HeaderMap) -> Result<i64, ApiError> {
    if_match(headers)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition_required",
            "Indiquez dans l'en-tête If-Match la version sur laquelle porte la modification (son ETag).",
        )
    })
}

/// A person's new version.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionBody {
    /// The new version (also in `ETag`).
    pub version: i64,
}

/// A civil identity correction.
#[derive(Debug, Deserialize, ToSchema)]
pub struct IdentityCorrectionBody {
    /// The whole corrected identity.
    #[serde(default)]
    identity: IdentityBody,
    /// Why (audited).
    #[schema(value_type = String)]
    reason: Option<Text>,
}

/// Correct a professional's civil identity (with a reason, audited). `If-Match` carries the
/// person's version (the `ETag` of `GET /professionals/{rpps}`).
#[utoipa::path(
    put,
    path = "/professionals/{rpps}/identity",
    tag = "professionals",
    operation_id = "correct_identity",
    params(
        ("rpps" = String, Path, description = "RPPS number."),
        ("If-Match" = String, Header, description = "The person's version read, e.g. `\"1\"`."),
    ),
    request_body = IdentityCorrectionBody,
    responses(
        (status = 200, description = "Corrected.", body = VersionBody),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 404, description = "No such professional within the caller's scope.", body = ErrorBody),
        (status = 412, description = "`stale_version`; nothing changed.", body = ErrorBody),
        (status = 422, description = "Invalid fields (`identity.*`, `reason`); nothing changed.", body = ErrorBody),
        (status = 428, description = "`precondition_required`: no `If-Match`.", body = ErrorBody),
    ),
)]
pub async fn correct_identity(
    State(state): State<AppState>,
    Caller(caller): Caller,
    rpps: Segment,
    headers: HeaderMap,
    ApiJson(body): ApiJson<IdentityCorrectionBody>,
) -> Result<Response, ApiError> {
    let version = required_version(&headers)?;
    let raw = RegistrationBody {
        identity: body.identity,
        ..RegistrationBody::default()
    }
    .into_input()
    .identity;
    let reason = text(body.reason);
    let version = state
        .app
        .correct_identity(&caller.actor, &rpps.0, version, &raw, reason.as_deref())
        .await
        .map_err(versioned)?;
    Ok(etag(Json(VersionBody { version }).into_response(), version))
}

/// Change a professional's e-mail and mobile (`If-Match`: the person's version). Absent or
/// `null` removes the value.
#[utoipa::path(
    put,
    path = "/professionals/{rpps}/contact",
    tag = "professionals",
    operation_id = "change_contact",
    params(
        ("rpps" = String, Path, description = "RPPS number."),
        ("If-Match" = String, Header, description = "The person's version read, e.g. `\"1\"`."),
    ),
    request_body = ContactBody,
    responses(
        (status = 200, description = "Changed.", body = VersionBody),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 404, description = "No such professional within the caller's scope.", body = ErrorBody),
        (status = 412, description = "`stale_version`; nothing changed.", body = ErrorBody),
        (status = 422, description = "`contact.email`, `contact.mobile` invalid or used by someone else; nothing changed.", body = ErrorBody),
        (status = 428, description = "`precondition_required`: no `If-Match`.", body = ErrorBody),
    ),
)]
pub async fn change_contact(
    State(state): State<AppState>,
    Caller(caller): Caller,
    rpps: Segment,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ContactBody>,
) -> Result<Response, ApiError> {
    let version = required_version(&headers)?;
    let email = text(body.email);
    let mobile = text(body.mobile);
    let version = state
        .app
        .change_contact(
            &caller.actor,
            &rpps.0,
            version,
            email.as_deref(),
            mobile.as_deref(),
        )
        .await
        .map_err(versioned)?;
    Ok(etag(Json(VersionBody { version }).into_response(), version))
}

/// A manager's departure.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepartureBody {
    /// The situation, closed or scheduled to close.
    pub situation: SituationBody,
    /// How many Gestionnaire RPPS+ habilitations were revoked.
    pub revoked_habilitations: usize,
}

/// A manager's own departure, by the legal representative (or a mandataire): closes the
/// manager's situation and revokes their habilitations covering its establishment, at once.
#[utoipa::path(
    post,
    path = "/situations/{id}/manager-departure",
    tag = "professionals",
    operation_id = "manager_departure",
    params(("id" = i64, Path, description = "Id of the manager's situation.")),
    request_body = CloseBody,
    responses(
        (status = 200, description = "Closed and habilitations revoked, in one transaction.", body = DepartureBody),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 404, description = "No such situation where the caller manages habilitations.", body = ErrorBody),
        (status = 409, description = "`not_a_manager` or `already_closed`; nothing changed.", body = ErrorBody),
        (status = 422, description = "Missing or invalid `end_date` or `reason`; nothing changed.", body = ErrorBody),
    ),
)]
pub async fn manager_departure(
    State(state): State<AppState>,
    Caller(caller): Caller,
    id: Segment,
    ApiJson(body): ApiJson<CloseBody>,
) -> Result<Json<DepartureBody>, ApiError> {
    let id = SituationId(id.id()?);
    let end = text(body.end_date);
    let reason = text(body.reason);
    let (view, revoked) = state
        .app
        .close_manager_departure(&caller.actor, id, end.as_deref(), reason.as_deref())
        .await?;
    Ok(Json(DepartureBody {
        situation: SituationBody::from(&view),
        revoked_habilitations: revoked,
    }))
}

/// A self-registration, waiting.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingBody {
    /// Its id.
    pub id: i64,
    /// `pending`, `validated` or `rejected`.
    pub status: String,
}

/// Submit one's own registration, naming one's establishment (no token: the person has no
/// RPPS number yet). Checked like a manager's registration; it then waits for a manager of
/// that establishment to validate or reject it. Rate-limited per client address.
#[utoipa::path(
    post,
    path = "/self-registrations",
    tag = "professionals",
    operation_id = "submit_self_registration",
    security(()),
    request_body = RegistrationBody,
    responses(
        (status = 202, description = "Stored, pending.", body = PendingBody),
        (status = 400, description = "The body is not a JSON object of this shape.", body = ErrorBody),
        (status = 422, description = "Every invalid field; nothing stored.", body = ErrorBody),
        (status = 429, description = "Too many submissions from this client address (`too_many_requests`); nothing stored. `Retry-After` gives the seconds to wait.", body = ErrorBody,
         headers(("Retry-After" = u64, description = "Seconds before the next submission is accepted."))),
    ),
)]
pub async fn submit_self(
    State(state): State<AppState>,
    _allowed: super::rate_limit::SelfRegistrationAllowed,
    ApiJson(body): ApiJson<RegistrationBody>,
) -> Result<(StatusCode, Json<PendingBody>), ApiError> {
    let id = state
        .app
        .submit_self_registration(body.into_input())
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(PendingBody {
            id: id.0,
            status: "pending".to_owned(),
        }),
    ))
}

/// A self-registration as a manager sees it before deciding.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingDetailBody {
    /// Its id.
    pub id: i64,
    /// When submitted.
    pub submitted_at: jiff::Timestamp,
    /// Nom de naissance.
    pub birth_name: Option<String>,
    /// Nom d'usage.
    pub usage_name: Option<String>,
    /// Prénoms.
    pub first_names: Vec<String>,
    /// Date de naissance.
    pub birth_date: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Profession asked for.
    pub profession: Option<String>,
    /// Role asked for.
    pub role: Option<String>,
    /// Date de prise de fonction.
    pub start_date: Option<String>,
}

/// Self-registrations pending.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingList {
    /// Oldest first.
    pub registrations: Vec<PendingDetailBody>,
}

/// List the self-registrations waiting at an establishment (its managers).
#[utoipa::path(
    get,
    path = "/structures/{finess}/self-registrations",
    tag = "professionals",
    operation_id = "list_self_registrations",
    params(("finess" = String, Path, description = "FINESS number of the establishment.")),
    responses(
        (status = 200, description = "Pending, oldest first.", body = PendingList),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 403, description = "The caller does not manage this establishment's professionals.", body = ErrorBody),
        (status = 404, description = "No structure has this FINESS number.", body = ErrorBody),
    ),
)]
pub async fn list_self(
    State(state): State<AppState>,
    Caller(caller): Caller,
    finess: Segment,
) -> Result<Json<PendingList>, ApiError> {
    let rows = state
        .app
        .pending_self_registrations(&caller.actor, &finess.0)
        .await?;
    Ok(Json(PendingList {
        registrations: rows
            .into_iter()
            .map(|(r, i)| PendingDetailBody {
                id: r.id.0,
                submitted_at: r.record.at,
                birth_name: i.identity.birth_name,
                usage_name: i.identity.usage_name,
                first_names: i.identity.first_names,
                birth_date: i.identity.birth_date,
                email: i.email,
                profession: i.exercise.profession,
                role: i.exercise.role,
                start_date: i.exercise.start_date,
            })
            .collect(),
    }))
}

/// A manager's validation.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ValidateBody {
    /// RPPS number of the existing person this is (after a `409 strong_match`).
    #[schema(value_type = Option<String>)]
    existing_rpps: Option<Text>,
    /// Create a new person although strong matches exist.
    #[serde(default)]
    confirm_new_person: Option<bool>,
    /// Why (audited).
    #[schema(value_type = Option<String>)]
    confirm_reason: Option<Text>,
}

/// Validate a self-registration (a manager of its establishment vouches for eligibility): the
/// normal registration, same answers.
#[utoipa::path(
    post,
    path = "/self-registrations/{id}/validate",
    tag = "professionals",
    operation_id = "validate_self_registration",
    params(("id" = i64, Path, description = "Id of the self-registration.")),
    request_body = ValidateBody,
    responses(
        (status = 201, description = "Registered.", body = RegisteredBody),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 404, description = "No such self-registration at an establishment the caller manages.", body = ErrorBody),
        (status = 409, description = "`strong_match` (with candidates) or `already_decided`.", body = StrongMatchBody),
        (status = 422, description = "Invalid fields (the data may have become invalid since); nothing stored.", body = ErrorBody),
    ),
)]
pub async fn validate_self(
    State(state): State<AppState>,
    Caller(caller): Caller,
    id: Segment,
    ApiJson(body): ApiJson<ValidateBody>,
) -> Result<Response, ApiError> {
    let id = PendingRegistrationId(id.id()?);
    let outcome = state
        .app
        .validate_self_registration(
            &caller.actor,
            id,
            text(body.existing_rpps),
            body.confirm_new_person.unwrap_or(false),
            text(body.confirm_reason),
        )
        .await?;
    Ok(outcome_response(outcome))
}

/// A rejection.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RejectBody {
    /// Why.
    #[schema(value_type = String)]
    reason: Option<Text>,
}

/// Reject a self-registration, with a reason.
#[utoipa::path(
    post,
    path = "/self-registrations/{id}/reject",
    tag = "professionals",
    operation_id = "reject_self_registration",
    params(("id" = i64, Path, description = "Id of the self-registration.")),
    request_body = RejectBody,
    responses(
        (status = 200, description = "Rejected.", body = PendingBody),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 404, description = "No such self-registration at an establishment the caller manages.", body = ErrorBody),
        (status = 409, description = "`already_decided`.", body = ErrorBody),
        (status = 422, description = "`reason` missing.", body = ErrorBody),
    ),
)]
pub async fn reject_self(
    State(state): State<AppState>,
    Caller(caller): Caller,
    id: Segment,
    ApiJson(body): ApiJson<RejectBody>,
) -> Result<Json<PendingBody>, ApiError> {
    let id = PendingRegistrationId(id.id()?);
    let reason = text(body.reason);
    state
        .app
        .reject_self_registration(&caller.actor, id, reason.as_deref())
        .await?;
    Ok(Json(PendingBody {
        id: id.0,
        status: "rejected".to_owned(),
    }))
}
