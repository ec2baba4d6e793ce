//! Legal entities (EJ) and establishments (EG).

use async_trait::async_trait;
use rppsplus_domain::matching_key;
use rppsplus_domain::{Finess, Siret};
use rppsplus_store::{
    ManagementMode, StoreError, StoreResult, Structure, StructureId, StructureRecord, StructuresTx,
    Upsert,
};

use super::SqliteTx;
use crate::convert::{micros, opt_iso};
use crate::error::store_error;
use crate::rows::{StructureRow, structure_select};

impl SqliteTx {
    async fn structure_where_finess(&mut self, finess: &str) -> StoreResult<Option<Structure>> {
        let row: Option<StructureRow> = sqlx::query_as(structure_select!("WHERE finess = $1"))
            .bind(finess)
            .fetch_optional(self.conn())
            .await
            .map_err(store_error)?;
        row.map(StructureRow::into_structure).transpose()
    }
}

#[async_trait]
impl StructuresTx for SqliteTx {
    #[tracing::instrument(level = "debug", skip_all, fields(structure.finess = %s.finess))]
    async fn upsert_structure(&mut self, s: &StructureRecord) -> StoreResult<Upsert> {
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO structures (finess, kind, ej_finess, name, siret, category_code, setting,
                                     address, postcode, commune_code, city, open, closed_on,
                                     created_at, updated_at, name_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15)
             ON CONFLICT (finess) DO NOTHING
             RETURNING id",
        )
        .bind(s.finess.as_str())
        .bind(s.kind.as_str())
        .bind(s.ej_finess.as_ref().map(Finess::as_str))
        .bind(&s.name)
        .bind(s.siret.as_ref().map(Siret::as_str))
        .bind(s.category_code.as_deref())
        .bind(s.setting.as_deref())
        .bind(s.address.as_deref())
        .bind(s.postcode.as_deref())
        .bind(s.commune_code.as_deref())
        .bind(s.city.as_deref())
        .bind(s.open)
        .bind(opt_iso(s.closed_on))
        .bind(micros(s.at))
        .bind(matching_key(&s.name))
        .fetch_optional(self.conn())
        .await
        .map_err(store_error)?;
        if let Some(id) = inserted {
            return Ok(Upsert::Inserted(StructureId(id)));
        }

        let existing = self
            .structure_where_finess(s.finess.as_str())
            .await?
            .ok_or(StoreError::NotFound)?;
        // Same data written at another time is no change: compare everything but `at`.
        let incoming = StructureRecord {
            at: existing.record.at,
            ..s.clone()
        };
        if existing.record == incoming {
            return Ok(Upsert::Unchanged(existing.id));
        }
        sqlx::query(
            "UPDATE structures
             SET kind = $2, ej_finess = $3, name = $4, siret = $5, category_code = $6,
                 setting = $7, address = $8, postcode = $9, commune_code = $10, city = $11,
                 open = $12, closed_on = $13, updated_at = $14, name_key = $15
             WHERE id = $1",
        )
        .bind(existing.id.0)
        .bind(s.kind.as_str())
        .bind(s.ej_finess.as_ref().map(Finess::as_str))
        .bind(&s.name)
        .bind(s.siret.as_ref().map(Siret::as_str))
        .bind(s.category_code.as_deref())
        .bind(s.setting.as_deref())
        .bind(s.address.as_deref())
        .bind(s.postcode.as_deref())
        .bind(s.commune_code.as_deref())
        .bind(s.city.as_deref())
        .bind(s.open)
        .bind(opt_iso(s.closed_on))
        .bind(micros(s.at))
        .bind(matching_key(&s.name))
        .execute(self.conn())
        .await
        .map_err(store_error)?;
        Ok(Upsert::Updated(existing.id))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn structure_by_finess(&mut self, finess: &Finess) -> StoreResult<Option<Structure>> {
        self.structure_where_finess(finess.as_str()).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn structure(&mut self, id: StructureId) -> StoreResult<Option<Structure>> {
        let row: Option<StructureRow> = sqlx::query_as(structure_select!("WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(self.conn())
            .await
            .map_err(store_error)?;
        row.map(StructureRow::into_structure).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn list_structures(&mut self) -> StoreResult<Vec<Structure>> {
        let rows: Vec<StructureRow> = sqlx::query_as(structure_select!("ORDER BY finess"))
            .fetch_all(self.conn())
            .await
            .map_err(store_error)?;
        rows.into_iter().map(StructureRow::into_structure).collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn search_structures(
        &mut self,
        finess_prefix: &str,
        words: &[String],
        limit: u32,
    ) -> StoreResult<Vec<Structure>> {
        // A fixed statement with four word slots: an empty slot matches everything. The FINESS
        // prefix uses the unique index; names are scanned on their folded key.
        let word = |i: usize| words.get(i).cloned().unwrap_or_default();
        let rows: Vec<StructureRow> = sqlx::query_as(structure_select!(
            "WHERE ($1 <> '' AND finess LIKE $1 || '%')
                OR ($2 <> '' AND name_key LIKE '%' || $2 || '%'
                    AND ($3 = '' OR name_key LIKE '%' || $3 || '%')
                    AND ($4 = '' OR name_key LIKE '%' || $4 || '%')
                    AND ($5 = '' OR name_key LIKE '%' || $5 || '%'))
             ORDER BY name_key, finess
             LIMIT $6"
        ))
        .bind(finess_prefix)
        .bind(word(0))
        .bind(word(1))
        .bind(word(2))
        .bind(word(3))
        .bind(i64::from(limit))
        .fetch_all(self.conn())
        .await
        .map_err(store_error)?;
        rows.into_iter().map(StructureRow::into_structure).collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn fill_missing_name_keys(&mut self) -> StoreResult<u64> {
        let missing: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, name FROM structures WHERE name_key = ''")
                .fetch_all(self.conn())
                .await
                .map_err(store_error)?;
        for (id, name) in &missing {
            sqlx::query("UPDATE structures SET name_key = $2 WHERE id = $1")
                .bind(id)
                .bind(matching_key(name))
                .execute(self.conn())
                .await
                .map_err(store_error)?;
        }
        Ok(missing.len() as u64)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn establishments_of(&mut self, ej: &Finess) -> StoreResult<Vec<Structure>> {
        let rows: Vec<StructureRow> = sqlx::query_as(structure_select!(
            "WHERE ej_finess = $1 AND kind = 'EG' ORDER BY finess"
        ))
        .bind(ej.as_str())
        .fetch_all(self.conn())
        .await
        .map_err(store_error)?;
        rows.into_iter().map(StructureRow::into_structure).collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn set_management_mode(
        &mut self,
        ej: StructureId,
        mode: ManagementMode,
    ) -> StoreResult<()> {
        let done =
            sqlx::query("UPDATE structures SET management_mode = $2 WHERE id = $1 AND kind = 'EJ'")
                .bind(ej.0)
                .bind(mode.as_str())
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
