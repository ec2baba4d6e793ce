//! Legal representatives, habilitations and e-learning records.

use async_trait::async_trait;
use jiff::Timestamp;
use rppsplus_store::{
    Elearning, Habilitation, HabilitationId, HabilitationsTx, LegalRepresentative, NewElearning,
    NewHabilitation, NewLegalRepresentative, PersonId, StoreError, StoreResult, StructureId,
};

use super::PgTx;
use crate::convert::{day, ts};
use crate::error::store_error;
use crate::rows::{ElearningRow, HabilitationRow, RepresentativeRow};

#[async_trait]
impl HabilitationsTx for PgTx {
    #[tracing::instrument(level = "debug", skip_all, fields(structure.id = r.structure.0))]
    async fn set_legal_representative(&mut self, r: &NewLegalRepresentative) -> StoreResult<()> {
        // Locking the structure makes concurrent designations for it take turns: each ends the
        // one before it, and the "one current representative" index is never hit.
        let locked: Option<i64> =
            sqlx::query_scalar("SELECT id FROM structures WHERE id = $1 FOR UPDATE")
                .bind(r.structure.0)
                .fetch_optional(self.conn())
                .await
                .map_err(store_error)?;
        if locked.is_none() {
            return Err(StoreError::NotFound);
        }
        // History is kept: the current designation ends, it is never deleted.
        sqlx::query(
            "UPDATE legal_representatives SET ended_at = $2
             WHERE structure_id = $1 AND ended_at IS NULL",
        )
        .bind(r.structure.0)
        .bind(ts(r.at))
        .execute(self.conn())
        .await
        .map_err(store_error)?;
        sqlx::query(
            "INSERT INTO legal_representatives (structure_id, person_id, card, designated_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(r.structure.0)
        .bind(r.person.0)
        .bind(r.card.as_str())
        .bind(ts(r.at))
        .execute(self.conn())
        .await
        .map_err(store_error)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn legal_representative(
        &mut self,
        structure: StructureId,
    ) -> StoreResult<Option<LegalRepresentative>> {
        let row: Option<RepresentativeRow> = sqlx::query_as(
            "SELECT structure_id, person_id, card, designated_at FROM legal_representatives
             WHERE structure_id = $1 AND ended_at IS NULL",
        )
        .bind(structure.0)
        .fetch_optional(self.conn())
        .await
        .map_err(store_error)?;
        row.map(RepresentativeRow::into_representative).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn represented_by(&mut self, person: PersonId) -> StoreResult<Vec<LegalRepresentative>> {
        let rows: Vec<RepresentativeRow> = sqlx::query_as(
            "SELECT structure_id, person_id, card, designated_at FROM legal_representatives
             WHERE person_id = $1 AND ended_at IS NULL
             ORDER BY structure_id",
        )
        .bind(person.0)
        .fetch_all(self.conn())
        .await
        .map_err(store_error)?;
        rows.into_iter()
            .map(RepresentativeRow::into_representative)
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn record_elearning(&mut self, e: &NewElearning) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO elearnings (person_id, completed_on, certificate_ref, recorded_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(e.person.0)
        .bind(day(e.completed_on))
        .bind(&e.certificate_ref)
        .bind(ts(e.at))
        .execute(self.conn())
        .await
        .map_err(store_error)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn elearnings_of(&mut self, person: PersonId) -> StoreResult<Vec<Elearning>> {
        let rows: Vec<ElearningRow> = sqlx::query_as(
            "SELECT person_id, completed_on, certificate_ref, recorded_at FROM elearnings
             WHERE person_id = $1
             ORDER BY completed_on DESC, id DESC",
        )
        .bind(person.0)
        .fetch_all(self.conn())
        .await
        .map_err(store_error)?;
        rows.into_iter().map(ElearningRow::into_elearning).collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn grant_habilitation(&mut self, h: &NewHabilitation) -> StoreResult<HabilitationId> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO habilitations (person_id, structure_id, kind, granted_by, granted_at)
             VALUES ($1, $2, $3, $4, $5)
             RETURNING id",
        )
        .bind(h.person.0)
        .bind(h.structure.0)
        .bind(h.kind.as_str())
        .bind(h.granted_by.map(|p| p.0))
        .bind(ts(h.at))
        .fetch_one(self.conn())
        .await
        .map_err(store_error)?;
        Ok(HabilitationId(id))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn habilitation(&mut self, id: HabilitationId) -> StoreResult<Option<Habilitation>> {
        let row: Option<HabilitationRow> = sqlx::query_as(
            "SELECT id, person_id, structure_id, kind, granted_by, granted_at, revoked_at,
                    revoked_by
             FROM habilitations WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(self.conn())
        .await
        .map_err(store_error)?;
        row.map(HabilitationRow::into_habilitation).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(habilitation.id = id.0))]
    async fn revoke_habilitation(
        &mut self,
        id: HabilitationId,
        by: Option<PersonId>,
        at: Timestamp,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE habilitations SET revoked_at = $3, revoked_by = $2
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id.0)
        .bind(by.map(|p| p.0))
        .bind(ts(at))
        .execute(self.conn())
        .await
        .map_err(store_error)?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn active_habilitations_of(
        &mut self,
        person: PersonId,
    ) -> StoreResult<Vec<Habilitation>> {
        let rows: Vec<HabilitationRow> = sqlx::query_as(
            "SELECT id, person_id, structure_id, kind, granted_by, granted_at, revoked_at,
                    revoked_by
             FROM habilitations WHERE person_id = $1 AND revoked_at IS NULL ORDER BY id",
        )
        .bind(person.0)
        .fetch_all(self.conn())
        .await
        .map_err(store_error)?;
        rows.into_iter()
            .map(HabilitationRow::into_habilitation)
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn active_habilitations_on(
        &mut self,
        structure: StructureId,
    ) -> StoreResult<Vec<Habilitation>> {
        let rows: Vec<HabilitationRow> = sqlx::query_as(
            "SELECT id, person_id, structure_id, kind, granted_by, granted_at, revoked_at,
                    revoked_by
             FROM habilitations WHERE structure_id = $1 AND revoked_at IS NULL ORDER BY id",
        )
        .bind(structure.0)
        .fetch_all(self.conn())
        .await
        .map_err(store_error)?;
        rows.into_iter()
            .map(HabilitationRow::into_habilitation)
            .collect()
    }
}
