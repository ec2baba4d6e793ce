//! Delivering the outbox: claims with a lease, sent and failed messages, parking, counts, and
//! concurrent claimers.

use std::collections::BTreeSet;
use std::sync::Arc;

use jiff::Timestamp;
use rppsplus_store::{
    NewOutboxMessage, OutboxClaim, OutboxCounts, OutboxFailure, Store, StoreError,
};
use serde_json::json;

use crate::fixtures::at;
use crate::{Failure, Outcome};

/// Queues one message due at `not_before`, in its own transaction.
pub async fn enqueue(
    store: &dyn Store,
    key: &str,
    queued: Timestamp,
    not_before: Timestamp,
) -> Result<i64, Failure> {
    let mut tx = store.begin().await?;
    let id = tx
        .enqueue_outbox(&NewOutboxMessage {
            event_key: key.into(),
            kind: "mail.rpps_number".into(),
            payload: json!({"to": "person@example.org", "key": key}),
            not_before,
            at: queued,
        })
        .await?;
    tx.commit().await?;
    Ok(id)
}

fn claim(now: Timestamp, lease_until: Timestamp, token: &str) -> OutboxClaim {
    OutboxClaim {
        now,
        lease_until,
        token: token.into(),
    }
}

/// Due messages are claimed oldest-due first, each by one claimer while its lease runs; only
/// the lease's token marks it sent; an expired lease lets another claimer take it over.
pub async fn outbox_claims_due_messages_with_a_lease(store: Arc<dyn Store>) -> Outcome {
    let s = store.as_ref();
    let a = enqueue(s, "a", at(0)?, at(2)?).await?;
    let b = enqueue(s, "b", at(0)?, at(1)?).await?;
    let _c = enqueue(s, "c", at(0)?, at(50)?).await?;

    assert_eq!(s.claim_outbox(&claim(at(0)?, at(10)?, "t0")).await?, None);
    let first = s
        .claim_outbox(&claim(at(2)?, at(10)?, "t1"))
        .await?
        .ok_or("b is due")?;
    assert_eq!(
        (first.id, first.event_key.as_str()),
        (b, "b"),
        "oldest due first"
    );
    assert_eq!(first.attempts, 1);
    assert_eq!(first.kind, "mail.rpps_number");
    assert_eq!(
        first.payload,
        json!({"to": "person@example.org", "key": "b"})
    );
    assert_eq!((first.created_at, first.not_before), (at(0)?, at(1)?));
    let second = s
        .claim_outbox(&claim(at(2)?, at(10)?, "t2"))
        .await?
        .ok_or("a is due")?;
    assert_eq!(second.id, a);
    assert_eq!(
        s.claim_outbox(&claim(at(5)?, at(10)?, "t3")).await?,
        None,
        "both leased, c not due"
    );

    // Only the lease's token confirms, once.
    assert!(matches!(
        s.mark_outbox_sent(b, "t2", at(3)?).await,
        Err(StoreError::StaleVersion)
    ));
    s.mark_outbox_sent(b, "t1", at(3)?).await?;
    assert!(matches!(
        s.mark_outbox_sent(b, "t1", at(3)?).await,
        Err(StoreError::StaleVersion)
    ));
    let sent = s.outbox_entry("b").await?.ok_or("b exists")?;
    assert_eq!(sent.sent_at, Some(at(3)?));
    assert_eq!(sent.leased_until, None);

    // a's claimer died: at the end of its lease, another claimer takes it over.
    let again = s
        .claim_outbox(&claim(at(10)?, at(20)?, "t4"))
        .await?
        .ok_or("a's lease expired")?;
    assert_eq!((again.id, again.attempts), (a, 2));
    assert!(matches!(
        s.mark_outbox_sent(a, "t2", at(11)?).await,
        Err(StoreError::StaleVersion)
    ));
    assert!(matches!(
        s.record_outbox_failure(
            a,
            "t2",
            &OutboxFailure {
                at: at(11)?,
                error: "late".into(),
                retry_at: None
            }
        )
        .await,
        Err(StoreError::StaleVersion)
    ));
    s.mark_outbox_sent(a, "t4", at(11)?).await?;
    assert_eq!(
        s.claim_outbox(&claim(at(60)?, at(70)?, "t5"))
            .await?
            .map(|m| m.event_key),
        Some("c".into())
    );
    assert_eq!(s.claim_outbox(&claim(at(60)?, at(70)?, "t6")).await?, None);
    Ok(())
}

