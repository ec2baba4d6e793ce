//! Registering professionals: candidates by birth date, contact lookups, situation changes.

use async_trait::async_trait;
use jiff::civil::Date;
use rppsplus_store::{
    NewPendingRegistration, NewPerson, PendingDecision, PendingRegistration, PendingRegistrationId,
    PendingStatus, Person, PersonId, RegistrationsTx, SituationChange, SituationId, StoreError,
    StoreResult, StructureId,
};

use super::PgTx;
use crate::convert::{day, opt_day, ts};
use crate::error::store_error;
use crate::rows::{PersonRow, person_select};

#[async_trait]
impl RegistrationsTx for PgTx {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn persons_born_on(&mut self, birth_date: Date, limit: u32) -> StoreResult<Vec<Person>> {
        // Plan: Index Scan (or Bitmap Index Scan) on ix_persons_birth_date, Index Cond:
        // (birth_date = $1), then a sort of the few dozen rows found and the limit.
        let rows: Vec<PersonRow> =
            sqlx::query_as(person_select!("WHERE birth_date = $1 ORDER BY id LIMIT $2"))
                .bind(day(birth_date))
                .bind(i64::from(limit))
                .fetch_all(self.conn())
                .await
                .map_err(store_error)?;
        rows.into_iter().map(PersonRow::into_person).collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn person_id_by_email(&mut self, email: &str) -> StoreResult<Option<PersonId>> {
        // Plan: Index Scan using uq_persons_email, Index Cond: (email = $1).
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM persons WHERE email = $1")
            .bind(email)
            .fetch_optional(self.conn())
            .await
            .map_err(store_error)?;
        Ok(id.map(PersonId))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn person_id_by_mobile(&mut self, mobile: &str) -> StoreResult<Option<PersonId>> {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM persons WHERE mobile = $1")
            .bind(mobile)
            .fetch_optional(self.conn())
            .await
            .map_err(store_error)?;
        Ok(id.map(PersonId))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(situation.id = id.0))]
    async fn update_situation(
        &mut self,
        id: SituationId,
        expected_version: i64,
        c: &SituationChange,
    ) -> StoreResult<i64> {
        let version: Option<i64> = sqlx::query_scalar(
            "UPDATE situations
             SET structure_id = $3, role_code = $4, practice_mode = $5, start_date = $6,
                 end_date = $7, updated_at = $8, closed_at = $9, version = version + 1
             WHERE id = $1 AND version = $2
             RETURNING version",
        )
        .bind(id.0)
        .bind(expected_version)
        .bind(c.structure.0)
        .bind(&c.role_code)
        .bind(&c.practice_mode)
        .bind(day(c.start_date))
        .bind(opt_day(c.end_date))
        .bind(ts(c.at))
        .bind(c.closed_at.map(ts))
        .fetch_optional(self.conn())
        .await
        .map_err(store_error)?;
        let Some(version) = version else {
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM situations WHERE id = $1)")
                    .bind(id.0)
                    .fetch_one(self.conn())
                    .await
                    .map_err(store_error)?;
            return Err(if exists {
                StoreError::StaleVersion
            } else {
                StoreError::NotFound
            });
        };
        sqlx::query(
            "UPDATE exercises
             SET profession_code = $2, exercise_last_name = $3, exercise_first_name = $4
             WHERE id = (SELECT exercise_id FROM situations WHERE id = $1)",
        )
        .bind(id.0)
        .bind(&c.profession_code)
        .bind(&c.exercise_last_name)
        .bind(&c.exercise_first_name)
        .execute(self.conn())
        .await
        .map_err(store_error)?;
        Ok(version)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(person.id = id.0))]
    async fn update_person(
        &mut self,
        id: PersonId,
        expected_version: i64,
        p: &NewPerson,
    ) -> StoreResult<i64> {
        let document = p.id_document.as_ref();
        let version: Option<i64> = sqlx::query_scalar(
            "UPDATE persons
             SET civility = $3, sex = $4, birth_name = $5, usage_name = $6, first_names = $7,
                 birth_date = $8, birth_country = $9, birth_commune = $10,
                 id_document_kind = $11, id_document_number = $12,
                 id_document_expires_on = $13, email = $14, mobile = $15,
                 birth_name_key = $16, usage_name_key = $17, first_names_key = $18,
                 updated_at = $19, version = version + 1
             WHERE id = $1 AND version = $2
             RETURNING version",
        )
        .bind(id.0)
        .bind(expected_version)
        .bind(&p.civility)
        .bind(&p.sex)
        .bind(&p.birth_name)
        .bind(p.usage_name.as_deref())
        .bind(p.first_names.as_slice())
        .bind(day(p.birth_date))
        .bind(&p.birth_country)
        .bind(p.birth_commune.as_deref())
        .bind(document.map(|d| d.kind.as_str()))
        .bind(document.map(|d| d.number.as_str()))
        .bind(document.map(|d| day(d.expires_on)))
        .bind(p.email.as_deref())
        .bind(p.mobile.as_deref())
        .bind(&p.birth_name_key)
        .bind(p.usage_name_key.as_deref())
        .bind(&p.first_names_key)
        .bind(ts(p.at))
        .fetch_optional(self.conn())
        .await
        .map_err(store_error)?;
        match version {
            Some(v) => Ok(v),
            None => {
                let exists: bool =
                    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM persons WHERE id = $1)")
                        .bind(id.0)
                        .fetch_one(self.conn())
                        .await
                        .map_err(store_error)?;
                Err(if exists {
                    StoreError::StaleVersion
                } else {
                    StoreError::NotFound
                })
            }
        }
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn insert_pending_registration(
        &mut self,
        r: &NewPendingRegistration,
    ) -> StoreResult<PendingRegistrationId> {
        let payload = serde_json::to_string(&r.payload)
            .map_err(|e| StoreError::Backend(format!("registration payload: {e}")))?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO pending_registrations (structure_id, payload, status, submitted_at)
             VALUES ($1, $2::jsonb, 'pending', $3)
             RETURNING id",
        )
        .bind(r.structure.0)
        .bind(payload)
        .bind(ts(r.at))
        .fetch_one(self.conn())
        .await
        .map_err(store_error)?;
        Ok(PendingRegistrationId(id))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn pending_registration(
        &mut self,
        id: PendingRegistrationId,
    ) -> StoreResult<Option<PendingRegistration>> {
        let row: Option<PendingRow> = sqlx::query_as(PENDING_SELECT_ID)
            .bind(id.0)
            .fetch_optional(self.conn())
            .await
            .map_err(store_error)?;
        row.map(PendingRow::into_record).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn pending_registrations_at(
        &mut self,
        structure: StructureId,
    ) -> StoreResult<Vec<PendingRegistration>> {
        let rows: Vec<PendingRow> = sqlx::query_as(PENDING_SELECT_AT)
            .bind(structure.0)
            .fetch_all(self.conn())
            .await
            .map_err(store_error)?;
        rows.into_iter().map(PendingRow::into_record).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(pending.id = id.0))]
    async fn decide_pending_registration(
        &mut self,
        id: PendingRegistrationId,
        d: &PendingDecision,
    ) -> StoreResult<()> {
        if d.status == PendingStatus::Pending {
            return Err(StoreError::Backend("a decision cannot be 'pending'".into()));
        }
        let done = sqlx::query(
            "UPDATE pending_registrations
             SET status = $2, decided_by = $3, decided_at = $4, reason = $5, person_id = $6,
                 situation_id = $7
             WHERE id = $1 AND status = 'pending'",
        )
        .bind(id.0)
        .bind(d.status.as_str())
        .bind(d.by.0)
        .bind(ts(d.at))
        .bind(d.reason.as_deref())
        .bind(d.person.map(|p| p.0))
        .bind(d.situation.map(|s| s.0))
        .execute(self.conn())
        .await
        .map_err(store_error)?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }
}

