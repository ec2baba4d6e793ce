//! Reads for access decisions: one statement, so one snapshot, outside any transaction (see
//! [`rppsplus_store::DecisionStore`]).
//!
//! The statements are kept as small as the answer allows, because every decision runs one:
//! the situation carries its establishment's FINESS and its person's IDNPS (no join with
//! `structures` nor `persons`), one index on `situations (person_idnps, id)` covers every
//! column read, and the few rows are put in order here rather than by a sort in the plan (see
//! the migrations `decision_speed`, `situation_closed_at` and `decision_by_idnps`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use jiff_sqlx::{Date, Timestamp};
use rppsplus_domain::Idnps;
use rppsplus_store::{
    ApiToken, ApiTokenId, DecisionFacts, DecisionSituation, DecisionStore, PersonId, SituationId,
    StoreError, StoreResult, TokenHolder, TokenInForce,
};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow};
use sqlx::{Connection, FromRow, Row};
use tokio::sync::{Mutex, MutexGuard, Semaphore, SemaphorePermit};

use crate::PgStore;
use crate::convert::{corrupt, finess};
use crate::error::store_error;
use crate::rows::ApiTokenRow;

/// The situation columns every decision statement returns, named as [`situations`] reads them.
macro_rules! situation_columns {
    () => {
        "s.id AS s_id, s.structure_finess AS s_finess, s.role_code AS s_role,
         s.start_date AS s_start, s.end_date AS s_end, s.closed_at AS s_closed_at"
    };
}

/// The token columns a decision needs, named as [`token`] reads them.
macro_rules! token_columns {
    () => {
        "t.id AS t_id, t.kind AS t_kind, t.person_id AS t_person, t.system_name AS t_system,
         t.last_used_at AS t_last_used"
    };
}

/// The change-feed head and the situations of the professional `$1`: one row per situation,
/// or one row with NULLs when there is none. Under READ COMMITTED one statement sees one
/// snapshot: the head and the situations are of the same committed state, and a situation
/// closed by a transaction that committed change `N` is seen closed by every read that reports
/// `N` or more.
///
/// The situation carries its person's IDNPS (migration `decision_by_idnps`), so this is two
/// single-row reads and one index range, with no join through `persons`: PostgreSQL's cost for
/// a statement this small is mostly setting up each node and each output column, and every
/// decision pays it. When there is no situation, [`FACTS_WITH_PERSON`] tells an unknown
/// professional from a known one without situations.
const FACTS: &str = concat!(
    "SELECT h.change_seq, ",
    situation_columns!(),
    " FROM journal_head h
     LEFT JOIN situations s ON s.person_idnps = $1
     WHERE h.id = 1"
);

/// [`FACTS`] and whether a person has the IDNPS `$1` (`p_id`), in one snapshot.
const FACTS_WITH_PERSON: &str = concat!(
    "SELECT h.change_seq, p.id AS p_id, ",
    situation_columns!(),
    " FROM journal_head h
     LEFT JOIN persons p ON p.idnps = $1
     LEFT JOIN situations s ON s.person_idnps = p.idnps
     WHERE h.id = 1"
);

/// [`FACTS`] and what a decision needs of the unrevoked token with the hash `$2` (NULLs when
/// there is none), in one statement and so one snapshot.
const FACTS_FOR_TOKEN: &str = concat!(
    "SELECT h.change_seq, ",
    token_columns!(),
    ", ",
    situation_columns!(),
    " FROM journal_head h
     LEFT JOIN api_tokens t ON t.hash = $2 AND t.revoked_at IS NULL
     LEFT JOIN situations s ON s.person_idnps = $1
     WHERE h.id = 1"
);

/// [`FACTS_FOR_TOKEN`] and whether a person has the IDNPS `$1` (`p_id`), in one snapshot.
const FACTS_WITH_PERSON_FOR_TOKEN: &str = concat!(
    "SELECT h.change_seq, p.id AS p_id, ",
    token_columns!(),
    ", ",
    situation_columns!(),
    " FROM journal_head h
     LEFT JOIN api_tokens t ON t.hash = $2 AND t.revoked_at IS NULL
     LEFT JOIN persons p ON p.idnps = $1
     LEFT JOIN situations s ON s.person_idnps = p.idnps
     WHERE h.id = 1"
);

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

/// The situations in rows of the statements above, oldest first.
fn situations(rows: &[PgRow]) -> StoreResult<Vec<DecisionSituation>> {
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
    Ok(situations)
}

