//! The RPPS sequence: never the same value twice, and only ever raised.

use std::collections::HashSet;
use std::process::Stdio;
use std::sync::Arc;

use rppsplus_store::Store;
use rppsplus_test_support::db::{self, TestDb};

use crate::{Failure, Outcome};

/// Raising moves the sequence forward, never back; a raise in a rolled-back transaction has no
/// effect; a fresh database starts at 0.
pub async fn raising_the_sequence(store: Arc<dyn Store>) -> Outcome {
    let mut tx = store.begin().await?;
    assert_eq!(
        tx.next_rpps_value().await?,
        0,
        "a fresh sequence starts at 0"
    );
    assert_eq!(tx.next_rpps_value().await?, 1);
    tx.raise_rpps_sequence(1_000_000).await?;
    assert_eq!(tx.next_rpps_value().await?, 1_000_000);
    tx.raise_rpps_sequence(500).await?;
    assert_eq!(tx.next_rpps_value().await?, 1_000_001, "never moved back");
    tx.raise_rpps_sequence(1_000_002).await?;
    assert_eq!(
        tx.next_rpps_value().await?,
        1_000_002,
        "raising to the next value is a no-op"
    );
    tx.commit().await?;

    let mut tx = store.begin().await?;
    tx.raise_rpps_sequence(5_000_000).await?;
    tx.rollback().await?;
    let mut tx = store.begin().await?;
    assert_eq!(tx.next_rpps_value().await?, 1_000_003);
    match tx.raise_rpps_sequence(u64::MAX).await {
        Err(_) => {}
        Ok(()) => return Err("a start beyond the stored range was accepted".into()),
    }
    Ok(())
}

/// `count` values taken in transactions of `batch` values are all different.
pub async fn many_values_are_unique(store: Arc<dyn Store>, count: u64, batch: u64) -> Outcome {
    let mut seen = HashSet::with_capacity(count as usize);
    let mut taken = 0;
    while taken < count {
        let mut tx = store.begin().await?;
        for _ in 0..batch.min(count - taken) {
            let v = tx.next_rpps_value().await?;
            assert!(seen.insert(v), "value {v} handed out twice");
            taken += 1;
        }
        tx.commit().await?;
    }
    assert_eq!(seen.len() as u64, count);
    Ok(())
}

/// `tasks` tasks each take `per_task` values, one transaction per value, concurrently: no value
/// is handed out twice.
pub async fn concurrent_tasks_never_share_a_value(
    store: Arc<dyn Store>,
    tasks: usize,
    per_task: usize,
) -> Outcome {
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut values = Vec::with_capacity(per_task);
            for _ in 0..per_task {
                let mut tx = store.begin().await?;
                values.push(tx.next_rpps_value().await?);
                tx.commit().await?;
            }
            Ok::<Vec<u64>, Failure>(values)
        }));
    }
    let mut seen = HashSet::new();
    for handle in handles {
        for v in handle.await?? {
            assert!(seen.insert(v), "value {v} handed out twice");
        }
    }
    assert_eq!(seen.len(), tasks * per_task);
    Ok(())
}

/// Names this process's role when it is a child of
/// [`processes_never_share_a_value`].
pub const CHILD_ROLE_VAR: &str = "RPPSPLUS_STORE_TESTS_CHILD";
/// The database a child allocates from.
pub const CHILD_URL_VAR: &str = "RPPSPLUS_STORE_TESTS_CHILD_URL";
/// How many values a child takes.
pub const CHILD_COUNT_VAR: &str = "RPPSPLUS_STORE_TESTS_CHILD_COUNT";
const ALLOCATOR_ROLE: &str = "rpps-allocator";
const VALUE_LINE: &str = "rpps-value ";

/// In a child process spawned by [`processes_never_share_a_value`]: takes the values asked
/// for, one transaction each, prints them, and returns `true`. Elsewhere returns `false` at
/// once. Call it first in the test that spawns the children.
pub async fn run_as_child_if_spawned() -> Result<bool, Failure> {
    if std::env::var(CHILD_ROLE_VAR).as_deref() != Ok(ALLOCATOR_ROLE) {
        return Ok(false);
    }
    let url = std::env::var(CHILD_URL_VAR)?;
    let count: usize = std::env::var(CHILD_COUNT_VAR)?.parse()?;
    let store = db::connect(&url).await?.store();
    for _ in 0..count {
        let mut tx = store.begin().await?;
        let v = tx.next_rpps_value().await?;
        tx.commit().await?;
        println!("{VALUE_LINE}{v}");
    }
    store.close().await;
    Ok(true)
}

/// Two OS processes take `per_child` values each from the same database at the same time: no
/// value is handed out twice. The children are this test binary again, run with
/// `--exact test_name` and a role in the environment (see [`run_as_child_if_spawned`]).
pub async fn processes_never_share_a_value(
    db: &TestDb,
    test_name: &str,
    per_child: usize,
) -> Outcome {
    let exe = std::env::current_exe()?;
    let mut children = Vec::new();
    for _ in 0..2 {
        let child = tokio::process::Command::new(&exe)
            .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
            .env(CHILD_ROLE_VAR, ALLOCATOR_ROLE)
            .env(CHILD_URL_VAR, &db.url)
            .env(CHILD_COUNT_VAR, per_child.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        children.push(tokio::spawn(child.wait_with_output()));
    }
    let mut per_process = Vec::new();
    for child in children {
        let output = child.await??;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(format!(
                "child failed ({}):\n{stdout}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        // The first value shares its line with libtest's `test <name> ... `.
        let values = stdout
            .lines()
            .filter_map(|l| l.split_once(VALUE_LINE).map(|(_, v)| v.trim()))
            .map(str::parse::<u64>)
            .collect::<Result<Vec<_>, _>>()?;
        assert_eq!(values.len(), per_child, "child output:\n{stdout}");
        per_process.push(values);
    }
    let mut seen = HashSet::new();
    for v in per_process.iter().flatten() {
        assert!(seen.insert(*v), "value {v} handed out twice");
    }
    // Both processes drew from the range: the values interleave unless one ran after the other.
    let interleaved = match (per_process.first(), per_process.get(1)) {
        (Some(a), Some(b)) => {
            let a_max = a.iter().max();
            let b_min = b.iter().min();
            let b_max = b.iter().max();
            let a_min = a.iter().min();
            !(a_max < b_min || b_max < a_min)
        }
        _ => false,
    };
    eprintln!("child processes overlapped: {interleaved}");
    Ok(())
}
