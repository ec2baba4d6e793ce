//! Delivering the outbox (see [`rppsplus_store::outbox`]).
//!
//! Several server instances may claim at once: the claim picks its row with
//! `FOR UPDATE SKIP LOCKED`, so a row another transaction is claiming is skipped rather than
//! waited for, and READ COMMITTED re-checks the conditions on the row's latest version before
//! updating it, so a row leased meanwhile is not claimed twice. Each operation is one
//! statement, its own transaction.

use async_trait::async_trait;
use jiff::Timestamp;
use rppsplus_store::{
    ClaimedOutboxMessage, OutboxClaim, OutboxCounts, OutboxEntry, OutboxFailure, OutboxStore,
    StoreError, StoreResult,
};

use jiff_sqlx::Timestamp as SqlTimestamp;

use crate::PgStore;
use crate::convert::ts;
use crate::error::store_error;

/// The columns of [`EntryRow`].
const ENTRY_COLUMNS: &str = "id, event_key, kind, created_at, not_before, attempts, \
     next_attempt_at, leased_until, sent_at, parked_at, last_error";

#[derive(sqlx::FromRow)]
struct ClaimedRow {
    id: i64,
    event_key: String,
    kind: String,
    payload: String,
    attempts: i32,
    created_at: SqlTimestamp,
    not_before: SqlTimestamp,
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: i64,
    event_key: String,
    kind: String,
    created_at: SqlTimestamp,
    not_before: SqlTimestamp,
    attempts: i32,
    next_attempt_at: SqlTimestamp,
    leased_until: Option<SqlTimestamp>,
    sent_at: Option<SqlTimestamp>,
    parked_at: Option<SqlTimestamp>,
    last_error: Option<String>,
}

fn opt(t: Option<SqlTimestamp>) -> Option<Timestamp> {
    t.map(|t| t.to_jiff())
}

impl EntryRow {
    fn into_entry(self) -> StoreResult<OutboxEntry> {
        Ok(OutboxEntry {
            id: self.id,
            event_key: self.event_key,
            kind: self.kind,
            created_at: self.created_at.to_jiff(),
            not_before: self.not_before.to_jiff(),
            attempts: self.attempts,
            next_attempt_at: self.next_attempt_at.to_jiff(),
            leased_until: opt(self.leased_until),
            sent_at: opt(self.sent_at),
            parked_at: opt(self.parked_at),
            last_error: self.last_error,
        })
    }
}

/// Turns "no row changed" into the lease check's answer.
fn lease_held(rows_affected: u64) -> StoreResult<()> {
    if rows_affected == 1 {
        Ok(())
    } else {
        Err(StoreError::StaleVersion)
    }
}

