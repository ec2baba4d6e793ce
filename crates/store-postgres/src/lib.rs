//! The PostgreSQL implementation of the storage seam: the production database, shared by
//! several server instances.
//!
//! Every [`Tx`] is a `READ COMMITTED` transaction from one pool. Where instances must agree on
//! an order, the store takes a row lock that is held until commit:
//!
//! - `rpps_sequence` (one row) for [`SequenceTx::next_rpps_value`](rppsplus_store::SequenceTx);
//! - `journal_head` (one row) for the audit chain and the change feed
//!   ([`JournalTx`](rppsplus_store::JournalTx)).
//!
//! A transaction holding one of these rows makes every other transaction that needs it wait
//! until it commits. To keep waits short and free of deadlocks, use cases take an RPPS value
//! before writing data and append their journal rows (audit, outbox, changes) last, just
//! before committing.
//!
//! Uniqueness rules are checked with `INSERT … ON CONFLICT DO NOTHING`: a duplicate is reported
//! as [`StoreError::Duplicate`] and the transaction stays usable, as on SQLite (a failed
//! statement would abort a PostgreSQL transaction, and wrapping each insert in a savepoint
//! would cost subtransactions that hurt every session once a bulk import opens more than 64).

mod convert;
mod decisions;
mod directory;
mod error;
mod outbox;
mod rows;
mod tx;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rppsplus_store::{AuditRow, Backend, ChangeRow, RowCounts, Store, StoreError, StoreResult, Tx};
use sqlx::migrate::{Migrate, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::decisions::DecisionConnections;
use crate::error::store_error;
pub use crate::tx::PgTx;

/// The embedded migrations (`migrations/`, named like SQLite's).
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Connections of the pool per server instance, unless set otherwise.
pub const DEFAULT_POOL_SIZE: u32 = 10;

/// How long a request waits for a free connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection idle for longer than this is checked (one round trip) before it is handed
/// out; a busier one is not (see [`PgStore::connect`]).
const CHECK_IF_IDLE_FOR: Duration = Duration::from_secs(30);

/// Connections for access decisions and token checks, outside the pool, per worker thread of
/// the runtime (see [`DecisionConnections`]).
const DECISION_CONNECTIONS_PER_WORKER: usize = 2;

/// The `application_name` of the connections for decisions.
pub const DECISION_CONNECTIONS_NAME: &str = "rppsplus-decisions";

/// How many connections one server instance opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgSettings {
    /// Connections of the pool: pages, writes, the directory, background work.
    pub pool_size: u32,
    /// Connections for access decisions and token checks, outside the pool; `None`: two per
    /// worker thread of the runtime.
    pub decision_connections: Option<usize>,
}

impl Default for PgSettings {
    fn default() -> Self {
        PgSettings {
            pool_size: DEFAULT_POOL_SIZE,
            decision_connections: None,
        }
    }
}