/// A failure releases the message until its retry time; a failure without one parks it until
/// an operator requeues it; counts and the pending list show each state.
pub async fn outbox_failures_retry_later_or_park(store: Arc<dyn Store>) -> Outcome {
    let s = store.as_ref();
    let id = enqueue(s, "retry", at(0)?, at(0)?).await?;
    enqueue(s, "later", at(0)?, at(100)?).await?;
    let sent = enqueue(s, "sent", at(0)?, at(0)?).await?;
    assert_eq!(
        s.outbox_counts(at(0)?).await?,
        OutboxCounts {
            due: 2,
            scheduled: 1,
            leased: 0,
            parked: 0,
            sent: 0
        }
    );

    let m = s
        .claim_outbox(&claim(at(1)?, at(30)?, "x"))
        .await?
        .ok_or("due")?;
    assert_eq!(m.id, id);
    let other = s
        .claim_outbox(&claim(at(1)?, at(30)?, "y"))
        .await?
        .ok_or("due")?;
    assert_eq!(other.id, sent);
    s.mark_outbox_sent(sent, "y", at(2)?).await?;
    assert_eq!(
        s.outbox_counts(at(2)?).await?,
        OutboxCounts {
            due: 0,
            scheduled: 1,
            leased: 1,
            parked: 0,
            sent: 1
        }
    );
    s.record_outbox_failure(
        id,
        "x",
        &OutboxFailure {
            at: at(2)?,
            error: "451 try later".into(),
            retry_at: Some(at(5)?),
        },
    )
    .await?;
    let e = s.outbox_entry("retry").await?.ok_or("exists")?;
    assert_eq!(e.last_error.as_deref(), Some("451 try later"));
    assert_eq!(
        (e.attempts, e.next_attempt_at, e.leased_until),
        (1, at(5)?, None)
    );
    assert_eq!(
        s.claim_outbox(&claim(at(4)?, at(30)?, "z")).await?,
        None,
        "not before its retry"
    );
    let m = s
        .claim_outbox(&claim(at(5)?, at(30)?, "z"))
        .await?
        .ok_or("retry due")?;
    assert_eq!((m.id, m.attempts), (id, 2));
    s.record_outbox_failure(
        id,
        "z",
        &OutboxFailure {
            at: at(6)?,
            error: "550 no such user".into(),
            retry_at: None,
        },
    )
    .await?;
    assert_eq!(
        s.claim_outbox(&claim(at(1000)?, at(1030)?, "w"))
            .await?
            .map(|m| m.event_key),
        Some("later".into())
    );
    assert_eq!(
        s.claim_outbox(&claim(at(1000)?, at(1030)?, "v")).await?,
        None,
        "parked"
    );
    assert_eq!(
        s.outbox_counts(at(1000)?).await?,
        OutboxCounts {
            due: 0,
            scheduled: 0,
            leased: 1,
            parked: 1,
            sent: 1
        }
    );

    let pending = s.outbox_pending(0, 10).await?;
    let keys: Vec<_> = pending.iter().map(|e| e.event_key.as_str()).collect();
    assert_eq!(keys, ["retry", "later"], "unsent, parked included, by id");
    let parked = &pending[0];
    assert_eq!(parked.parked_at, Some(at(6)?));
    assert_eq!(parked.last_error.as_deref(), Some("550 no such user"));
    assert_eq!(
        s.outbox_pending(parked.id, 10).await?.len(),
        1,
        "paged by id"
    );

    assert!(matches!(
        s.requeue_outbox(sent, at(7)?).await,
        Err(StoreError::NotFound)
    ));
    s.requeue_outbox(id, at(1001)?).await?;
    assert!(matches!(
        s.requeue_outbox(id, at(1001)?).await,
        Err(StoreError::NotFound)
    ));
    let m = s
        .claim_outbox(&claim(at(1001)?, at(1030)?, "u"))
        .await?
        .ok_or("requeued")?;
    assert_eq!((m.id, m.attempts), (id, 1), "attempts start again");
    assert_eq!(s.outbox_entry("nope").await?, None);
    Ok(())
}

/// Claimers running at once (tasks sharing the store, as server instances share PostgreSQL)
/// never get the same message.
pub async fn concurrent_claims_never_share_a_message(store: Arc<dyn Store>) -> Outcome {
    const MESSAGES: usize = 60;
    const CLAIMERS: usize = 6;
    for n in 0..MESSAGES {
        enqueue(store.as_ref(), &format!("m{n}"), at(0)?, at(0)?).await?;
    }
    let mut tasks = Vec::new();
    for c in 0..CLAIMERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            let mut k = 0;
            loop {
                k += 1;
                let token = format!("c{c}-{k}");
                match store.claim_outbox(&claim(at(1)?, at(100)?, &token)).await? {
                    Some(m) => {
                        store.mark_outbox_sent(m.id, &token, at(2)?).await?;
                        got.push(m.id);
                    }
                    None => return Ok::<_, Failure>(got),
                }
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let distinct: BTreeSet<_> = all.iter().collect();
    assert_eq!(distinct.len(), all.len(), "a message was claimed twice");
    // A claimer may stop early when SKIP LOCKED skips the rows others are claiming: finish.
    while let Some(m) = store.claim_outbox(&claim(at(1)?, at(100)?, "last")).await? {
        store.mark_outbox_sent(m.id, "last", at(2)?).await?;
        all.push(m.id);
    }
    let distinct: BTreeSet<_> = all.iter().collect();
    assert_eq!((distinct.len(), all.len()), (MESSAGES, MESSAGES));
    assert_eq!(store.outbox_counts(at(3)?).await?.sent, MESSAGES as i64);
    Ok(())
}
