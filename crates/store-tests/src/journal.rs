//! The audit log, the outbox and the change feed.

use std::collections::BTreeSet;
use std::sync::Arc;

use rppsplus_store::audit::{self, Verifier};
use rppsplus_store::{
    AuditRow, ChangeRow, NewAuditEntry, NewChange, NewOutboxMessage, Store, StoreError, Tx,
    UniqueRule,
};
use serde_json::json;

use crate::fixtures::at;
use crate::{Failure, Outcome};

/// An audit entry whose details exercise JSON: nested objects with keys out of order, arrays,
/// floats, big integers, unicode and escapes.
pub fn audit_entry(n: i64) -> Result<NewAuditEntry, Failure> {
    Ok(NewAuditEntry {
        at: at(n)?,
        actor: if n % 3 == 0 {
            "operator".into()
        } else {
            format!("person:81000000{n:04}")
        },
        action: "person.create".into(),
        target: format!("person:{n}"),
        details: json!({
            "z": n,
            "a": {"y": [1, 2.5, -3, {"k": null, "b": true}], "x": "é\"\\\n\u{1F600}"},
            "big": u64::MAX,
            "neg": i64::MIN,
            "float": 0.1 + n as f64,
            "tiny": 1e-7,
            "empty": {},
            "list": [],
        }),
    })
}

/// Writes one audit row, one outbox message and one change-feed row.
pub async fn append_one_of_each(tx: &mut dyn Tx, n: i64) -> Result<(), Failure> {
    tx.append_audit(&audit_entry(n)?).await?;
    tx.enqueue_outbox(&NewOutboxMessage {
        event_key: format!("event-{n}"),
        kind: "mail.rpps_number".into(),
        payload: json!({"to": "person@example.org", "n": n}),
        not_before: at(n + 1)?,
        at: at(n)?,
    })
    .await?;
    tx.append_change(&NewChange {
        entity: "person".into(),
        entity_id: n,
        op: "created".into(),
        at: at(n)?,
    })
    .await?;
    Ok(())
}

/// Every audit row, page by page, checked with the verifier. Returns the rows, or the first
/// break.
pub async fn verify_audit(
    store: &dyn Store,
    page: u32,
) -> Result<Result<Vec<AuditRow>, audit::ChainBreak>, Failure> {
    let mut verifier = Verifier::default();
    let mut rows = Vec::new();
    let mut after = 0;
    loop {
        let batch = store.audit_rows(after, page).await?;
        let Some(last) = batch.last() else { break };
        after = last.seq;
        for row in &batch {
            if let Err(e) = verifier.check(row) {
                return Ok(Err(e));
            }
        }
        rows.extend(batch);
    }
    assert_eq!(verifier.verified(), rows.len() as i64);
    Ok(Ok(rows))
}

/// The outbox refuses a second message with the same event key, and the transaction goes on.
pub async fn outbox_refuses_a_second_event_key(store: Arc<dyn Store>) -> Outcome {
    let message = NewOutboxMessage {
        event_key: "person:1:rpps_number".into(),
        kind: "mail.rpps_number".into(),
        payload: json!({"rpps": "10000000009"}),
        not_before: at(2)?,
        at: at(1)?,
    };
    let mut tx = store.begin().await?;
    let first = tx.enqueue_outbox(&message).await?;
    let other_kind = NewOutboxMessage {
        kind: "mail.ecps_ready".into(),
        ..message.clone()
    };
    match tx.enqueue_outbox(&other_kind).await {
        Err(StoreError::Duplicate(UniqueRule::OutboxEventKey)) => {}
        other => panic!("expected Duplicate(OutboxEventKey), got {other:?}"),
    }
    let second = tx
        .enqueue_outbox(&NewOutboxMessage {
            event_key: "person:2:rpps_number".into(),
            ..message.clone()
        })
        .await?;
    assert!(second > first);
    tx.commit().await?;

    // Also across transactions.
    let mut tx = store.begin().await?;
    match tx.enqueue_outbox(&message).await {
        Err(StoreError::Duplicate(UniqueRule::OutboxEventKey)) => {}
        other => panic!("expected Duplicate(OutboxEventKey), got {other:?}"),
    }
    tx.commit().await?;
    assert_eq!(store.row_counts().await?.outbox, 2);
    Ok(())
}

/// Change-feed rows come back in order, numbered from 1 without gaps, equal to what was
/// written, page by page.
pub async fn change_feed_in_order(store: Arc<dyn Store>) -> Outcome {
    let mut written = Vec::new();
    for t in 0..5 {
        let mut tx = store.begin().await?;
        for i in 0..7 {
            let change = NewChange {
                entity: ["person", "situation", "structure"][i % 3].into(),
                entity_id: (t * 10 + i) as i64,
                op: ["created", "updated", "closed"][(t + i) % 3].into(),
                at: at((t * 10 + i) as i64)?,
            };
            let seq = tx.append_change(&change).await?;
            written.push(ChangeRow { seq, change });
        }
        tx.commit().await?;
    }
    // A rolled-back change leaves no hole.
    let mut tx = store.begin().await?;
    tx.append_change(&NewChange {
        entity: "person".into(),
        entity_id: 999,
        op: "created".into(),
        at: at(999)?,
    })
    .await?;
    drop(tx);

    let seqs: Vec<i64> = written.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, (1..=35).collect::<Vec<_>>());
    let mut read = Vec::new();
    let mut after = 0;
    loop {
        let page = store.changes_after(after, 8).await?;
        let Some(last) = page.last() else { break };
        assert!(page.len() <= 8);
        after = last.seq;
        read.extend(page);
    }
    assert_eq!(read, written);
    assert_eq!(store.changes_after(35, 10).await?, vec![]);
    assert_eq!(store.changes_after(30, 2).await?, written[30..32].to_vec());
    assert_eq!(store.row_counts().await?.changes, 35);
    Ok(())
}

