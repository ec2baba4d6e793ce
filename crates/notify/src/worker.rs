//! The delivery worker: one message at a time, from claim to "sent".

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use lettre::message::Mailbox;
use rppsplus_store::{ClaimedOutboxMessage, OutboxClaim, OutboxFailure, Store, StoreError};
use tokio::sync::{Notify, watch};

use crate::mailer::{Mailer, SendError, build_message, message_id_hash};
use crate::templates;

/// When to try a failed message again, and when to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay after the first failure; each further failure doubles it.
    pub first_delay: Duration,
    /// The longest delay between two attempts.
    pub max_delay: Duration,
    /// Attempts after which a message is parked (kept, with its error, for operators).
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_delay: Duration::from_secs(60),
            max_delay: Duration::from_secs(3600),
            max_attempts: 10,
        }
    }
}

impl RetryPolicy {
    /// The delay before the next attempt of a message that failed `attempts` times (≥ 1): the
    /// first delay doubled at each failure, capped; never under one second, so that draining
    /// the queue at one instant ends.
    pub fn delay_after(&self, attempts: i32) -> Duration {
        let doublings = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(30);
        let delay = self
            .first_delay
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max_delay);
        delay.min(self.max_delay).max(Duration::from_secs(1))
    }

    /// Whether a message that failed its `attempts`-th attempt is given up on.
    pub fn gives_up_after(&self, attempts: i32) -> bool {
        i64::from(attempts) >= i64::from(self.max_attempts)
    }
}

/// How the worker runs.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// The sender of every mail.
    pub from: Mailbox,
    /// Retries and giving up.
    pub retry: RetryPolicy,
    /// How long a claimed message is reserved to its claimer. Longer than one delivery can take
    /// (the SMTP timeout): a message whose claimer died is delivered again after it.
    pub lease: Duration,
    /// How often the loop looks for due messages when nothing wakes it.
    pub poll_interval: Duration,
}

impl WorkerSettings {
    /// Settings with the default retry policy, a 5-minute lease and a 5-second poll.
    pub fn new(from: Mailbox) -> Self {
        WorkerSettings {
            from,
            retry: RetryPolicy::default(),
            lease: Duration::from_secs(300),
            poll_interval: Duration::from_secs(5),
        }
    }
}

/// What one step of the worker did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A message was delivered and marked sent.
    Sent,
    /// A message failed: it will be tried again, or it was parked.
    Failed {
        /// Given up on (too many attempts, or an error retrying cannot fix).
        parked: bool,
    },
    /// Nothing was due.
    Empty,
}

/// What draining the queue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Messages delivered.
    pub sent: u64,
    /// Messages that failed and will be tried again.
    pub retried: u64,
    /// Messages given up on.
    pub parked: u64,
}

/// Delivers the outbox through one transport.
pub struct Worker {
    store: Arc<dyn Store>,
    mailer: Arc<dyn Mailer>,
    settings: WorkerSettings,
    wake: Arc<Notify>,
}

fn add(at: Timestamp, d: Duration) -> Timestamp {
    at.checked_add(d).unwrap_or(Timestamp::MAX)
}

fn lease_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::Backend(format!("no randomness for a lease token: {e}")))?;
    Ok(hex::encode(bytes))
}

