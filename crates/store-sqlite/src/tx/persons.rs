//! Persons, their professional exercises and their situations.

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::civil::Date;
use rppsplus_domain::{Idnps, Rpps};
use rppsplus_store::{
    ExerciseId, NewExercise, NewPerson, NewSituation, Person, PersonId, PersonsTx, Situation,
    SituationId, StoreError, StoreResult, StructureId, UniqueRule,
};

use super::SqliteTx;
use crate::convert::{iso, micros, opt_iso};
use crate::error::store_error;
use crate::rows::{PersonRow, SituationRow, person_select, situation_select};

impl SqliteTx {
    /// Which uniqueness rule a person that could not be inserted collides with.
    ///
    /// Rules are checked in a fixed order (RPPS, IDNPS, e-mail, mobile), the same on both
    /// backends, so that a person colliding on several is always reported the same way.
    async fn person_conflict(&mut self, p: &NewPerson) -> StoreResult<UniqueRule> {
        let checks: [(UniqueRule, &'static str, Option<&str>); 4] = [
            (
                UniqueRule::PersonRpps,
                "SELECT EXISTS (SELECT 1 FROM persons WHERE rpps = $1)",
                p.rpps.as_ref().map(Rpps::as_str),
            ),
            (
                UniqueRule::PersonIdnps,
                "SELECT EXISTS (SELECT 1 FROM persons WHERE idnps = $1)",
                Some(p.idnps.as_str()),
            ),
            (
                UniqueRule::PersonEmail,
                "SELECT EXISTS (SELECT 1 FROM persons WHERE email = $1)",
                p.email.as_deref(),
            ),
            (
                UniqueRule::PersonMobile,
                "SELECT EXISTS (SELECT 1 FROM persons WHERE mobile = $1)",
                p.mobile.as_deref(),
            ),
        ];
        for (rule, sql, value) in checks {
            let Some(value) = value else { continue };
            let taken: bool = sqlx::query_scalar(sql)
                .bind(value)
                .fetch_one(self.conn())
                .await
                .map_err(store_error)?;
            if taken {
                return Ok(rule);
            }
        }
        Ok(UniqueRule::Other)
    }
}

#[async_trait]
impl PersonsTx for SqliteTx {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn insert_person(&mut self, p: &NewPerson) -> StoreResult<PersonId> {
        let first_names = serde_json::to_string(&p.first_names)
            .map_err(|e| StoreError::Backend(format!("first names: {e}")))?;
        let document = p.id_document.as_ref();
        // DO NOTHING rather than an error: a duplicate must leave the transaction usable, as on
        // PostgreSQL (where a failed statement would abort it). The rule is looked up after.
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO persons (rpps, adeli, idnps, civility, sex, birth_name, usage_name,
                                  first_names, birth_date, birth_country, birth_commune,
                                  id_document_kind, id_document_number, id_document_expires_on,
                                  email, mobile, birth_name_key, usage_name_key, first_names_key,
                                  version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                     $18, $19, 1, $20, $20)
             ON CONFLICT DO NOTHING
             RETURNING id",
        )
        .bind(p.rpps.as_ref().map(Rpps::as_str))
        .bind(p.adeli.as_ref().map(|a| a.as_str()))
        .bind(p.idnps.as_str())
        .bind(&p.civility)
        .bind(&p.sex)
        .bind(&p.birth_name)
        .bind(p.usage_name.as_deref())
        .bind(first_names)
        .bind(iso(p.birth_date))
        .bind(&p.birth_country)
        .bind(p.birth_commune.as_deref())
        .bind(document.map(|d| d.kind.as_str()))
        .bind(document.map(|d| d.number.as_str()))
        .bind(document.map(|d| iso(d.expires_on)))
        .bind(p.email.as_deref())
        .bind(p.mobile.as_deref())
        .bind(&p.birth_name_key)
        .bind(p.usage_name_key.as_deref())
        .bind(&p.first_names_key)
        .bind(micros(p.at))
        .fetch_optional(self.conn())
        .await
        .map_err(store_error)?;
        match id {
            Some(id) => Ok(PersonId(id)),
            None => Err(StoreError::Duplicate(self.person_conflict(p).await?)),
        }
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn person(&mut self, id: PersonId) -> StoreResult<Option<Person>> {
        let row: Option<PersonRow> = sqlx::query_as(person_select!("WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(self.conn())
            .await
            .map_err(store_error)?;
        row.map(PersonRow::into_person).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn person_by_idnps(&mut self, idnps: &Idnps) -> StoreResult<Option<Person>> {
        let row: Option<PersonRow> = sqlx::query_as(person_select!("WHERE idnps = $1"))
            .bind(idnps.as_str())
            .fetch_optional(self.conn())
            .await
            .map_err(store_error)?;
        row.map(PersonRow::into_person).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn person_by_rpps(&mut self, rpps: &Rpps) -> StoreResult<Option<Person>> {
        let row: Option<PersonRow> = sqlx::query_as(person_select!("WHERE rpps = $1"))
            .bind(rpps.as_str())
            .fetch_optional(self.conn())
            .await
            .map_err(store_error)?;
        row.map(PersonRow::into_person).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn list_persons(&mut self, after: PersonId, limit: u32) -> StoreResult<Vec<Person>> {
        let rows: Vec<PersonRow> =
            sqlx::query_as(person_select!("WHERE id > $1 ORDER BY id LIMIT $2"))
                .bind(after.0)
                .bind(i64::from(limit))
                .fetch_all(self.conn())
                .await
                .map_err(store_error)?;
        rows.into_iter().map(PersonRow::into_person).collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn insert_exercise(&mut self, e: &NewExercise) -> StoreResult<ExerciseId> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO exercises (person_id, profession_code, exercise_civility,
                                    exercise_last_name, exercise_first_name, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING id",
        )
        .bind(e.person.0)
        .bind(&e.profession_code)
        .bind(e.exercise_civility.as_deref())
        .bind(&e.exercise_last_name)
        .bind(&e.exercise_first_name)
        .bind(micros(e.at))
        .fetch_one(self.conn())
        .await
        .map_err(store_error)?;
        Ok(ExerciseId(id))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn insert_situation(&mut self, s: &NewSituation) -> StoreResult<SituationId> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO situations (exercise_id, person_id, structure_id, role_code,
                                     practice_mode, start_date, end_date, created_by, version,
                                     created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9)
             RETURNING id",
        )
        .bind(s.exercise.0)
        .bind(s.person.0)
        .bind(s.structure.0)
        .bind(&s.role_code)
        .bind(&s.practice_mode)
        .bind(iso(s.start_date))
        .bind(opt_iso(s.end_date))
        .bind(s.created_by.map(|p| p.0))
        .bind(micros(s.at))
        .fetch_one(self.conn())
        .await
        .map_err(store_error)?;
        Ok(SituationId(id))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(situation.id = id.0))]
    async fn close_situation(
        &mut self,
        id: SituationId,
        expected_version: i64,
        end_date: Date,
        reason: &str,
        closed_at: Option<Timestamp>,
        at: Timestamp,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE situations
             SET end_date = $3, end_reason = $4, updated_at = $5, closed_at = $6,
                 version = version + 1
             WHERE id = $1 AND version = $2",
        )
        .bind(id.0)
        .bind(expected_version)
        .bind(iso(end_date))
        .bind(reason)
        .bind(micros(at))
        .bind(closed_at.map(micros))
        .execute(self.conn())
        .await
        .map_err(store_error)?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM situations WHERE id = $1)")
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

    #[tracing::instrument(level = "debug", skip_all)]
    async fn situation(&mut self, id: SituationId) -> StoreResult<Option<Situation>> {
        let row: Option<SituationRow> = sqlx::query_as(situation_select!("WHERE s.id = $1"))
            .bind(id.0)
            .fetch_optional(self.conn())
            .await
            .map_err(store_error)?;
        row.map(SituationRow::into_situation).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn situations_of_person(&mut self, person: PersonId) -> StoreResult<Vec<Situation>> {
        // Oldest first means first registered: ids grow with insertion.
        let rows: Vec<SituationRow> =
            sqlx::query_as(situation_select!("WHERE s.person_id = $1 ORDER BY s.id"))
                .bind(person.0)
                .fetch_all(self.conn())
                .await
                .map_err(store_error)?;
        rows.into_iter().map(SituationRow::into_situation).collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn situations_of_persons(
        &mut self,
        after: PersonId,
        up_to: PersonId,
    ) -> StoreResult<Vec<Situation>> {
        let rows: Vec<SituationRow> = sqlx::query_as(situation_select!(
            "WHERE s.person_id > $1 AND s.person_id <= $2 ORDER BY s.person_id, s.id"
        ))
        .bind(after.0)
        .bind(up_to.0)
        .fetch_all(self.conn())
        .await
        .map_err(store_error)?;
        rows.into_iter().map(SituationRow::into_situation).collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn situations_at(&mut self, structure: StructureId) -> StoreResult<Vec<Situation>> {
        let rows: Vec<SituationRow> =
            sqlx::query_as(situation_select!("WHERE s.structure_id = $1 ORDER BY s.id"))
                .bind(structure.0)
                .fetch_all(self.conn())
                .await
                .map_err(store_error)?;
        rows.into_iter().map(SituationRow::into_situation).collect()
    }
}
