//! The audit log, the outbox and the change feed.

use async_trait::async_trait;
use rppsplus_store::{
    JournalTx, NewAuditEntry, NewChange, NewOutboxMessage, StoreError, StoreResult, UniqueRule,
    audit,
};

use super::PgTx;
use crate::convert::ts;
use crate::error::store_error;

#[async_trait]
impl JournalTx for PgTx {
    #[tracing::instrument(level = "debug", skip_all, fields(audit.action = %e.action))]
    async fn append_audit(&mut self, e: &NewAuditEntry) -> StoreResult<i64> {
        let details = serde_json::to_string(&e.details)
            .map_err(|err| StoreError::Backend(format!("audit details: {err}")))?;
        // Locking the head row orders appenders: another transaction appending now waits here
        // until this one commits, then reads the head this one wrote. Sequence numbers have no
        // gaps and prev_hash is always the previous row's hash, however many instances write.
        //
        // The same round trip has PostgreSQL normalise the details as jsonb (key order,
        // number spelling): the hash is computed on what will be read back, not on what was
        // sent, so the verifier recomputes the same hash.
        let (last_seq, last_hash, stored_details): (i64, String, String) = sqlx::query_as(
            "SELECT audit_seq, audit_hash, $1::jsonb::text FROM journal_head WHERE id = 1
             FOR UPDATE",
        )
        .bind(&details)
        .fetch_one(self.conn())
        .await
        .map_err(store_error)?;
        let seq = last_seq + 1;
        let hashed = NewAuditEntry {
            details: serde_json::from_str(&stored_details)
                .map_err(|err| StoreError::Corrupt(format!("audit details from jsonb: {err}")))?,
            ..e.clone()
        };
        let hash = audit::row_hash(&last_hash, seq, &hashed);
        sqlx::query(
            "WITH appended AS (
                 INSERT INTO audit_log (seq, at, actor, action, target, details, prev_hash, hash)
                 VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)
             )
             UPDATE journal_head SET audit_seq = $1, audit_hash = $8 WHERE id = 1",
        )
        .bind(seq)
        .bind(ts(e.at))
        .bind(&e.actor)
        .bind(&e.action)
        .bind(&e.target)
        .bind(&stored_details)
        .bind(&last_hash)
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
        // DO NOTHING rather than an error, which would abort the whole transaction. Against a
        // concurrent insert of the same key, PostgreSQL waits for the other transaction and
        // reports the conflict only if it commits.
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO outbox (event_key, kind, payload, created_at, not_before, attempts,
                                 next_attempt_at)
             VALUES ($1, $2, $3::jsonb, $4, $5, 0, $5)
             ON CONFLICT (event_key) DO NOTHING
             RETURNING id",
        )
        .bind(&m.event_key)
        .bind(&m.kind)
        .bind(payload)
        .bind(ts(m.at))
        .bind(ts(m.not_before))
        .fetch_optional(self.conn())
        .await
        .map_err(store_error)?;
        id.ok_or(StoreError::Duplicate(UniqueRule::OutboxEventKey))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(change.entity = %c.entity))]
    async fn append_change(&mut self, c: &NewChange) -> StoreResult<i64> {
        // Not a SEQUENCE: nextval hands out numbers in call order, not commit order. If T1
        // takes 10 and T2 takes 11 and T2 commits first, a reader can see 11, move its cursor
        // past it, and never see 10 when T1 commits. Incrementing the head row instead holds
        // its lock until commit, so T2 cannot take a number until T1 has committed or rolled
        // back: numbers become visible in order, and a reader that has seen N never later
        // finds a new row below N.
        let seq: i64 = sqlx::query_scalar(
            "WITH head AS (
                 UPDATE journal_head SET change_seq = change_seq + 1 WHERE id = 1
                 RETURNING change_seq
             )
             INSERT INTO change_feed (seq, entity, entity_id, op, at)
             SELECT change_seq, $1, $2, $3, $4 FROM head
             RETURNING seq",
        )
        .bind(&c.entity)
        .bind(c.entity_id)
        .bind(&c.op)
        .bind(ts(c.at))
        .fetch_one(self.conn())
        .await
        .map_err(store_error)?;
        Ok(seq)
    }
}