impl Worker {
    /// A worker on this store and transport.
    pub fn new(store: Arc<dyn Store>, mailer: Arc<dyn Mailer>, settings: WorkerSettings) -> Self {
        Worker {
            store,
            mailer,
            settings,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Notifying this wakes [`Worker::run`] at once (after a commit that queued mail).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// The transport, as logs may show it.
    pub fn describe(&self) -> String {
        self.mailer.describe()
    }

    /// Claims the next message due at `now`, delivers it and records the result.
    ///
    /// Errors are the store's: the message then stays leased until its lease expires, and is
    /// claimed again after.
    pub async fn try_deliver_one(&self, now: Timestamp) -> Result<Outcome, StoreError> {
        let token = lease_token()?;
        let claim = OutboxClaim {
            now,
            lease_until: add(now, self.settings.lease),
            token: token.clone(),
        };
        let Some(message) = self.store.claim_outbox(&claim).await? else {
            return Ok(Outcome::Empty);
        };
        match self.deliver(&message).await {
            Ok(()) => {
                match self.store.mark_outbox_sent(message.id, &token, now).await {
                    Ok(()) => {}
                    Err(StoreError::StaleVersion) => tracing::warn!(
                        outbox.id = message.id,
                        outbox.event_key = %message.event_key,
                        "mail delivered after its lease expired and was claimed again: it may \
                         be delivered twice, with the same Message-ID"
                    ),
                    Err(e) => return Err(e),
                }
                tracing::info!(
                    outbox.id = message.id,
                    outbox.event_key = %message.event_key,
                    outbox.kind = %message.kind,
                    outbox.attempt = message.attempts,
                    "mail sent"
                );
                Ok(Outcome::Sent)
            }
            Err(e) => self.record_failure(&message, &token, now, e).await,
        }
    }

    async fn deliver(&self, message: &ClaimedOutboxMessage) -> Result<(), SendError> {
        let mail = templates::render(&message.kind, &message.payload)
            .map_err(|e| SendError::Permanent(e.to_string()))?;
        let built = build_message(
            &message.event_key,
            message.not_before,
            &self.settings.from,
            &mail,
        )?;
        self.mailer
            .send(&message_id_hash(&message.event_key), &built)
            .await
    }

    async fn record_failure(
        &self,
        message: &ClaimedOutboxMessage,
        token: &str,
        now: Timestamp,
        error: SendError,
    ) -> Result<Outcome, StoreError> {
        let parked = error.is_permanent() || self.settings.retry.gives_up_after(message.attempts);
        let retry_at = if parked {
            None
        } else {
            Some(add(now, self.settings.retry.delay_after(message.attempts)))
        };
        let failure = OutboxFailure {
            at: now,
            error: error.to_string(),
            retry_at,
        };
        match self
            .store
            .record_outbox_failure(message.id, token, &failure)
            .await
        {
            Ok(()) | Err(StoreError::StaleVersion) => {}
            Err(e) => return Err(e),
        }
        if parked {
            tracing::error!(
                outbox.id = message.id,
                outbox.event_key = %message.event_key,
                outbox.kind = %message.kind,
                outbox.attempt = message.attempts,
                error = %error,
                "mail not delivered: parked (see `rppsplus mail pending`)"
            );
        } else {
            tracing::warn!(
                outbox.id = message.id,
                outbox.event_key = %message.event_key,
                outbox.kind = %message.kind,
                outbox.attempt = message.attempts,
                error = %error,
                retry_at = ?retry_at,
                "mail not delivered: will retry"
            );
        }
        Ok(Outcome::Failed { parked })
    }

    /// Delivers everything due at `now`, one message after another, until nothing is due.
    /// Each message is tried at most once (a failure is due again only later).
    pub async fn drain(&self, now: Timestamp) -> Result<DrainReport, StoreError> {
        let mut report = DrainReport::default();
        loop {
            match self.try_deliver_one(now).await? {
                Outcome::Empty => return Ok(report),
                Outcome::Sent => report.sent += 1,
                Outcome::Failed { parked: false } => report.retried += 1,
                Outcome::Failed { parked: true } => report.parked += 1,
            }
        }
    }

    /// The background loop: delivers due messages as they come, sleeping only when none is
    /// due, until `stop` turns true (or its sender goes). A message being delivered when asked
    /// to stop is finished first.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        tracing::info!(transport = %self.mailer.describe(), "mail worker started");
        loop {
            if *stop.borrow() {
                break;
            }
            let pause = match self.try_deliver_one(Timestamp::now()).await {
                Ok(Outcome::Empty) => true,
                Ok(_) => false,
                Err(e) => {
                    tracing::warn!(error = %e, "mail worker: the outbox could not be read");
                    true
                }
            };
            if pause {
                tokio::select! {
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(self.settings.poll_interval) => {}
                    changed = stop.changed() => {
                        if changed.is_err() {
                            break;
                        }
                    }
                }
            }
        }
        tracing::info!("mail worker stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let p = RetryPolicy {
            first_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(600),
            max_attempts: 5,
        };
        let delays: Vec<u64> = (1..=7).map(|n| p.delay_after(n).as_secs()).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 600, 600]);
        assert_eq!(p.delay_after(i32::MAX).as_secs(), 600);
        assert_eq!(p.delay_after(0).as_secs(), 30);
        assert!(!p.gives_up_after(4));
        assert!(p.gives_up_after(5));
        let zero = RetryPolicy {
            first_delay: Duration::ZERO,
            ..p
        };
        assert_eq!(zero.delay_after(1), Duration::from_secs(1));
    }
}
