//! Rows as the seam sees them: `New*` for what is written, plain names for what is read back.
//!
//! Codes from the national tables (TRE_R81 civility, TRE_R85 profession, TRE_R22 role…) are
//! kept as their code strings: they are checked by the domain before reaching storage.

use jiff::Timestamp;
use jiff::civil::Date;
use rppsplus_domain::{Adeli, Finess, Idnps, Rpps, Siret};
use serde::{Deserialize, Serialize};

macro_rules! row_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

row_id!(
    /// Internal id of a person.
    PersonId
);
row_id!(
    /// Internal id of a structure.
    StructureId
);
row_id!(
    /// Internal id of a professional exercise.
    ExerciseId
);
row_id!(
    /// Internal id of a situation d'exercice.
    SituationId
);
row_id!(
    /// Internal id of a habilitation.
    HabilitationId
);
row_id!(
    /// Internal id of an API token.
    ApiTokenId
);
row_id!(
    /// Internal id of a self-registration.
    PendingRegistrationId
);

/// Whether a structure is a legal entity or one of its establishments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StructureKind {
    /// Entité juridique.
    Ej,
    /// Entité géographique (établissement).
    Eg,
}

impl StructureKind {
    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            StructureKind::Ej => "EJ",
            StructureKind::Eg => "EG",
        }
    }

    /// Reads the stored code.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "EJ" => Some(StructureKind::Ej),
            "EG" => Some(StructureKind::Eg),
            _ => None,
        }
    }
}

/// How a legal entity manages its professionals: one scope for the whole EJ, or one per site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManagementMode {
    /// Habilitations granted on the EJ cover all its establishments.
    Centralised,
    /// Habilitations are granted on one establishment.
    PerSite,
}

impl ManagementMode {
    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            ManagementMode::Centralised => "centralised",
            ManagementMode::PerSite => "per_site",
        }
    }

    /// Reads the stored code.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "centralised" => Some(ManagementMode::Centralised),
            "per_site" => Some(ManagementMode::PerSite),
            _ => None,
        }
    }
}

/// A structure as written (by import, by the operator, by the demo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructureRecord {
    /// FINESS number (EJ or EG).
    pub finess: Finess,
    /// EJ or EG.
    pub kind: StructureKind,
    /// For an EG, the FINESS number of its legal entity.
    pub ej_finess: Option<Finess>,
    /// Raison sociale.
    pub name: String,
    /// SIRET, when known.
    pub siret: Option<Siret>,
    /// FINESS category code (3 digits), for an EG.
    pub category_code: Option<String>,
    /// Setting derived from the category: `ESMS`, `officine`, `etablissement_sanitaire`, `other`.
    pub setting: Option<String>,
    /// Address line.
    pub address: Option<String>,
    /// Postcode.
    pub postcode: Option<String>,
    /// COG code of the commune.
    pub commune_code: Option<String>,
    /// City as written on the address.
    pub city: Option<String>,
    /// Whether the structure is open.
    pub open: bool,
    /// Date of closure, when closed.
    pub closed_on: Option<Date>,
    /// When this version was written.
    pub at: Timestamp,
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    /// A new row.
    Inserted(StructureId),
    /// An existing row whose data changed.
    Updated(StructureId),
    /// An existing row with the same data: nothing written.
    Unchanged(StructureId),
}

impl Upsert {
    /// The id of the row, whatever happened.
    pub fn id(self) -> StructureId {
        match self {
            Upsert::Inserted(id) | Upsert::Updated(id) | Upsert::Unchanged(id) => id,
        }
    }
}

/// A structure as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Structure {
    /// Internal id.
    pub id: StructureId,
    /// The written data.
    pub record: StructureRecord,
    /// Management mode, for an EJ.
    pub management_mode: ManagementMode,
    /// When first written.
    pub created_at: Timestamp,
    /// When last changed.
    pub updated_at: Timestamp,
}

/// A person's identity document (pièce d'identité).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdDocumentRecord {
    /// `CNI`, `PASSEPORT` or `TITRE_SEJOUR`.
    pub kind: String,
    /// Number as written on the document.
    pub number: String,
    /// Expiry date.
    pub expires_on: Date,
}

