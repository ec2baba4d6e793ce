//! Throwaway databases for tests, on both backends.
//!
//! - [`TestDb::sqlite`]: a fresh SQLite file in a temporary directory, removed with the guard.
//! - [`TestDb::postgres`]: a fresh database `rppsplus_test_<random>` created on the server named
//!   by [`DATABASE_URL_VAR`], dropped with the guard (kept when [`KEEP_VAR`] is set, to inspect
//!   it after a failure).
//!
//! Without [`DATABASE_URL_VAR`], PostgreSQL tests are skipped with a message on stderr, except
//! in CI (`CI=true`), where a missing server is an error: CI must run both backends.

use std::fmt;
use std::io::Write;
use std::sync::{Arc, Once};

use rppsplus_store::{Backend, Store};
use rppsplus_store_postgres::PgStore;
use rppsplus_store_sqlite::SqliteStore;
use sqlx::Connection;

/// The variable naming a PostgreSQL server for tests, e.g.
/// `postgres://rppsplus@127.0.0.1:5432/postgres`. Each test database is created on it.
pub const DATABASE_URL_VAR: &str = "RPPSPLUS_TEST_DATABASE_URL";

/// When set (to anything), PostgreSQL test databases are kept instead of dropped.
pub const KEEP_VAR: &str = "RPPSPLUS_TEST_KEEP_DB";

/// Why a test database could not be had.
pub struct TestDbError(String);

impl fmt::Display for TestDbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// A test returning this error prints its `Debug`: the message alone reads best.
impl fmt::Debug for TestDbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TestDbError {}

impl TestDbError {
    /// An error with a message of its own.
    pub fn from_message(message: String) -> Self {
        TestDbError(message)
    }

    fn new(what: &str, why: impl fmt::Display) -> Self {
        TestDbError(format!("{what}: {why}"))
    }
}

/// The concrete store behind a [`TestDb`], for tests that need the backend's raw pool.
#[derive(Clone)]
pub enum BackendStore {
    /// A SQLite store.
    Sqlite(Arc<SqliteStore>),
    /// A PostgreSQL store.
    Postgres(Arc<PgStore>),
}

impl BackendStore {
    /// The same store behind the seam.
    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            BackendStore::Sqlite(s) => s.clone(),
            BackendStore::Postgres(s) => s.clone(),
        }
    }
}

/// Opens an existing database by URL, picking the backend from its scheme (a child process of
/// a test opens its parent's database this way). Does not migrate.
pub async fn connect(url: &str) -> Result<BackendStore, TestDbError> {
    match Backend::from_url(url) {
        Some(Backend::Sqlite) => SqliteStore::connect(url, false)
            .await
            .map(|s| BackendStore::Sqlite(Arc::new(s)))
            .map_err(|e| TestDbError::new("opening the SQLite database", e)),
        Some(Backend::Postgres) => PgStore::connect(url)
            .await
            .map(|s| BackendStore::Postgres(Arc::new(s)))
            .map_err(|e| TestDbError::new("connecting to PostgreSQL", e)),
        None => Err(TestDbError::new("unknown database URL scheme", url)),
    }
}

/// The policy for PostgreSQL tests: the server URL when [`DATABASE_URL_VAR`] is set; `None`
/// (skip, with a message on stderr) when it is not; an error when it is not and `CI=true`.
pub fn postgres_server_url() -> Result<Option<String>, TestDbError> {
    match std::env::var(DATABASE_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Ok(Some(url)),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => Err(TestDbError(format!(
            "{DATABASE_URL_VAR} is not set, and CI=true: PostgreSQL tests must run in CI"
        ))),
        _ => {
            // Once per test binary, and past libtest's capture (which would hide it for passing
            // tests): a skipped backend must be visible.
            static SKIP_NOTICE: Once = Once::new();
            SKIP_NOTICE.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "note: skipping PostgreSQL tests: {DATABASE_URL_VAR} is not set \
                     (e.g. postgres://rppsplus@127.0.0.1:5432/postgres)"
                );
            });
            Ok(None)
        }
    }
}

/// A fresh database, removed when this value is dropped.
pub struct TestDb {
    /// The store, behind the seam.
    pub store: Arc<dyn Store>,
    /// The same store, with its backend's raw pool.
    pub backend_store: BackendStore,
    /// The database URL (for child processes and raw connections).
    pub url: String,
    // Dropped last: the database outlives the store's handles above.
    _guard: Guard,
}

/// What removes the database: held for its `Drop` only.
struct Guard {
    _dir: Option<tempfile::TempDir>,
    _database: Option<DropDatabase>,
}