const PENDING_SELECT_ID: &str = "SELECT id, structure_id, payload::text AS payload, status, submitted_at, decided_by, decided_at, reason, person_id, situation_id FROM pending_registrations WHERE id = $1";
const PENDING_SELECT_AT: &str = "SELECT id, structure_id, payload::text AS payload, status, submitted_at, decided_by, decided_at, reason, person_id, situation_id FROM pending_registrations\n     WHERE structure_id = $1 AND status = 'pending' ORDER BY id";

/// A row of `pending_registrations`.
#[derive(sqlx::FromRow)]
struct PendingRow {
    id: i64,
    structure_id: i64,
    payload: String,
    status: String,
    submitted_at: jiff_sqlx::Timestamp,
    decided_by: Option<i64>,
    decided_at: Option<jiff_sqlx::Timestamp>,
    reason: Option<String>,
    person_id: Option<i64>,
    situation_id: Option<i64>,
}

impl PendingRow {
    fn into_record(self) -> StoreResult<PendingRegistration> {
        let status = PendingStatus::parse(&self.status)
            .ok_or_else(|| StoreError::Corrupt(format!("registration status {}", self.status)))?;
        let payload = serde_json::from_str(&self.payload)
            .map_err(|e| StoreError::Corrupt(format!("registration payload: {e}")))?;
        let decision = match (self.decided_by, self.decided_at) {
            (Some(by), Some(at)) => Some(PendingDecision {
                status,
                by: PersonId(by),
                at: at.to_jiff(),
                reason: self.reason,
                person: self.person_id.map(PersonId),
                situation: self.situation_id.map(SituationId),
            }),
            _ => None,
        };
        Ok(PendingRegistration {
            id: PendingRegistrationId(self.id),
            record: NewPendingRegistration {
                structure: StructureId(self.structure_id),
                payload,
                at: self.submitted_at.to_jiff(),
            },
            status,
            decision,
        })
    }
}