/// A registry stored in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    decisions: Arc<DecisionConnections>,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db?…`, as sqlx parses it).
    /// Does not migrate: call [`Store::migrate`] (the `migrate` command does, before a new
    /// version starts).
    pub async fn connect(url: &str) -> StoreResult<PgStore> {
        Self::connect_with(url, PgSettings::default()).await
    }

    /// [`PgStore::connect`] with as many connections as `settings` say (at least one of each).
    pub async fn connect_with(url: &str, settings: PgSettings) -> StoreResult<PgStore> {
        // sqlx checks every connection it hands out with a round trip of its own by default,
        // and again when it takes it back: three round trips for a one-statement read such as
        // an access decision. The check when taken back stays (it also flushes a dropped
        // statement); the one before is kept only for connections that sat idle, the ones a
        // database restart or a network cut may have broken meanwhile.
        let options: PgConnectOptions = url.parse().map_err(store_error)?;
        let pool = PgPoolOptions::new()
            .max_connections(settings.pool_size.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > CHECK_IF_IDLE_FOR {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options.clone())
            .await
            .map_err(store_error)?;
        let decision_connections = settings.decision_connections.unwrap_or_else(|| {
            let workers =
                tokio::runtime::Handle::try_current().map_or(1, |h| h.metrics().num_workers());
            workers * DECISION_CONNECTIONS_PER_WORKER
        });
        let decisions = Arc::new(DecisionConnections::new(
            // Named, so that operators see them apart from the pool's in `pg_stat_activity`.
            options.application_name(DECISION_CONNECTIONS_NAME),
            decision_connections,
            ACQUIRE_TIMEOUT,
        ));
        tracing::debug!("postgres store connected");
        Ok(PgStore { pool, decisions })
    }

    /// The connection pool, for operators' tooling and tests that need raw SQL (the
    /// conformance suite uses it to tamper with the audit log). Use cases must go through
    /// [`Store`] and [`Tx`].
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies the migrations up to `version` included and no further: for tests of what a
    /// later migration does to rows written under an earlier schema. Servers call
    /// [`Store::migrate`].
    pub async fn migrate_to(&self, version: i64) -> StoreResult<()> {
        MIGRATOR
            .run_to(version, &self.pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn migrate(&self) -> StoreResult<()> {
        // sqlx takes an advisory lock: instances started together migrate one after the other.
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn is_migrated(&self) -> StoreResult<bool> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let table: &str = &MIGRATOR.table_name;
        // Asking sqlx for the applied list would create its table: check it exists first, so
        // that this question never writes.
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(table)
            .fetch_one(&mut *conn)
            .await
            .map_err(store_error)?;
        if !exists {
            return Ok(false);
        }
        if conn
            .dirty_version(table)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?
            .is_some()
        {
            return Ok(false);
        }
        let applied = conn
            .list_applied_migrations(table)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(MIGRATOR
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .all(|m| {
                applied
                    .iter()
                    .any(|a| a.version == m.version && a.checksum == m.checksum)
            }))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(store_error)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        let tx = self.pool.begin().await.map_err(store_error)?;
        Ok(Box::new(PgTx::new(tx)))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn audit_rows(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditRow>> {
        let rows: Vec<rows::AuditDbRow> = sqlx::query_as(
            "SELECT seq, at, actor, action, target, details::text AS details, prev_hash, hash
             FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(rows::AuditDbRow::into_row).collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn changes_after(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<ChangeRow>> {
        let rows: Vec<rows::ChangeDbRow> = sqlx::query_as(
            "SELECT seq, entity, entity_id, op, at
             FROM change_feed WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(rows::ChangeDbRow::into_row).collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn row_counts(&self) -> StoreResult<RowCounts> {
        let row: (i64, i64, i64, i64, i64, i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM persons),
                    (SELECT count(*) FROM exercises),
                    (SELECT count(*) FROM situations),
                    (SELECT count(*) FROM structures),
                    (SELECT count(*) FROM habilitations),
                    (SELECT count(*) FROM audit_log),
                    (SELECT count(*) FROM outbox),
                    (SELECT count(*) FROM change_feed)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(RowCounts {
            persons: row.0,
            exercises: row.1,
            situations: row.2,
            structures: row.3,
            habilitations: row.4,
            audit: row.5,
            outbox: row.6,
            changes: row.7,
        })
    }

    async fn close(&self) {
        self.decisions.close().await;
        self.pool.close().await;
    }
}

/// The server URL with its database replaced by `name`, query parameters kept.
pub fn with_database(server_url: &str, name: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server_url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut url = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_of_a_url_is_replaced() {
        assert_eq!(
            with_database("postgres://u@127.0.0.1:5432/postgres", "t1"),
            "postgres://u@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@h:1/postgres?sslmode=disable", "t1"),
            "postgres://u:p@h:1/t1?sslmode=disable"
        );
        assert_eq!(with_database("postgresql://h", "t1"), "postgresql://h/t1");
        assert_eq!(
            with_database("postgres://h?x=1", "t1"),
            "postgres://h/t1?x=1"
        );
    }
}