/// The audit chain verifies over `audit_rows` paging, rows read back as written (instants
/// truncated to the microsecond), and sequences have no gaps even after a rollback.
pub async fn audit_chain_verifies(store: Arc<dyn Store>) -> Outcome {
    let mut written = Vec::new();
    let mut n = 0;
    for t in 0..6 {
        let committed = written.len();
        let mut tx = store.begin().await?;
        for _ in 0..(10 + t * 7) {
            n += 1;
            let mut entry = audit_entry(n)?;
            // Nanoseconds are dropped the same way by the store and by the hash.
            entry.at = jiff::Timestamp::new(entry.at.as_second(), 987_654_321)?;
            let seq = tx.append_audit(&entry).await?;
            written.push((seq, entry));
        }
        if t == 2 {
            // The rows of a dropped transaction never existed; the next ones take their place.
            drop(tx);
            written.truncate(committed);
        } else {
            tx.commit().await?;
        }
    }
    let rows = match verify_audit(store.as_ref(), 17).await? {
        Ok(rows) => rows,
        Err(e) => return Err(format!("the untouched chain breaks: {e}").into()),
    };
    assert_eq!(rows.len(), written.len());
    for (row, (seq, entry)) in rows.iter().zip(&written) {
        assert_eq!(row.seq, *seq);
        let mut expected = entry.clone();
        expected.at = audit::truncate(entry.at);
        assert_eq!(row.entry, expected);
    }
    assert_eq!(
        rows.first().map(|r| r.prev_hash.as_str()),
        Some(audit::GENESIS)
    );
    assert_eq!(store.audit_rows(rows.len() as i64, 10).await?, vec![]);
    Ok(())
}

/// Appenders in concurrent transactions never break the chain: no gap, every row chained to
/// the previous one.
pub async fn concurrent_audit_appends_chain(store: Arc<dyn Store>) -> Outcome {
    const TASKS: i64 = 8;
    const PER_TASK: i64 = 15;
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..PER_TASK {
                let mut tx = store.begin().await?;
                tx.append_audit(&audit_entry(t * 100 + i)?).await?;
                tx.append_change(&NewChange {
                    entity: "person".into(),
                    entity_id: t * 100 + i,
                    op: "updated".into(),
                    at: at(i)?,
                })
                .await?;
                tx.commit().await?;
            }
            Ok::<(), Failure>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    match verify_audit(store.as_ref(), 50).await? {
        Ok(rows) => assert_eq!(rows.len() as i64, TASKS * PER_TASK),
        Err(e) => return Err(format!("concurrent appends broke the chain: {e}").into()),
    }
    Ok(())
}

/// While writers commit change-feed rows concurrently, a reader never sees a number before a
/// smaller one is visible: every read is the contiguous run 1..=N. (With numbers taken in call
/// order instead of commit order, a later number could commit first and be seen alone.)
pub async fn change_feed_follows_commit_order(store: Arc<dyn Store>) -> Outcome {
    const WRITERS: i64 = 6;
    const PER_WRITER: i64 = 25;
    const TOTAL: usize = (WRITERS * PER_WRITER) as usize;
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..PER_WRITER {
                let mut tx = store.begin().await?;
                tx.append_change(&NewChange {
                    entity: "situation".into(),
                    entity_id: w * 1000 + i,
                    op: "updated".into(),
                    at: at(i)?,
                })
                .await?;
                // Work between taking the number and committing widens the window in which a
                // feed numbered in call order would show a later number first. (No audit row
                // here: its own lock would order these transactions and hide the fault.)
                tx.list_persons(rppsplus_store::PersonId(0), 1).await?;
                tokio::task::yield_now().await;
                tx.list_persons(rppsplus_store::PersonId(0), 1).await?;
                tx.commit().await?;
            }
            Ok::<(), Failure>(())
        }));
    }
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut reads = 0u32;
            loop {
                let seen = store.changes_after(0, TOTAL as u32 + 10).await?;
                let seqs: BTreeSet<i64> = seen.iter().map(|c| c.seq).collect();
                let expected: BTreeSet<i64> = (1..=seqs.len() as i64).collect();
                if seqs != expected {
                    return Err::<u32, Failure>(
                        format!("read {reads}: a number is visible before a smaller one").into(),
                    );
                }
                reads += 1;
                if seqs.len() == TOTAL {
                    return Ok(reads);
                }
                tokio::task::yield_now().await;
            }
        })
    };
    for w in writers {
        w.await??;
    }
    let reads = reader.await??;
    assert!(reads >= 1);
    Ok(())
}
