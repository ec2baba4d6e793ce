//! The audit log, the outbox and the change feed.

use async_trait::async_trait;
use rppsplus_store::{
    JournalTx, NewAuditEntry, NewChange, NewOutboxMessage, StoreError, StoreResult, UniqueRule,
    audit,
};

use super::SqliteTx;
use crate::convert::micros;
use crate::error::store_error;

#[async_trait]
impl JournalTx for SqliteTx {
    #[tracing::instrument(level = "debug", skip_all, fields(audit.action = %e.action))]
    async fn append_audit(&mut self, e: &NewAuditEntry) -> StoreResult<i64> {
        // The head row gives the previous row's sequence and hash. Writers are serialised by
        // BEGIN IMMEDIATE, so nobody appends between this read and the update below.
        let (last_seq, last_hash): (i64, String) =
            sqlx::query_as("SELECT audit_seq, audit_hash FROM journal_head WHERE id = 1")
                .fetch_one(self.conn())
                .await
                .map_err(store_error)?;
        let seq = last_seq + 1;
        // serde_json gives back exactly this value when reading the text, so the verifier
        // hashes what is hashed here.
        let details = serde_json::to_string(&e.details)
            .map_err(|err| StoreError::Backend(format!("audit details: {err}")))?;
        let hash = audit::row_hash(&last_hash, seq, e);
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, action, target, details, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(seq)
        .bind(micros(e.at))
        .bind(&e.actor)
        .bind(&e.action)
        .bind(&e.target)
        .bind(details)
        .bind(&last_hash)
        .bind(&hash)
        .execute(self.conn())
        .await
        .map_err(store_error)?;
        sqlx::query("UPDATE journal_head SET audit_seq = $1, audit_hash = $2 WHERE id = 1")
            .bind(seq)
            .bind(&hash)
            .execute(self.conn())
            .await
            .map_err(store_error)?;
        Ok(seq)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(outbox.kind = %m.kind))]
    async fn enqueue_outbox(&mut self, m: &NewOutboxMessage) -> StoreResult<i64> {
        let payload = serde_json::to_string(&m.payload)
            .map_err(|err| StoreError::Backend(format!("outbox payload: {err}")))?;
        // DO NOTHING keeps the transaction usable after a duplicate, as on PostgreSQL.
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO outbox (event_key, kind, payload, created_at, not_before, attempts,
                                 next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, 0, $5)
             ON CONFLICT (event_key) DO NOTHING
             RETURNING id",
        )
        .bind(&m.event_key)
        .bind(&m.kind)
        .bind(payload)
        .bind(micros(m.at))
        .bind(micros(m.not_before))
        .fetch_optional(self.conn())
        .await
        .map_err(store_error)?;
        id.ok_or(StoreError::Duplicate(UniqueRule::OutboxEventKey))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(change.entity = %c.entity))]
    async fn append_change(&mut self, c: &NewChange) -> StoreResult<i64> {
        // One writer at a time: numbers are taken in commit order.
        let seq: i64 = sqlx::query_scalar(
            "UPDATE journal_head SET change_seq = change_seq + 1 WHERE id = 1 RETURNING change_seq",
        )
        .fetch_one(self.conn())
        .await
        .map_err(store_error)?;
        sqlx::query(
            "INSERT INTO change_feed (seq, entity, entity_id, op, at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(seq)
        .bind(&c.entity)
        .bind(c.entity_id)
        .bind(&c.op)
        .bind(micros(c.at))
        .execute(self.conn())
        .await
        .map_err(store_error)?;
        Ok(seq)
    }
}
