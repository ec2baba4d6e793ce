//! Rows as SQLite returns them, and their conversion into the seam's records.

use rppsplus_store::{
    ApiToken, ApiTokenId, AuditRow, ChangeRow, Elearning, ExerciseId, Habilitation, HabilitationId,
    HabilitationKind, IdDocumentRecord, LegalRepresentative, ManagementMode, NewApiToken,
    NewAuditEntry, NewChange, NewElearning, NewExercise, NewHabilitation, NewLegalRepresentative,
    NewPerson, NewSession, NewSituation, Person, PersonId, RepresentativeCard, Session, Situation,
    SituationId, StoreResult, Structure, StructureId, StructureKind, StructureRecord, TokenHolder,
};

use crate::convert::{
    adeli, corrupt, date, finess, flag, idnps, instant, opt_date, opt_instant, rpps, siret,
};

/// The columns of [`PersonRow`], in a `SELECT` on `persons`.
macro_rules! person_select {
    ($($tail:literal)?) => {
        concat!(
            "SELECT id, rpps, adeli, idnps, civility, sex, birth_name, usage_name, first_names,
                    birth_date, birth_country, birth_commune, id_document_kind,
                    id_document_number, id_document_expires_on, email, mobile, birth_name_key,
                    usage_name_key, first_names_key, version, created_at, updated_at
             FROM persons ",
            $($tail)?
        )
    };
}
pub(crate) use person_select;

