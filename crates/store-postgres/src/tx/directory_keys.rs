//! Directory keys: the operator's writes in a transaction, and the per-request read on the
//! pool.

use async_trait::async_trait;
use jiff::Timestamp;
use rppsplus_store::{
    DirectoryKey, DirectoryKeyId, DirectoryKeyStore, DirectoryKeysTx, NewDirectoryKey, StoreError,
    StoreResult, UniqueRule,
};

use super::PgTx;
use crate::PgStore;
use crate::convert::{corrupt, ts};
use crate::error::store_error;

/// A `SELECT` of every column of `directory_api_keys`, followed by `$tail`.
macro_rules! select {
    ($tail:literal) => {
        concat!(
            "SELECT id, hash, name, restricted_extracts, rate_per_minute, created_at, revoked_at
             FROM directory_api_keys ",
            $tail
        )
    };
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: i64,
    hash: String,
    name: String,
    restricted_extracts: bool,
    rate_per_minute: Option<i32>,
    created_at: jiff_sqlx::Timestamp,
    revoked_at: Option<jiff_sqlx::Timestamp>,
}

impl KeyRow {
    fn into_key(self) -> StoreResult<DirectoryKey> {
        let rate_per_minute = self
            .rate_per_minute
            .map(|r| u32::try_from(r).map_err(|_| corrupt("directory key rate", r, "out of range")))
            .transpose()?;
        Ok(DirectoryKey {
            id: DirectoryKeyId(self.id),
            record: NewDirectoryKey {
                hash: self.hash,
                name: self.name,
                restricted_extracts: self.restricted_extracts,
                rate_per_minute,
                at: self.created_at.to_jiff(),
            },
            revoked_at: self.revoked_at.map(jiff_sqlx::Timestamp::to_jiff),
        })
    }
}

#[async_trait]
impl DirectoryKeysTx for PgTx {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn insert_directory_key(&mut self, k: &NewDirectoryKey) -> StoreResult<DirectoryKeyId> {
        let rate = k
            .rate_per_minute
            .map(|r| {
                i32::try_from(r)
                    .map_err(|_| StoreError::Backend(format!("rate {r} per minute out of range")))
            })
            .transpose()?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO directory_api_keys (hash, name, restricted_extracts, rate_per_minute,
                                             created_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (hash) DO NOTHING
             RETURNING id",
        )
        .bind(&k.hash)
        .bind(&k.name)
        .bind(k.restricted_extracts)
        .bind(rate)
        .bind(ts(k.at))
        .fetch_optional(self.conn())
        .await
        .map_err(store_error)?;
        id.map(DirectoryKeyId)
            .ok_or(StoreError::Duplicate(UniqueRule::TokenHash))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn directory_key(&mut self, id: DirectoryKeyId) -> StoreResult<Option<DirectoryKey>> {
        let row: Option<KeyRow> = sqlx::query_as(select!("WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(self.conn())
            .await
            .map_err(store_error)?;
        row.map(KeyRow::into_key).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn directory_keys(&mut self) -> StoreResult<Vec<DirectoryKey>> {
        let rows: Vec<KeyRow> = sqlx::query_as(select!("ORDER BY id"))
            .fetch_all(self.conn())
            .await
            .map_err(store_error)?;
        rows.into_iter().map(KeyRow::into_key).collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn revoke_directory_key(&mut self, id: DirectoryKeyId, at: Timestamp) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE directory_api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id.0)
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
}

#[async_trait]
impl DirectoryKeyStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn directory_key_in_force(&self, hash: &str) -> StoreResult<Option<DirectoryKey>> {
        let row: Option<KeyRow> = sqlx::query_as(select!("WHERE hash = $1 AND revoked_at IS NULL"))
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.map(KeyRow::into_key).transpose()
    }
}