/// A person as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPerson {
    /// RPPS number, for persons registered here (always) or imported from RPPS.
    pub rpps: Option<Rpps>,
    /// ADELI number, for persons imported from ADELI.
    pub adeli: Option<Adeli>,
    /// National identifier: `8` + RPPS, else `0` + ADELI.
    pub idnps: Idnps,
    /// TRE_R81 civility code (`M`, `MME`).
    pub civility: String,
    /// TRE_R10 sex code (`M`, `F`).
    pub sex: String,
    /// Nom de naissance, as typed.
    pub birth_name: String,
    /// Nom d'usage, as typed.
    pub usage_name: Option<String>,
    /// Prénoms in civil order; the first is the premier prénom.
    pub first_names: Vec<String>,
    /// Date de naissance.
    pub birth_date: Date,
    /// COG country code (`99100` for France).
    pub birth_country: String,
    /// COG commune code, when born in France.
    pub birth_commune: Option<String>,
    /// Identity document.
    pub id_document: Option<IdDocumentRecord>,
    /// Personal e-mail, unique to one person.
    pub email: Option<String>,
    /// Personal mobile number (E.164), unique to one person.
    pub mobile: Option<String>,
    /// Matching key of the birth name (see the domain's matching key).
    pub birth_name_key: String,
    /// Matching key of the usage name.
    pub usage_name_key: Option<String>,
    /// Matching keys of the first names, space-separated, in order.
    pub first_names_key: String,
    /// When written.
    pub at: Timestamp,
}

/// A person as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Internal id.
    pub id: PersonId,
    /// The written data.
    pub record: NewPerson,
    /// Optimistic-concurrency version, starting at 1.
    pub version: i64,
    /// When last changed.
    pub updated_at: Timestamp,
}

/// A professional exercise: a person practising a profession, with the exercise names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewExercise {
    /// The person.
    pub person: PersonId,
    /// Profession (TRE_R85 role de prise en charge, or TRE_G15 profession) code.
    pub profession_code: String,
    /// TRE_R11 exercise civility, when any (`DR`…).
    pub exercise_civility: Option<String>,
    /// Nom d'exercice.
    pub exercise_last_name: String,
    /// Prénom d'exercice.
    pub exercise_first_name: String,
    /// When written.
    pub at: Timestamp,
}

/// A situation d'exercice as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSituation {
    /// The exercise this situation belongs to.
    pub exercise: ExerciseId,
    /// The person (denormalised for lookups).
    pub person: PersonId,
    /// The establishment (EG).
    pub structure: StructureId,
    /// TRE_R22 genre d'activité: the RPPS+ role (`GENR08`…`GENR12`).
    pub role_code: String,
    /// TRE_R23 practice mode (`S`, `L`, `B`).
    pub practice_mode: String,
    /// Date de prise de fonction.
    pub start_date: Date,
    /// Last day of activity, when already known.
    pub end_date: Option<Date>,
    /// Who registered it.
    pub created_by: Option<PersonId>,
    /// When written.
    pub at: Timestamp,
}

/// A situation as read back, with its exercise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Situation {
    /// Internal id.
    pub id: SituationId,
    /// The written data.
    pub record: NewSituation,
    /// The exercise it belongs to.
    pub exercise: NewExercise,
    /// Reason given when closed.
    pub end_reason: Option<String>,
    /// The instant it was closed at once, if it was: set by a write that gives an end date of
    /// today or earlier, kept by later writes, cleared by one that moves the end date into the
    /// future (`domain::situation::closed_at_after_write`). Never its `updated_at`.
    pub closed_at: Option<Timestamp>,
    /// Optimistic-concurrency version, starting at 1.
    pub version: i64,
    /// When last changed.
    pub updated_at: Timestamp,
}

/// A change to a situation and its exercise (exercise names, profession, role, practice mode,
/// dates, establishment), applied as a whole if the version still matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SituationChange {
    /// Nom d'exercice.
    pub exercise_last_name: String,
    /// Prénom d'exercice.
    pub exercise_first_name: String,
    /// Profession code.
    pub profession_code: String,
    /// RPPS+ role.
    pub role_code: String,
    /// TRE_R23 practice mode.
    pub practice_mode: String,
    /// Establishment (EG).
    pub structure: StructureId,
    /// Date de prise de fonction.
    pub start_date: Date,
    /// Last day of activity.
    pub end_date: Option<Date>,
    /// The instant it was closed at once, if it is (computed by the caller from the situation's
    /// previous value with `domain::situation::closed_at_after_write`).
    pub closed_at: Option<Timestamp>,
    /// When.
    pub at: Timestamp,
}

/// The kind of card a legal representative signs in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RepresentativeCard {
    /// Carte de directeur d'établissement.
    #[serde(rename = "CDE")]
    Cde,
    /// Carte de professionnel de santé.
    #[serde(rename = "CPS")]
    Cps,
}

impl RepresentativeCard {
    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            RepresentativeCard::Cde => "CDE",
            RepresentativeCard::Cps => "CPS",
        }
    }

    /// Reads the stored code.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "CDE" => Some(RepresentativeCard::Cde),
            "CPS" => Some(RepresentativeCard::Cps),
            _ => None,
        }
    }
}