/// A row of `persons`.
#[derive(sqlx::FromRow)]
pub(crate) struct PersonRow {
    id: i64,
    rpps: Option<String>,
    adeli: Option<String>,
    idnps: String,
    civility: String,
    sex: String,
    birth_name: String,
    usage_name: Option<String>,
    first_names: String,
    birth_date: String,
    birth_country: String,
    birth_commune: Option<String>,
    id_document_kind: Option<String>,
    id_document_number: Option<String>,
    id_document_expires_on: Option<String>,
    email: Option<String>,
    mobile: Option<String>,
    birth_name_key: String,
    usage_name_key: Option<String>,
    first_names_key: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl PersonRow {
    pub(crate) fn into_person(self) -> StoreResult<Person> {
        let id_document = match (
            self.id_document_kind,
            self.id_document_number,
            self.id_document_expires_on,
        ) {
            (Some(kind), Some(number), Some(expires_on)) => Some(IdDocumentRecord {
                kind,
                number,
                expires_on: date(&expires_on)?,
            }),
            (None, None, None) => None,
            _ => {
                return Err(corrupt(
                    "identity document of person",
                    self.id,
                    "partly stored",
                ));
            }
        };
        let first_names: Vec<String> = serde_json::from_str(&self.first_names)
            .map_err(|e| corrupt("first names of person", self.id, e))?;
        Ok(Person {
            id: PersonId(self.id),
            record: NewPerson {
                rpps: self.rpps.as_deref().map(rpps).transpose()?,
                adeli: self.adeli.as_deref().map(adeli).transpose()?,
                idnps: idnps(&self.idnps)?,
                civility: self.civility,
                sex: self.sex,
                birth_name: self.birth_name,
                usage_name: self.usage_name,
                first_names,
                birth_date: date(&self.birth_date)?,
                birth_country: self.birth_country,
                birth_commune: self.birth_commune,
                id_document,
                email: self.email,
                mobile: self.mobile,
                birth_name_key: self.birth_name_key,
                usage_name_key: self.usage_name_key,
                first_names_key: self.first_names_key,
                at: instant(self.created_at)?,
            },
            version: self.version,
            updated_at: instant(self.updated_at)?,
        })
    }
}

/// The columns of [`StructureRow`], in a `SELECT` on `structures`.
macro_rules! structure_select {
    ($($tail:literal)?) => {
        concat!(
            "SELECT id, finess, kind, ej_finess, name, siret, category_code, setting, address,
                    postcode, commune_code, city, open, closed_on, management_mode, created_at,
                    updated_at
             FROM structures ",
            $($tail)?
        )
    };
}
pub(crate) use structure_select;

/// A row of `structures`.
#[derive(sqlx::FromRow)]
pub(crate) struct StructureRow {
    id: i64,
    finess: String,
    kind: String,
    ej_finess: Option<String>,
    name: String,
    siret: Option<String>,
    category_code: Option<String>,
    setting: Option<String>,
    address: Option<String>,
    postcode: Option<String>,
    commune_code: Option<String>,
    city: Option<String>,
    open: i64,
    closed_on: Option<String>,
    management_mode: String,
    created_at: i64,
    updated_at: i64,
}

impl StructureRow {
    pub(crate) fn into_structure(self) -> StoreResult<Structure> {
        let updated_at = instant(self.updated_at)?;
        Ok(Structure {
            id: StructureId(self.id),
            record: StructureRecord {
                finess: finess(&self.finess)?,
                kind: StructureKind::parse(&self.kind)
                    .ok_or_else(|| corrupt("structure kind", &self.kind, "unknown code"))?,
                ej_finess: self.ej_finess.as_deref().map(finess).transpose()?,
                name: self.name,
                siret: self.siret.as_deref().map(siret).transpose()?,
                category_code: self.category_code,
                setting: self.setting,
                address: self.address,
                postcode: self.postcode,
                commune_code: self.commune_code,
                city: self.city,
                open: flag(self.open)?,
                closed_on: opt_date(self.closed_on.as_deref())?,
                // The record as last written.
                at: updated_at,
            },
            management_mode: ManagementMode::parse(&self.management_mode)
                .ok_or_else(|| corrupt("management mode", &self.management_mode, "unknown code"))?,
            created_at: instant(self.created_at)?,
            updated_at,
        })
    }
}

/// The columns of [`SituationRow`]: a situation joined with its exercise.
macro_rules! situation_select {
    ($($tail:literal)?) => {
        concat!(
            "SELECT s.id, s.exercise_id, s.person_id, s.structure_id, s.role_code,
                    s.practice_mode, s.start_date, s.end_date, s.end_reason, s.closed_at,
                    s.created_by, s.version, s.created_at, s.updated_at,
                    e.person_id AS exercise_person_id,
                    e.profession_code, e.exercise_civility, e.exercise_last_name,
                    e.exercise_first_name, e.created_at AS exercise_created_at
             FROM situations s JOIN exercises e ON e.id = s.exercise_id ",
            $($tail)?
        )
    };
}
pub(crate) use situation_select;

/// A row of `situations` with its exercise.
#[derive(sqlx::FromRow)]
pub(crate) struct SituationRow {
    id: i64,
    exercise_id: i64,
    person_id: i64,
    structure_id: i64,
    role_code: String,
    practice_mode: String,
    start_date: String,
    end_date: Option<String>,
    end_reason: Option<String>,
    closed_at: Option<i64>,
    created_by: Option<i64>,
    version: i64,
    created_at: i64,
    updated_at: i64,
    exercise_person_id: i64,
    profession_code: String,
    exercise_civility: Option<String>,
    exercise_last_name: String,
    exercise_first_name: String,
    exercise_created_at: i64,
}

impl SituationRow {
    pub(crate) fn into_situation(self) -> StoreResult<Situation> {
        Ok(Situation {
            id: SituationId(self.id),
            record: NewSituation {
                exercise: ExerciseId(self.exercise_id),
                person: PersonId(self.person_id),
                structure: StructureId(self.structure_id),
                role_code: self.role_code,
                practice_mode: self.practice_mode,
                start_date: date(&self.start_date)?,
                end_date: opt_date(self.end_date.as_deref())?,
                created_by: self.created_by.map(PersonId),
                at: instant(self.created_at)?,
            },
            exercise: NewExercise {
                person: PersonId(self.exercise_person_id),
                profession_code: self.profession_code,
                exercise_civility: self.exercise_civility,
                exercise_last_name: self.exercise_last_name,
                exercise_first_name: self.exercise_first_name,
                at: instant(self.exercise_created_at)?,
            },
            end_reason: self.end_reason,
            closed_at: opt_instant(self.closed_at)?,
            version: self.version,
            updated_at: instant(self.updated_at)?,
        })
    }
}

/// A row of `legal_representatives`.
#[derive(sqlx::FromRow)]
pub(crate) struct RepresentativeRow {
    structure_id: i64,
    person_id: i64,
    card: String,
    designated_at: i64,
}

impl RepresentativeRow {
    pub(crate) fn into_representative(self) -> StoreResult<LegalRepresentative> {
        Ok(LegalRepresentative {
            record: NewLegalRepresentative {
                structure: StructureId(self.structure_id),
                person: PersonId(self.person_id),
                card: RepresentativeCard::parse(&self.card)
                    .ok_or_else(|| corrupt("representative card", &self.card, "unknown code"))?,
                at: instant(self.designated_at)?,
            },
        })
    }
}

/// A row of `elearnings`.
#[derive(sqlx::FromRow)]
pub(crate) struct ElearningRow {
    person_id: i64,
    completed_on: String,
    certificate_ref: String,
    recorded_at: i64,
}

impl ElearningRow {
    pub(crate) fn into_elearning(self) -> StoreResult<Elearning> {
        Ok(Elearning {
            record: NewElearning {
                person: PersonId(self.person_id),
                completed_on: date(&self.completed_on)?,
                certificate_ref: self.certificate_ref,
                at: instant(self.recorded_at)?,
            },
        })
    }
}

/// A row of `habilitations`.
#[derive(sqlx::FromRow)]
pub(crate) struct HabilitationRow {
    id: i64,
    person_id: i64,
    structure_id: i64,
    kind: String,
    granted_by: Option<i64>,
    granted_at: i64,
    revoked_at: Option<i64>,
    revoked_by: Option<i64>,
}

impl HabilitationRow {
    pub(crate) fn into_habilitation(self) -> StoreResult<Habilitation> {
        Ok(Habilitation {
            id: HabilitationId(self.id),
            record: NewHabilitation {
                person: PersonId(self.person_id),
                structure: StructureId(self.structure_id),
                kind: HabilitationKind::parse(&self.kind)
                    .ok_or_else(|| corrupt("habilitation kind", &self.kind, "unknown code"))?,
                granted_by: self.granted_by.map(PersonId),
                at: instant(self.granted_at)?,
            },
            revoked_at: opt_instant(self.revoked_at)?,
            revoked_by: self.revoked_by.map(PersonId),
        })
    }
}

/// A row of `sessions`.
#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow {
    id_hash: String,
    person_id: i64,
    csrf_token: String,
    method: String,
    created_at: i64,
    expires_at: i64,
    last_seen_at: i64,
}