/// The facts in the rows of one statement; `None` when it found no situation and did not
/// read the person (then the statement with the person answers).
fn facts(rows: &[PgRow], with_person: bool) -> StoreResult<Option<DecisionFacts>> {
    let Some(first) = rows.first() else {
        return Err(StoreError::Corrupt(
            "the journal head row is missing".into(),
        ));
    };
    let registry_version: i64 = first.try_get("change_seq").map_err(store_error)?;
    let situations = situations(rows)?;
    // A situation always belongs to a person: finding one tells the professional is known.
    let known = if !situations.is_empty() {
        true
    } else if with_person {
        first
            .try_get::<Option<i64>, _>("p_id")
            .map_err(store_error)?
            .is_some()
    } else {
        return Ok(None);
    };
    Ok(Some(DecisionFacts {
        registry_version,
        known,
        situations,
    }))
}

/// The token in the first row of [`FACTS_FOR_TOKEN`] or [`FACTS_WITH_PERSON_FOR_TOKEN`].
fn token(rows: &[PgRow]) -> StoreResult<Option<TokenInForce>> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let Some(id) = first
        .try_get::<Option<i64>, _>("t_id")
        .map_err(store_error)?
    else {
        return Ok(None);
    };
    let kind: String = first.try_get("t_kind").map_err(store_error)?;
    let person: Option<i64> = first.try_get("t_person").map_err(store_error)?;
    let system: Option<String> = first.try_get("t_system").map_err(store_error)?;
    let last_used: Option<Timestamp> = first.try_get("t_last_used").map_err(store_error)?;
    let holder = TokenHolder::from_parts(&kind, person.map(PersonId), system)
        .ok_or_else(|| corrupt("api token", id, "holder does not fit its kind"))?;
    Ok(Some(TokenInForce {
        id: ApiTokenId(id),
        holder,
        last_used_at: last_used.map(|t| t.to_jiff()),
    }))
}

#[async_trait]
impl DecisionStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn decision_facts(&self, idnps: &Idnps) -> StoreResult<DecisionFacts> {
        let rows = self.decisions.fetch_all(FACTS, &[idnps.as_str()]).await?;
        if let Some(facts) = facts(&rows, false)? {
            return Ok(facts);
        }
        let rows = self
            .decisions
            .fetch_all(FACTS_WITH_PERSON, &[idnps.as_str()])
            .await?;
        facts(&rows, true)?.ok_or_else(|| StoreError::Corrupt("decision facts not read".into()))
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
    ) -> StoreResult<(Option<TokenInForce>, DecisionFacts)> {
        let binds = [idnps.as_str(), token_hash];
        let rows = self.decisions.fetch_all(FACTS_FOR_TOKEN, &binds).await?;
        if let Some(facts) = facts(&rows, false)? {
            return Ok((token(&rows)?, facts));
        }
        // No situation: token and person are read again together, so that everything
        // answered comes from one snapshot.
        let rows = self
            .decisions
            .fetch_all(FACTS_WITH_PERSON_FOR_TOKEN, &binds)
            .await?;
        let facts = facts(&rows, true)?
            .ok_or_else(|| StoreError::Corrupt("decision facts not read".into()))?;
        Ok((token(&rows)?, facts))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use rppsplus_store::Store;
    use rppsplus_test_support::TestDb;
    use sqlx::AssertSqlSafe;

    type Outcome = Result<(), Box<dyn std::error::Error + Send + Sync>>;

    /// `EXPLAIN` of `statement` with every parameter bound to `value`, one line per node.
    async fn plan(store: &PgStore, statement: &str, params: usize, value: &str) -> Vec<String> {
        // The planner is asked as it would plan on a registry of real size, where it prefers
        // the index to reading a few pages.
        let mut conn = store.pool().acquire().await.unwrap();
        for setting in ["SET enable_seqscan = off", "SET enable_bitmapscan = off"] {
            sqlx::query(setting).execute(&mut *conn).await.unwrap();
        }
        let mut q = sqlx::query_scalar::<_, String>(AssertSqlSafe(format!("EXPLAIN {statement}")));
        for _ in 0..params {
            q = q.bind(value);
        }
        q.fetch_all(&mut *conn).await.unwrap()
    }

    /// The statement every decision runs reads the situations from one range of the covering
    /// index on the IDNPS, never `persons`; only the statements used when there is no
    /// situation read the person.
    #[tokio::test]
    async fn decisions_read_situations_by_idnps_from_one_index() -> Outcome {
        let Some(db) = TestDb::postgres().await? else {
            return Ok(());
        };
        let store = PgStore::connect(&db.url).await?;
        for (statement, params, reads_persons) in [
            (FACTS, 1, false),
            (FACTS_FOR_TOKEN, 2, false),
            (FACTS_WITH_PERSON, 1, true),
            (FACTS_WITH_PERSON_FOR_TOKEN, 2, true),
        ] {
            let plan = plan(&store, statement, params, "810000000001")
                .await
                .join("\n");
            assert!(
                plan.contains("using ix_situations_decision on situations"),
                "{plan}"
            );
            assert!(plan.contains("person_idnps ="), "{plan}");
            assert_eq!(plan.contains("on persons"), reads_persons, "{plan}");
        }
        store.close().await;
        Ok(())
    }
}