impl TestDb {
    /// A fresh, migrated SQLite database in a temporary directory.
    pub async fn sqlite() -> Result<TestDb, TestDbError> {
        Self::new_sqlite(true).await
    }

    /// A fresh SQLite database with no schema (to test migrating).
    pub async fn sqlite_unmigrated() -> Result<TestDb, TestDbError> {
        Self::new_sqlite(false).await
    }

    /// A fresh, migrated PostgreSQL database, or `None` when PostgreSQL tests are skipped (see
    /// [`postgres_server_url`]).
    pub async fn postgres() -> Result<Option<TestDb>, TestDbError> {
        Self::new_postgres(true).await
    }

    /// A fresh PostgreSQL database with no schema, or `None` when skipped.
    pub async fn postgres_unmigrated() -> Result<Option<TestDb>, TestDbError> {
        Self::new_postgres(false).await
    }

    /// Another handle on the same database, with pools of its own, as a second server
    /// instance opens it. The database is removed with `self`, not with the handle.
    pub async fn another_handle(&self) -> Result<TestDb, TestDbError> {
        let backend_store = connect(&self.url).await?;
        Ok(TestDb {
            store: backend_store.store(),
            backend_store,
            url: self.url.clone(),
            _guard: Guard {
                _dir: None,
                _database: None,
            },
        })
    }

    async fn new_sqlite(migrated: bool) -> Result<TestDb, TestDbError> {
        let dir = tempfile::Builder::new()
            .prefix("rppsplus-test-")
            .tempdir()
            .map_err(|e| TestDbError::new("creating a temporary directory", e))?;
        let path = dir.path().join("rppsplus.db");
        let url = format!("sqlite://{}", path.display());
        let store = SqliteStore::connect(&url, true)
            .await
            .map_err(|e| TestDbError::new("creating the SQLite database", e))?;
        if migrated {
            store
                .migrate()
                .await
                .map_err(|e| TestDbError::new("migrating the SQLite database", e))?;
        }
        let store = Arc::new(store);
        Ok(TestDb {
            store: store.clone(),
            backend_store: BackendStore::Sqlite(store),
            url,
            _guard: Guard {
                _dir: Some(dir),
                _database: None,
            },
        })
    }

    async fn new_postgres(migrated: bool) -> Result<Option<TestDb>, TestDbError> {
        let Some(server_url) = postgres_server_url()? else {
            return Ok(None);
        };
        let name = format!("rppsplus_test_{}", random_hex(8)?);
        let mut admin = sqlx::PgConnection::connect(&server_url)
            .await
            .map_err(|e| TestDbError::new("connecting to the PostgreSQL test server", e))?;
        // The name is generated above from hex digits only: safe to splice.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .map_err(|e| TestDbError::new("creating the PostgreSQL test database", e))?;
        // Dropped as soon as it exists, so that a failure below still removes the database.
        let guard = DropDatabase {
            server_url: server_url.clone(),
            name: name.clone(),
        };
        let _ = admin.close().await;

        let url = rppsplus_store_postgres::with_database(&server_url, &name);
        let store = PgStore::connect(&url)
            .await
            .map_err(|e| TestDbError::new("connecting to the PostgreSQL test database", e))?;
        if migrated {
            store
                .migrate()
                .await
                .map_err(|e| TestDbError::new("migrating the PostgreSQL test database", e))?;
        }
        let store = Arc::new(store);
        Ok(Some(TestDb {
            store: store.clone(),
            backend_store: BackendStore::Postgres(store),
            url,
            _guard: Guard {
                _dir: None,
                _database: Some(guard),
            },
        }))
    }
}

/// Drops a test database when dropped.
struct DropDatabase {
    server_url: String,
    name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        if std::env::var_os(KEEP_VAR).is_some() {
            let _ = writeln!(
                std::io::stderr(),
                "note: keeping test database {} ({KEEP_VAR} is set)",
                self.name
            );
            return;
        }
        let server_url = self.server_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread of its
        // own with a runtime of its own, and wait for it.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&server_url)
                    .await
                    .map_err(|e| e.to_string())?;
                // FORCE ends the connections the store's pool may still hold.
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await
                .map_err(|e| e.to_string())?;
                let _ = admin.close().await;
                Ok::<(), String>(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!(
                "could not drop test database {}: the thread panicked",
                self.name
            ),
        }
    }
}

/// `n` random bytes, in hex.
fn random_hex(n: usize) -> Result<String, TestDbError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| TestDbError::new("drawing a random name", e))?;
    Ok(hex::encode(bytes))
}
