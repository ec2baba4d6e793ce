//! The connections that access decisions take outside the pool: a decision cancelled while its
//! statement runs leaves its connection usable, and connections the server closed are replaced
//! at the next decision. PostgreSQL only (skipped without `RPPSPLUS_TEST_DATABASE_URL`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use rppsplus_domain::{Idnps, Rpps};
use rppsplus_store::DecisionStore;
use rppsplus_store_postgres::{DECISION_CONNECTIONS_NAME, PgSettings, PgStore};
use rppsplus_test_support::TestDb;
use rppsplus_test_support::db::BackendStore;
use sqlx::Connection;

type Fallible<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Enough decisions to go through every dedicated connection at least twice (they are taken
/// in turn; there are a few per worker thread).
const ROUNDS: usize = 64;

fn pg(db: &TestDb) -> &PgStore {
    match &db.backend_store {
        BackendStore::Postgres(s) => s,
        BackendStore::Sqlite(_) => unreachable!("a PostgreSQL test database"),
    }
}

fn unknown() -> Idnps {
    Rpps::parse("10000001916").unwrap().idnps()
}

/// The current registry version, read on the pool.
async fn head(store: &PgStore) -> Fallible<i64> {
    Ok(
        sqlx::query_scalar("SELECT change_seq FROM journal_head WHERE id = 1")
            .fetch_one(store.pool())
            .await?,
    )
}

/// The server processes of the store's decision connections.
async fn decision_backends(store: &PgStore) -> Fallible<Vec<i32>> {
    Ok(sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1",
    )
    .bind(DECISION_CONNECTIONS_NAME)
    .fetch_all(store.pool())
    .await?)
}

/// Polls `pg_stat_activity` until a decision connection waits for a lock, for at most ten
/// seconds.
async fn a_decision_waits_for_a_lock(store: &PgStore) -> Fallible {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                        WHERE datname = current_database() AND application_name = $1
                          AND wait_event_type = 'Lock')",
    )
    .bind(DECISION_CONNECTIONS_NAME)
    .fetch_one(store.pool())
    .await?
    {
        if Instant::now() > deadline {
            return Err("the decision never reached the lock".into());
        }
        tokio::task::yield_now().await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_cancelled_mid_statement_leaves_its_connection_usable() -> Fallible {
    let Some(db) = TestDb::postgres().await? else {
        return Ok(());
    };
    let store = pg(&db).clone();
    let version = head(&store).await?;

    // Another connection holds `persons` so that the decision's statement waits for it.
    let mut blocker = sqlx::PgConnection::connect(&db.url).await?;
    sqlx::query("BEGIN").execute(&mut blocker).await?;
    sqlx::query("LOCK TABLE persons IN ACCESS EXCLUSIVE MODE")
        .execute(&mut blocker)
        .await?;

    let in_flight = {
        let store = store.clone();
        tokio::spawn(async move { store.decision_facts(&unknown()).await })
    };
    a_decision_waits_for_a_lock(&store).await?;
    // The client is gone: the decision is dropped while its statement is on the server.
    in_flight.abort();
    assert!(in_flight.await.unwrap_err().is_cancelled());
    sqlx::query("ROLLBACK").execute(&mut blocker).await?;

    // The cancelled statement's answer is still on that connection; every following decision,
    // on each connection in turn, gets its own answer.
    for _ in 0..ROUNDS {
        let facts = store.decision_facts(&unknown()).await?;
        assert_eq!(facts.registry_version, version);
        assert!(!facts.known);
        assert!(facts.situations.is_empty());
    }
    assert_eq!(store.api_token_in_force("no such token").await?, None);
    db.store.close().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decision_connections_closed_by_the_server_are_replaced_at_the_next_decision() -> Fallible {
    let Some(db) = TestDb::postgres().await? else {
        return Ok(());
    };
    let store = pg(&db).clone();
    let version = head(&store).await?;
    for _ in 0..ROUNDS {
        store.decision_facts(&unknown()).await?;
    }
    let before = decision_backends(&store).await?;
    assert!(!before.is_empty(), "decisions ran on their own connections");
    // With a timeout, `pg_terminate_backend` returns once the backend has exited.
    let terminated: Vec<bool> =
        sqlx::query_scalar("SELECT pg_terminate_backend(pid, 10000) FROM unnest($1::int[]) AS pid")
            .bind(&before)
            .fetch_all(store.pool())
            .await?;
    assert!(terminated.iter().all(|t| *t));

    // Not one decision fails: each dead connection is replaced when it is next taken.
    for _ in 0..ROUNDS {
        let facts = store.decision_facts(&unknown()).await?;
        assert_eq!(facts.registry_version, version);
    }
    let after = decision_backends(&store).await?;
    assert!(!after.is_empty());
    assert!(
        after.iter().all(|pid| !before.contains(pid)),
        "{before:?} → {after:?}"
    );
    db.store.close().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_store_closes_the_decision_connections() -> Fallible {
    let Some(db) = TestDb::postgres().await? else {
        return Ok(());
    };
    let store = pg(&db).clone();
    store.decision_facts(&unknown()).await?;
    assert!(!decision_backends(&store).await?.is_empty());
    let mut observer = sqlx::PgConnection::connect(&db.url).await?;
    db.store.close().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let open: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1",
        )
        .bind(DECISION_CONNECTIONS_NAME)
        .fetch_one(&mut observer)
        .await?;
        if open == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{open} decision connections left open"
        );
        tokio::task::yield_now().await;
    }
    assert!(store.decision_facts(&unknown()).await.is_err());
    Ok(())
}

/// The settings decide how many connections an instance opens: the pool's bound, and exactly
/// as many decision connections as asked, each opened once and reused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_counts_follow_the_settings() -> Fallible {
    let Some(db) = TestDb::postgres().await? else {
        return Ok(());
    };
    let store = PgStore::connect_with(
        &db.url,
        PgSettings {
            pool_size: 3,
            decision_connections: Some(3),
        },
    )
    .await?;
    assert_eq!(store.pool().options().get_max_connections(), 3);
    for _ in 0..ROUNDS {
        store.decision_facts(&unknown()).await?;
    }
    let backends = decision_backends(&store).await?;
    assert_eq!(backends.len(), 3, "{backends:?}");
    for _ in 0..ROUNDS {
        store.decision_facts(&unknown()).await?;
    }
    let mut again = decision_backends(&store).await?;
    let mut backends = backends;
    backends.sort_unstable();
    again.sort_unstable();
    assert_eq!(again, backends, "the same connections serve every decision");
    rppsplus_store::Store::close(&store).await;
    db.store.close().await;
    Ok(())
}
