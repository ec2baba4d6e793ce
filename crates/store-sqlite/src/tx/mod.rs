//! The SQLite transaction and the repository traits on it.

mod directory_keys;
mod drafts;
mod habilitations;
mod history;
mod journal;
mod persons;
mod registrations;
mod sessions;
mod structures;

use async_trait::async_trait;
use rppsplus_store::{SequenceTx, StoreError, StoreResult, Tx};
use sqlx::{Sqlite, SqliteConnection, Transaction};

use crate::error::store_error;

/// A write transaction on the single writer connection, begun with `BEGIN IMMEDIATE`.
///
/// Dropping it without [`Tx::commit`] rolls it back.
pub struct SqliteTx {
    tx: Transaction<'static, Sqlite>,
}

impl SqliteTx {
    pub(crate) fn new(tx: Transaction<'static, Sqlite>) -> Self {
        SqliteTx { tx }
    }

    /// The connection the transaction runs on.
    fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

#[async_trait]
impl Tx for SqliteTx {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await.map_err(store_error)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn rollback(self: Box<Self>) -> StoreResult<()> {
        self.tx.rollback().await.map_err(store_error)
    }
}

#[async_trait]
impl SequenceTx for SqliteTx {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn next_rpps_value(&mut self) -> StoreResult<u64> {
        // Writers are serialised by BEGIN IMMEDIATE, so the read-and-increment is atomic; a
        // rolled-back transaction gives its value back.
        let value: i64 = sqlx::query_scalar(
            "UPDATE rpps_sequence SET next_value = next_value + 1 WHERE id = 1
             RETURNING next_value - 1",
        )
        .fetch_one(self.conn())
        .await
        .map_err(store_error)?;
        u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("RPPS sequence at {value}")))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(start))]
    async fn raise_rpps_sequence(&mut self, start: u64) -> StoreResult<()> {
        let start = i64::try_from(start).map_err(|_| {
            StoreError::Backend(format!("RPPS sequence start {start} out of range"))
        })?;
        sqlx::query("UPDATE rpps_sequence SET next_value = max(next_value, $1) WHERE id = 1")
            .bind(start)
            .execute(self.conn())
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