/// A legal representative designation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLegalRepresentative {
    /// The structure represented.
    pub structure: StructureId,
    /// The person.
    pub person: PersonId,
    /// Their card.
    pub card: RepresentativeCard,
    /// When designated.
    pub at: Timestamp,
}

/// A legal representative as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalRepresentative {
    /// The designation.
    pub record: NewLegalRepresentative,
}

/// An e-learning completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewElearning {
    /// Who completed it.
    pub person: PersonId,
    /// When.
    pub completed_on: Date,
    /// Certificate reference.
    pub certificate_ref: String,
    /// When recorded.
    pub at: Timestamp,
}

/// An e-learning completion as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elearning {
    /// The record.
    pub record: NewElearning,
}

/// The right a habilitation gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HabilitationKind {
    /// Gestionnaire RPPS+: registers and manages the structure's professionals.
    Manager,
    /// Mandataire: grants habilitations in the legal representative's place.
    Mandatary,
}

impl HabilitationKind {
    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            HabilitationKind::Manager => "manager",
            HabilitationKind::Mandatary => "mandatary",
        }
    }

    /// Reads the stored code.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "manager" => Some(HabilitationKind::Manager),
            "mandatary" => Some(HabilitationKind::Mandatary),
            _ => None,
        }
    }
}

/// A habilitation as granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHabilitation {
    /// Who receives it.
    pub person: PersonId,
    /// On which structure (EJ when centralised, EG when per site).
    pub structure: StructureId,
    /// Which right.
    pub kind: HabilitationKind,
    /// Who granted it.
    pub granted_by: Option<PersonId>,
    /// When.
    pub at: Timestamp,
}

/// A habilitation as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Habilitation {
    /// Internal id.
    pub id: HabilitationId,
    /// The grant.
    pub record: NewHabilitation,
    /// When revoked.
    pub revoked_at: Option<Timestamp>,
    /// Who revoked it: a person, or nobody's id when the registry operator did (the audit
    /// log names the operator).
    pub revoked_by: Option<PersonId>,
}

/// A sign-in session. The cookie holds a random id; only its hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// SHA-256 of the session id, hex.
    pub id_hash: String,
    /// Who signed in.
    pub person: PersonId,
    /// Per-session CSRF token for forms.
    pub csrf_token: String,
    /// How the person signed in (`psc`, `local`).
    pub method: String,
    /// When created.
    pub created_at: Timestamp,
    /// Absolute expiry.
    pub expires_at: Timestamp,
}

/// A session as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The session.
    pub record: NewSession,
    /// Last use.
    pub last_seen_at: Timestamp,
}

/// A sign-in started with the identity provider (Pro Santé Connect), kept server-side until the
/// browser returns: the provider's state, nonce and PKCE verifier never travel in a cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPendingSignIn {
    /// SHA-256 of the OAuth `state`, hex.
    pub state_hash: String,
    /// SHA-256 of a random value held in a cookie of the browser that started the sign-in, so
    /// that a callback from another browser is refused.
    pub browser_hash: String,
    /// What the relying party needs to finish the sign-in (JSON text).
    pub payload: String,
    /// When started.
    pub created_at: Timestamp,
    /// When it stops being usable.
    pub expires_at: Timestamp,
}

/// Whom an API token acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenHolder {
    /// A person (manager, legal representative): the token acts with their habilitations.
    Person(PersonId),
    /// A consuming system, named by the operator: acts as no person and holds no habilitation.
    System(String),
    /// The registry operator, named by the operator: every right, like the command line.
    Operator(String),
}

impl TokenHolder {
    /// The stored kind code: `person`, `system` or `operator`.
    pub fn kind(&self) -> &'static str {
        match self {
            TokenHolder::Person(_) => "person",
            TokenHolder::System(_) => "system",
            TokenHolder::Operator(_) => "operator",
        }
    }

    /// The person, for a person's token.
    pub fn person(&self) -> Option<PersonId> {
        match self {
            TokenHolder::Person(id) => Some(*id),
            TokenHolder::System(_) | TokenHolder::Operator(_) => None,
        }
    }

    /// The name, for a system's or the operator's token.
    pub fn name(&self) -> Option<&str> {
        match self {
            TokenHolder::Person(_) => None,
            TokenHolder::System(name) | TokenHolder::Operator(name) => Some(name),
        }
    }

    /// Rebuilds the holder from its stored columns; `None` when they do not fit together.
    pub fn from_parts(kind: &str, person: Option<PersonId>, name: Option<String>) -> Option<Self> {
        match (kind, person, name) {
            ("person", Some(id), None) => Some(TokenHolder::Person(id)),
            ("system", None, Some(name)) => Some(TokenHolder::System(name)),
            ("operator", None, Some(name)) => Some(TokenHolder::Operator(name)),
            _ => None,
        }
    }
}

