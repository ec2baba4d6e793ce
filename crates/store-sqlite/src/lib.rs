//! The SQLite implementation of the storage seam: the embedded default, one file, one writer.
//!
//! [`SqliteStore`] keeps two connection pools on the same database:
//!
//! - a **writer pool of one connection**. Every [`Tx`] runs on it and starts with
//!   `BEGIN IMMEDIATE`, which takes the write lock at once instead of on the first write: two
//!   deferred transactions that both read and then try to write would each wait for the other
//!   to release its read lock (SQLite answers `SQLITE_BUSY` at once, whatever the busy timeout).
//!   With one connection, writers of this process queue in Rust; writers of other processes
//!   (an operator's command next to the server) wait up to the busy timeout.
//! - a **read pool** for the read-only [`Store`] methods, so that listings and the audit walk
//!   never wait for a writer: in WAL mode readers see the last committed state.
//!
//! A task that holds a [`Tx`] must not open a second one before finishing the first: it would
//! wait for the writer connection it is itself holding.
//!
//! Instants are stored as INTEGER microseconds since the Unix epoch (exact, and they sort), dates
//! as ISO 8601 text. See `migrations/` for the schema.

mod convert;
mod decisions;
mod directory;
mod error;
mod outbox;
mod rows;
mod tx;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use rppsplus_store::{AuditRow, Backend, ChangeRow, RowCounts, Store, StoreError, StoreResult, Tx};
use sqlx::migrate::{Migrate, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::store_error;
pub use crate::tx::SqliteTx;

/// The embedded migrations (`migrations/`, named like PostgreSQL's).
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How long a connection waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a writer waits for the single writer connection. Writers queue here, so this bounds
/// the wait behind a long import rather than failing fast.
const WRITER_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(60);

/// Readers: more than one so that a slow listing does not hold up the others.
const READ_POOL_SIZE: u32 = 4;

/// A registry stored in one SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens the database at `url` (`sqlite://path`, `sqlite:path`, `sqlite::memory:`…, as
    /// sqlx parses them), creating the file when `create_if_missing` is set. Does not migrate:
    /// call [`Store::migrate`].
    pub async fn connect(url: &str, create_if_missing: bool) -> StoreResult<SqliteStore> {
        let base = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Backend(format!("invalid SQLite URL: {e}")))?
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let in_memory = is_in_memory(url);

        let writer_options = base
            .clone()
            .create_if_missing(create_if_missing)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        // The writer connection is opened now (min 1) so that the file exists, in WAL mode,
        // before the readers open it; it is never recycled, which also keeps an in-memory
        // database alive for as long as the store.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(WRITER_ACQUIRE_TIMEOUT)
            .connect_with(writer_options)
            .await
            .map_err(store_error)?;

        let reader = if in_memory && url.contains("cache=private") {
            // A private in-memory database exists only on the writer's connection.
            writer.clone()
        } else {
            // `query_only` turns any write attempted through a reader into an error.
            let reader_options = base.create_if_missing(false).pragma("query_only", "ON");
            // A file connection does not break while idle: sqlx's check before handing one out
            // (a hand-off to the connection's thread and back) would only add to every read.
            SqlitePoolOptions::new()
                .max_connections(READ_POOL_SIZE)
                .test_before_acquire(false)
                .connect_with(reader_options)
                .await
                .map_err(store_error)?
        };
        tracing::debug!(in_memory, "sqlite store opened");
        Ok(SqliteStore { writer, reader })
    }

    /// The writer pool, for operators' tooling and tests that need raw SQL (the conformance
    /// suite uses it to tamper with the audit log). Use cases must go through [`Store`] and
    /// [`Tx`]; a transaction opened here must start with `BEGIN IMMEDIATE` too.
    pub fn pool(&self) -> &SqlitePool {
        &self.writer
    }

    /// Applies the migrations up to `version` included and no further: for tests of what a
    /// later migration does to rows written under an earlier schema. Servers call
    /// [`Store::migrate`].
    pub async fn migrate_to(&self, version: i64) -> StoreResult<()> {
        MIGRATOR
            .run_to(version, &self.writer)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))
    }
}

/// Whether the URL names an in-memory database (sqlx's `:memory:` or `mode=memory`).
fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR
            .run(&self.writer)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn is_migrated(&self) -> StoreResult<bool> {
        let mut conn = self.reader.acquire().await.map_err(store_error)?;
        let table: &str = &MIGRATOR.table_name;
        // Asking sqlx for the applied list would create its table: check it exists first, so
        // that this question never writes.
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1)",
        )
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
            .execute(&self.reader)
            .await
            .map(|_| ())
            .map_err(store_error)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        let tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        Ok(Box::new(SqliteTx::new(tx)))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn audit_rows(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditRow>> {
        let rows: Vec<rows::AuditDbRow> = sqlx::query_as(
            "SELECT seq, at, actor, action, target, details, prev_hash, hash
             FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
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
        .fetch_all(&self.reader)
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
        .fetch_one(&self.reader)
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
        self.reader.close().await;
        self.writer.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Outcome = Result<(), Box<dyn std::error::Error>>;

    #[tokio::test]
    async fn an_in_memory_database_is_shared_by_writer_and_readers() -> Outcome {
        let store = SqliteStore::connect("sqlite::memory:", false).await?;
        store.migrate().await?;
        assert!(store.is_migrated().await?);
        let mut tx = store.begin().await?;
        assert_eq!(tx.next_rpps_value().await?, 0);
        tx.commit().await?;
        // Written through the writer, counted through a reader.
        store.row_counts().await?;
        let mut tx = store.begin().await?;
        assert_eq!(tx.next_rpps_value().await?, 1);
        Ok(())
    }

    #[tokio::test]
    async fn a_missing_file_is_created_only_when_asked() -> Outcome {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("registry.db");
        let url = format!("sqlite:{}", path.display());
        assert!(SqliteStore::connect(&url, false).await.is_err());
        assert!(!path.exists());
        let store = SqliteStore::connect(&url, true).await?;
        store.migrate().await?;
        store.close().await;
        assert!(path.exists());
        let again = SqliteStore::connect(&format!("sqlite://{}", path.display()), false).await?;
        assert!(again.is_migrated().await?);
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(again.pool())
            .await?;
        assert_eq!(mode, "wal");
        Ok(())
    }

    #[tokio::test]
    async fn readers_cannot_write() -> Outcome {
        let store = SqliteStore::connect("sqlite::memory:", false).await?;
        store.migrate().await?;
        let refused = sqlx::query("UPDATE rpps_sequence SET next_value = 7")
            .execute(&store.reader)
            .await;
        assert!(refused.is_err());
        Ok(())
    }
}
