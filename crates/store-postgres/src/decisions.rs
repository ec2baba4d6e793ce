//! Reads for access decisions: one statement, so one snapshot, outside any transaction (see
//! [`rppsplus_store::DecisionStore`]).
//!
//! The statements are kept as small as the answer allows, because every decision runs one:
//! the situation carries its establishment's FINESS (no join with `structures`), one index on
//! `situations (person_id, id)` covers every column read, and the few rows are put in order
//! here rather than by a sort in the plan (see the migrations `decision_speed` and
//! `situation_closed_at`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use jiff_sqlx::{Date, Timestamp};
use rppsplus_domain::Idnps;
use rppsplus_store::{
    ApiToken, DecisionFacts, DecisionSituation, DecisionStore, PersonId, SituationId, StoreError,
    StoreResult,
};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow};
use sqlx::{Connection, FromRow, Row};
use tokio::sync::{Mutex, MutexGuard, Semaphore, SemaphorePermit};

use crate::PgStore;
use crate::convert::finess;
use crate::error::store_error;
use crate::rows::ApiTokenRow;

/// The change-feed head, the person and their situations: one row per situation, or one row
/// with NULLs when the person has none or does not exist. Under READ COMMITTED one statement
/// sees one snapshot: the head and the situations are of the same committed state, and a
/// situation closed by a transaction that committed change `N` is seen closed by every read
/// that reports `N` or more.
const FACTS: &str = "SELECT h.change_seq, p.id AS p_id, s.id AS s_id,
            s.structure_finess AS s_finess, s.role_code AS s_role, s.start_date AS s_start,
            s.end_date AS s_end,
            s.closed_at AS s_closed_at
     FROM journal_head h
     LEFT JOIN persons p ON p.idnps = $1
     LEFT JOIN situations s ON s.person_id = p.id
     WHERE h.id = 1";

/// [`FACTS`] and the unrevoked token with the hash `$2` (NULLs when there is none), in one
/// statement and so one snapshot.
const FACTS_FOR_TOKEN: &str = "SELECT h.change_seq, t.id, t.hash, t.kind, t.person_id,
            t.system_name, t.label, t.created_at, t.last_used_at, t.revoked_at,
            p.id AS p_id, s.id AS s_id,
            s.structure_finess AS s_finess, s.role_code AS s_role, s.start_date AS s_start,
            s.end_date AS s_end,
            s.closed_at AS s_closed_at
     FROM journal_head h
     LEFT JOIN api_tokens t ON t.hash = $2 AND t.revoked_at IS NULL
     LEFT JOIN persons p ON p.idnps = $1
     LEFT JOIN situations s ON s.person_id = p.id
     WHERE h.id = 1";

/// The connections decisions run on, outside the pool.
///
/// The pool makes one more round trip each time a connection comes back to it, to flush what a
/// dropped statement may have left: half as much again for a one-statement read. Decisions
/// take these connections instead, each behind a lock, and leave that flushing to the next use
/// (sqlx drains a pending answer before it sends a statement). A connection that fails is
/// dropped and a fresh one is opened in its place, so a database restart costs at most one
/// retry per connection; no result is ever kept, each decision runs its own statement.
pub(crate) struct DecisionConnections {
    options: PgConnectOptions,
    /// One permit per slot: at most as many decisions as slots look for one, and waiting for
    /// a permit, a slot or a new connection is bounded by `wait`.
    free: Semaphore,
    slots: Vec<Mutex<Option<PgConnection>>>,
    next: AtomicUsize,
    wait: Duration,
}

impl std::fmt::Debug for DecisionConnections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionConnections")
            .field("size", &self.slots.len())
            .finish_non_exhaustive()
    }
}

/// A slot taken for one statement. The guard is dropped before the permit (field order), so
/// the slot is unlocked by the time another waiter is let in.
struct Slot<'a> {
    conn: MutexGuard<'a, Option<PgConnection>>,
    _permit: SemaphorePermit<'a>,
}

impl DecisionConnections {
    /// `size` connections, opened on first use.
    pub(crate) fn new(options: PgConnectOptions, size: usize, wait: Duration) -> Self {
        let size = size.max(1);
        DecisionConnections {
            options,
            free: Semaphore::new(size),
            slots: (0..size).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            wait,
        }
    }

