//! The PostgreSQL transaction and the repository traits on it.

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
use sqlx::{PgConnection, Postgres, Transaction};

use crate::error::store_error;

/// A `READ COMMITTED` transaction on a pooled connection.
///
/// Dropping it without [`Tx::commit`] rolls it back.
pub struct PgTx {
    tx: Transaction<'static, Postgres>,
}

impl PgTx {
    pub(crate) fn new(tx: Transaction<'static, Postgres>) -> Self {
        PgTx { tx }
    }

    /// The connection the transaction runs on.
    fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

#[async_trait]
impl Tx for PgTx {
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
impl SequenceTx for PgTx {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn next_rpps_value(&mut self) -> StoreResult<u64> {
        // The UPDATE locks the row until commit: a concurrent transaction, of this instance or
        // another, waits and then increments the value this one committed. A rolled-back
        // transaction gives its value back. (A SEQUENCE would not wait, but `setval` cannot
        // raise it safely while others draw from it.)
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
        sqlx::query("UPDATE rpps_sequence SET next_value = GREATEST(next_value, $1) WHERE id = 1")
            .bind(start)
            .execute(self.conn())
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
