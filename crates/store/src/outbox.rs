//! Delivering the outbox: claiming due messages with a lease, marking them sent, recording
//! failures, and showing operators what waits.
//!
//! Messages are queued by use cases inside their transaction ([`crate::JournalTx::enqueue_outbox`]).
//! A delivery worker then loops over:
//!
//! 1. [`OutboxStore::claim_outbox`]: takes the next due message and leases it (`leased_until`,
//!    a random token of the claimer's). Every claim counts as an attempt. While the lease runs,
//!    no other claimer (another task, another server instance) gets the message: PostgreSQL
//!    claims with `FOR UPDATE SKIP LOCKED`, SQLite with its single writer.
//! 2. Sends it, outside any transaction (a slow relay never holds a database lock).
//! 3. [`OutboxStore::mark_outbox_sent`] once the transport accepted it, or
//!    [`OutboxStore::record_outbox_failure`] with the next attempt time, or none to park it.
//!
//! Both last steps check the lease token: a claimer whose lease expired and whose message was
//! claimed again meanwhile changes nothing ([`crate::StoreError::StaleVersion`]). A claimer that
//! dies leaves the message leased until `leased_until`; it is then claimed again. So a message
//! is never lost; it may be handed out again only after its lease ran out unconfirmed.
//!
//! Each operation is its own short transaction: these methods are on the store, not on
//! [`crate::Tx`].

use async_trait::async_trait;
use jiff::Timestamp;

use crate::StoreResult;

/// What a claimer asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxClaim {
    /// The present: only messages due at this instant are claimed.
    pub now: Timestamp,
    /// End of the lease: no other claimer gets the message before.
    pub lease_until: Timestamp,
    /// The claimer's secret for this lease, required to confirm or fail the message.
    pub token: String,
}

/// A message handed to a claimer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedOutboxMessage {
    /// Internal id (safe to log).
    pub id: i64,
    /// Unique key of the event (safe to log; base of the Message-ID).
    pub event_key: String,
    /// What kind of message (`mail.rpps_number`…).
    pub kind: String,
    /// What the sender needs (holds personal data: never log it).
    pub payload: serde_json::Value,
    /// Claims so far, this one included.
    pub attempts: i32,
    /// When queued.
    pub created_at: Timestamp,
    /// Not to be sent before: the mail's date (the same at every attempt).
    pub not_before: Timestamp,
}

/// What went wrong with a claimed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxFailure {
    /// When.
    pub at: Timestamp,
    /// The error, for operators (no personal data).
    pub error: String,
    /// When to try again; `None` parks the message until an operator requeues it.
    pub retry_at: Option<Timestamp>,
}

/// An outbox message as operators see it (without its payload, which holds personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Internal id.
    pub id: i64,
    /// Unique key of the event.
    pub event_key: String,
    /// What kind of message.
    pub kind: String,
    /// When queued.
    pub created_at: Timestamp,
    /// Not to be sent before.
    pub not_before: Timestamp,
    /// Claims so far.
    pub attempts: i32,
    /// Next attempt, when neither sent nor parked.
    pub next_attempt_at: Timestamp,
    /// End of the current or last lease.
    pub leased_until: Option<Timestamp>,
    /// When delivered.
    pub sent_at: Option<Timestamp>,
    /// When given up on (until requeued).
    pub parked_at: Option<Timestamp>,
    /// The last failure.
    pub last_error: Option<String>,
}

/// How many messages are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Due now and not leased.
    pub due: i64,
    /// Not yet due (scheduled, or waiting for a retry).
    pub scheduled: i64,
    /// Leased by a claimer right now.
    pub leased: i64,
    /// Given up on after too many failures.
    pub parked: i64,
    /// Delivered.
    pub sent: i64,
}

/// The delivery side of the outbox.
#[async_trait]
pub trait OutboxStore {
    /// Claims the oldest-due message: not sent, not parked, `not_before` and `next_attempt_at`
    /// reached, lease absent or expired. Counts the attempt. `None` when nothing is due.
    async fn claim_outbox(&self, claim: &OutboxClaim) -> StoreResult<Option<ClaimedOutboxMessage>>;

    /// Marks a claimed message sent. [`crate::StoreError::StaleVersion`] when the lease `token`
    /// no longer holds the message (it was claimed again, or already marked).
    async fn mark_outbox_sent(&self, id: i64, token: &str, at: Timestamp) -> StoreResult<()>;

    /// Records a failed attempt on a claimed message and releases it, to be retried at
    /// `retry_at` or parked. [`crate::StoreError::StaleVersion`] when the lease no longer holds.
    async fn record_outbox_failure(
        &self,
        id: i64,
        token: &str,
        failure: &OutboxFailure,
    ) -> StoreResult<()>;

    /// Messages not yet sent (parked ones included), oldest first, after id `after`.
    async fn outbox_pending(&self, after: i64, limit: u32) -> StoreResult<Vec<OutboxEntry>>;

    /// One message by event key, in whatever state.
    async fn outbox_entry(&self, event_key: &str) -> StoreResult<Option<OutboxEntry>>;

    /// How many messages are in each state at `now`.
    async fn outbox_counts(&self, now: Timestamp) -> StoreResult<OutboxCounts>;

    /// Puts a parked message back in the queue, due at `now`, with its attempts reset.
    /// [`crate::StoreError::NotFound`] when no parked message has this id.
    async fn requeue_outbox(&self, id: i64, now: Timestamp) -> StoreResult<()>;
}
