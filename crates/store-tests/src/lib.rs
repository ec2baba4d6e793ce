//! The storage conformance suite: scenarios that every backend must pass unchanged.
//!
//! Each scenario is a public async function taking the store behind the seam (or, for the few
//! that need raw SQL or child processes, the whole [`TestDb`](rppsplus_test_support::db::TestDb)).
//! The integration test `tests/conformance.rs` runs every scenario on SQLite and on PostgreSQL,
//! each on a fresh database:
//!
//! ```text
//! cargo test -p rppsplus-store-tests                     # SQLite; PostgreSQL skipped
//! RPPSPLUS_TEST_DATABASE_URL=postgres://rppsplus@127.0.0.1:5432/postgres \
//!     cargo test -p rppsplus-store-tests                 # both
//! cargo test -p rppsplus-store-tests -- postgres::       # one backend
//! ```
//!
//! Scenarios assert with `assert!`/`assert_eq!` and return errors from the store with `?`.

pub mod api_keys;
pub mod decisions;
pub mod directory;
pub mod drafts;
pub mod fixtures;
pub mod history;
pub mod journal;
pub mod outbox;
pub mod persons;
pub mod raw;
pub mod registrations;
pub mod schema;
pub mod sequence;
pub mod sessions;
pub mod structures;
pub mod tokens;

/// What a scenario returns: store errors and setup failures, as errors.
pub type Outcome = Result<(), Failure>;

/// Any error a scenario can meet.
pub type Failure = Box<dyn std::error::Error + Send + Sync>;