    async fn slot(&self) -> StoreResult<Slot<'_>> {
        let permit = tokio::time::timeout(self.wait, self.free.acquire())
            .await
            .map_err(|_| store_error(sqlx::Error::PoolTimedOut))?
            .map_err(|_| store_error(sqlx::Error::PoolClosed))?;
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let count = self.slots.len();
        for i in 0..count {
            if let Some(slot) = self.slots.get((start + i) % count)
                && let Ok(conn) = slot.try_lock()
            {
                return Ok(Slot {
                    conn,
                    _permit: permit,
                });
            }
        }
        // Every locker holds a permit, so a slot should be unlocked; the benchmark showed a
        // permit holder finding none about once in 100 000 requests under full load, so wait
        // for this turn's slot (bounded) rather than fail the decision.
        let slot = self
            .slots
            .get(start % count)
            .ok_or_else(|| StoreError::Corrupt("no decision connection".into()))?;
        let conn = tokio::time::timeout(self.wait, slot.lock())
            .await
            .map_err(|_| store_error(sqlx::Error::PoolTimedOut))?;
        Ok(Slot {
            conn,
            _permit: permit,
        })
    }

    /// Runs `statement` on a connection of its own. A connection that was reused and fails is
    /// dropped, and the statement run once more on a new connection: it may have been broken
    /// meanwhile (a database restart, `pg_terminate_backend`, a network cut), and retrying is
    /// safe because the statement only reads and the retry has its own snapshot. A fresh
    /// connection that fails reports the error.
    async fn fetch_all(&self, statement: &'static str, binds: &[&str]) -> StoreResult<Vec<PgRow>> {
        let mut slot = self.slot().await?;
        for attempt in 0..2 {
            let reused = slot.conn.is_some();
            let conn = match slot.conn.as_mut() {
                Some(conn) => conn,
                None => slot.conn.insert(
                    tokio::time::timeout(self.wait, PgConnection::connect_with(&self.options))
                        .await
                        .map_err(|_| store_error(sqlx::Error::PoolTimedOut))?
                        .map_err(store_error)?,
                ),
            };
            let mut query = sqlx::query(statement);
            for b in binds {
                query = query.bind(*b);
            }
            match query.fetch_all(&mut *conn).await {
                Ok(rows) => return Ok(rows),
                Err(e) => {
                    // A connection that reported an error is not trusted with the next
                    // statement: a cancelled or failed exchange may have left it out of step.
                    if let Some(conn) = slot.conn.take() {
                        let _ = conn.close_hard().await;
                    }
                    if !(reused && attempt == 0) {
                        return Err(store_error(e));
                    }
                    tracing::debug!(error = %e, "decision connection failed, reconnecting");
                }
            }
        }
        Err(StoreError::Corrupt("decision retry loop ended".into()))
    }

    /// Refuses new decisions, then closes each connection once its decision is done.
    pub(crate) async fn close(&self) {
        self.free.close();
        for slot in &self.slots {
            if let Some(conn) = slot.lock().await.take() {
                let _ = conn.close().await;
            }
        }
    }
}

/// The unrevoked token with the hash `$1`, for requests that read nothing else.
const TOKEN: &str = "SELECT id, hash, kind, person_id, system_name, label, created_at,
            last_used_at, revoked_at
     FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL";

/// The facts in the rows of [`FACTS`] or [`FACTS_FOR_TOKEN`], situations oldest first.
fn facts(rows: &[PgRow]) -> StoreResult<DecisionFacts> {
    let Some(first) = rows.first() else {
        return Err(StoreError::Corrupt(
            "the journal head row is missing".into(),
        ));
    };
    let registry_version: i64 = first.try_get("change_seq").map_err(store_error)?;
    let person: Option<i64> = first.try_get("p_id").map_err(store_error)?;
    let mut situations = Vec::with_capacity(rows.len());
    for row in rows {
        let id: Option<i64> = row.try_get("s_id").map_err(store_error)?;
        let structure: Option<String> = row.try_get("s_finess").map_err(store_error)?;
        let role_code: Option<String> = row.try_get("s_role").map_err(store_error)?;
        let start: Option<Date> = row.try_get("s_start").map_err(store_error)?;
        let end: Option<Date> = row.try_get("s_end").map_err(store_error)?;
        let closed_at: Option<Timestamp> = row.try_get("s_closed_at").map_err(store_error)?;
        let (Some(id), Some(structure), Some(role_code), Some(start)) =
            (id, structure, role_code, start)
        else {
            continue;
        };
        situations.push(DecisionSituation {
            id: SituationId(id),
            structure: finess(&structure)?,
            role_code,
            start_date: start.to_jiff(),
            end_date: end.map(|d| d.to_jiff()),
            closed_at: closed_at.map(|t| t.to_jiff()),
        });
    }
    situations.sort_unstable_by_key(|s| s.id.0);
    Ok(DecisionFacts {
        registry_version,
        person: person.map(PersonId),
        situations,
    })
}

#[async_trait]
impl DecisionStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn decision_facts(&self, idnps: &Idnps) -> StoreResult<DecisionFacts> {
        let rows = self.decisions.fetch_all(FACTS, &[idnps.as_str()]).await?;
        facts(&rows)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn api_token_in_force(&self, hash: &str) -> StoreResult<Option<ApiToken>> {
        let rows = self.decisions.fetch_all(TOKEN, &[hash]).await?;
        rows.first()
            .map(|row| {
                ApiTokenRow::from_row(row)
                    .map_err(store_error)?
                    .into_token()
            })
            .transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn decision_facts_for_token(
        &self,
        idnps: &Idnps,
        token_hash: &str,
    ) -> StoreResult<(Option<ApiToken>, DecisionFacts)> {
        let rows = self
            .decisions
            .fetch_all(FACTS_FOR_TOKEN, &[idnps.as_str(), token_hash])
            .await?;
        let token = match rows.first() {
            Some(first)
                if first
                    .try_get::<Option<i64>, _>("id")
                    .map_err(store_error)?
                    .is_some() =>
            {
                Some(
                    ApiTokenRow::from_row(first)
                        .map_err(store_error)?
                        .into_token()?,
                )
            }
            _ => None,
        };
        Ok((token, facts(&rows)?))
    }
}