#[async_trait]
impl OutboxStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn claim_outbox(&self, claim: &OutboxClaim) -> StoreResult<Option<ClaimedOutboxMessage>> {
        let row: Option<ClaimedRow> = sqlx::query_as(
            "UPDATE outbox
             SET attempts = attempts + 1, leased_until = $2, lease_token = $3
             WHERE id = (SELECT id FROM outbox
                         WHERE sent_at IS NULL AND parked_at IS NULL
                           AND not_before <= $1 AND next_attempt_at <= $1
                           AND (leased_until IS NULL OR leased_until <= $1)
                         ORDER BY next_attempt_at, id
                         LIMIT 1
                         FOR UPDATE SKIP LOCKED)
             RETURNING id, event_key, kind, payload::text AS payload, attempts, created_at,
                       not_before",
        )
        .bind(ts(claim.now))
        .bind(ts(claim.lease_until))
        .bind(&claim.token)
        .fetch_optional(self.pool())
        .await
        .map_err(store_error)?;
        let Some(row) = row else { return Ok(None) };
        let payload = serde_json::from_str(&row.payload)
            .map_err(|e| StoreError::Corrupt(format!("outbox {} payload: {e}", row.id)))?;
        Ok(Some(ClaimedOutboxMessage {
            id: row.id,
            event_key: row.event_key,
            kind: row.kind,
            payload,
            attempts: row.attempts,
            created_at: row.created_at.to_jiff(),
            not_before: row.not_before.to_jiff(),
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(outbox.id = id))]
    async fn mark_outbox_sent(&self, id: i64, token: &str, at: Timestamp) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE outbox
             SET sent_at = $3, leased_until = NULL, lease_token = NULL, last_error = NULL
             WHERE id = $1 AND lease_token = $2 AND sent_at IS NULL",
        )
        .bind(id)
        .bind(token)
        .bind(ts(at))
        .execute(self.pool())
        .await
        .map_err(store_error)?;
        lease_held(done.rows_affected())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(outbox.id = id))]
    async fn record_outbox_failure(
        &self,
        id: i64,
        token: &str,
        failure: &OutboxFailure,
    ) -> StoreResult<()> {
        let done = match failure.retry_at {
            Some(retry_at) => sqlx::query(
                "UPDATE outbox
                 SET last_error = $3, next_attempt_at = $4, leased_until = NULL,
                     lease_token = NULL
                 WHERE id = $1 AND lease_token = $2 AND sent_at IS NULL",
            )
            .bind(id)
            .bind(token)
            .bind(&failure.error)
            .bind(ts(retry_at)),
            None => sqlx::query(
                "UPDATE outbox
                 SET last_error = $3, parked_at = $4, leased_until = NULL, lease_token = NULL
                 WHERE id = $1 AND lease_token = $2 AND sent_at IS NULL",
            )
            .bind(id)
            .bind(token)
            .bind(&failure.error)
            .bind(ts(failure.at)),
        }
        .execute(self.pool())
        .await
        .map_err(store_error)?;
        lease_held(done.rows_affected())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn outbox_pending(&self, after: i64, limit: u32) -> StoreResult<Vec<OutboxEntry>> {
        let rows: Vec<EntryRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM outbox
             WHERE sent_at IS NULL AND id > $1 ORDER BY id LIMIT $2"
        )))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(store_error)?;
        rows.into_iter().map(EntryRow::into_entry).collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn outbox_entry(&self, event_key: &str) -> StoreResult<Option<OutboxEntry>> {
        let row: Option<EntryRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM outbox WHERE event_key = $1"
        )))
        .bind(event_key)
        .fetch_optional(self.pool())
        .await
        .map_err(store_error)?;
        row.map(EntryRow::into_entry).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn outbox_counts(&self, now: Timestamp) -> StoreResult<OutboxCounts> {
        let (due, scheduled, leased, parked, sent): (i64, i64, i64, i64, i64) = sqlx::query_as(
            "SELECT
               count(*) FILTER (WHERE sent_at IS NULL AND parked_at IS NULL
                            AND (leased_until IS NULL OR leased_until <= $1)
                            AND next_attempt_at <= $1 AND not_before <= $1),
               count(*) FILTER (WHERE sent_at IS NULL AND parked_at IS NULL
                            AND (leased_until IS NULL OR leased_until <= $1)
                            AND (next_attempt_at > $1 OR not_before > $1)),
               count(*) FILTER (WHERE sent_at IS NULL AND parked_at IS NULL
                            AND leased_until > $1),
               count(*) FILTER (WHERE sent_at IS NULL AND parked_at IS NOT NULL),
               count(*) FILTER (WHERE sent_at IS NOT NULL)
             FROM outbox",
        )
        .bind(ts(now))
        .fetch_one(self.pool())
        .await
        .map_err(store_error)?;
        Ok(OutboxCounts {
            due,
            scheduled,
            leased,
            parked,
            sent,
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(outbox.id = id))]
    async fn requeue_outbox(&self, id: i64, now: Timestamp) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE outbox
             SET parked_at = NULL, attempts = 0, next_attempt_at = $2
             WHERE id = $1 AND parked_at IS NOT NULL AND sent_at IS NULL",
        )
        .bind(id)
        .bind(ts(now))
        .execute(self.pool())
        .await
        .map_err(store_error)?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }
}