/// An API token. The secret is shown once; only its hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    /// SHA-256 of the secret, hex.
    pub hash: String,
    /// Whom it acts for.
    pub holder: TokenHolder,
    /// A label chosen by its creator.
    pub label: String,
    /// When created.
    pub at: Timestamp,
}

/// An API token as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Internal id.
    pub id: ApiTokenId,
    /// The token.
    pub record: NewApiToken,
    /// Last use.
    pub last_used_at: Option<Timestamp>,
    /// When revoked; a revoked token no longer authenticates.
    pub revoked_at: Option<Timestamp>,
}

/// An audit entry to append. Personal data stays out: identifiers and codes only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// When it happened (truncated to microseconds by [`crate::audit::truncate`]).
    pub at: Timestamp,
    /// Who acted: `person:<IDNPS>`, `operator`, `system`, `token:<id>`.
    pub actor: String,
    /// What was done, e.g. `person.create`, `structure.update`.
    pub action: String,
    /// On what, e.g. `person:42`, `structure:010780054`.
    pub target: String,
    /// Details as JSON (codes, ids, reasons).
    pub details: serde_json::Value,
}

/// An audit row as stored, with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// The entry.
    pub entry: NewAuditEntry,
    /// Hash of the previous row (hex), or 64 zeros for the first.
    pub prev_hash: String,
    /// Hash of this row (hex).
    pub hash: String,
}

/// A message to deliver later (mail), written with the change that causes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutboxMessage {
    /// Unique key of the event (also the base of the Message-ID): a message is never queued twice.
    pub event_key: String,
    /// What kind of message (`mail.rpps_number`, `mail.ecps_ready`…).
    pub kind: String,
    /// What the sender needs, as JSON.
    pub payload: serde_json::Value,
    /// Not to be sent before.
    pub not_before: Timestamp,
    /// When queued.
    pub at: Timestamp,
}

/// A change-feed row to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChange {
    /// `person`, `situation`, `structure`…
    pub entity: String,
    /// Its internal id.
    pub entity_id: i64,
    /// `created`, `updated`, `closed`…
    pub op: String,
    /// When.
    pub at: Timestamp,
}

/// A change-feed row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRow {
    /// Sequence number, growing in commit order.
    pub seq: i64,
    /// The change.
    pub change: NewChange,
}

/// Row counts per table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RowCounts {
    /// Persons.
    pub persons: i64,
    /// Professional exercises.
    pub exercises: i64,
    /// Situations d'exercice.
    pub situations: i64,
    /// Structures.
    pub structures: i64,
    /// Habilitations.
    pub habilitations: i64,
    /// Audit rows.
    pub audit: i64,
    /// Outbox messages.
    pub outbox: i64,
    /// Change-feed rows.
    pub changes: i64,
}

/// Where a self-registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingStatus {
    /// Waiting for a manager of the establishment.
    Pending,
    /// Validated: registered as person and situation.
    Validated,
    /// Rejected, with a reason.
    Rejected,
}

impl PendingStatus {
    /// Stable code, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            PendingStatus::Pending => "pending",
            PendingStatus::Validated => "validated",
            PendingStatus::Rejected => "rejected",
        }
    }

    /// From the stored code.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(PendingStatus::Pending),
            "validated" => Some(PendingStatus::Validated),
            "rejected" => Some(PendingStatus::Rejected),
            _ => None,
        }
    }
}

/// A self-registration to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPendingRegistration {
    /// The establishment named.
    pub structure: StructureId,
    /// The registration as submitted (a JSON object).
    pub payload: serde_json::Value,
    /// When submitted.
    pub at: Timestamp,
}

/// A manager's decision on a self-registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDecision {
    /// Validated or rejected.
    pub status: PendingStatus,
    /// The manager.
    pub by: PersonId,
    /// When.
    pub at: Timestamp,
    /// Why (rejections).
    pub reason: Option<String>,
    /// The person registered (validations).
    pub person: Option<PersonId>,
    /// The situation registered (validations).
    pub situation: Option<SituationId>,
}

/// A self-registration as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingRegistration {
    /// Its id.
    pub id: PendingRegistrationId,
    /// What was submitted.
    pub record: NewPendingRegistration,
    /// Where it stands.
    pub status: PendingStatus,
    /// The decision, once taken.
    pub decision: Option<PendingDecision>,
}