impl SessionRow {
    pub(crate) fn into_session(self) -> StoreResult<Session> {
        Ok(Session {
            record: NewSession {
                id_hash: self.id_hash,
                person: PersonId(self.person_id),
                csrf_token: self.csrf_token,
                method: self.method,
                created_at: instant(self.created_at)?,
                expires_at: instant(self.expires_at)?,
            },
            last_seen_at: instant(self.last_seen_at)?,
        })
    }
}

/// A row of `api_tokens`.
#[derive(sqlx::FromRow)]
pub(crate) struct ApiTokenRow {
    id: i64,
    hash: String,
    kind: String,
    person_id: Option<i64>,
    system_name: Option<String>,
    label: String,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl ApiTokenRow {
    pub(crate) fn into_token(self) -> StoreResult<ApiToken> {
        let id = self.id;
        let holder =
            TokenHolder::from_parts(&self.kind, self.person_id.map(PersonId), self.system_name)
                .ok_or_else(|| corrupt("api token", id, "holder does not fit its kind"))?;
        Ok(ApiToken {
            id: ApiTokenId(self.id),
            record: NewApiToken {
                hash: self.hash,
                holder,
                label: self.label,
                at: instant(self.created_at)?,
            },
            last_used_at: opt_instant(self.last_used_at)?,
            revoked_at: opt_instant(self.revoked_at)?,
        })
    }
}

/// A row of `audit_log`.
#[derive(sqlx::FromRow)]
pub(crate) struct AuditDbRow {
    seq: i64,
    at: i64,
    actor: String,
    action: String,
    target: String,
    details: String,
    prev_hash: String,
    hash: String,
}

impl AuditDbRow {
    pub(crate) fn into_row(self) -> StoreResult<AuditRow> {
        Ok(AuditRow {
            seq: self.seq,
            entry: NewAuditEntry {
                at: instant(self.at)?,
                actor: self.actor,
                action: self.action,
                target: self.target,
                details: serde_json::from_str(&self.details)
                    .map_err(|e| corrupt("audit details of row", self.seq, e))?,
            },
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

/// A row of `change_feed`.
#[derive(sqlx::FromRow)]
pub(crate) struct ChangeDbRow {
    seq: i64,
    entity: String,
    entity_id: i64,
    op: String,
    at: i64,
}

impl ChangeDbRow {
    pub(crate) fn into_row(self) -> StoreResult<ChangeRow> {
        Ok(ChangeRow {
            seq: self.seq,
            change: NewChange {
                entity: self.entity,
                entity_id: self.entity_id,
                op: self.op,
                at: instant(self.at)?,
            },
        })
    }
}
