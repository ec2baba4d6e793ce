//! A professional's history: audit rows read back by target.

use std::sync::Arc;

use rppsplus_store::{NewAuditEntry, Store};
use serde_json::json;

use crate::Outcome;
use crate::fixtures::at;

fn entry(n: i64, target: &str) -> Result<NewAuditEntry, crate::Failure> {
    Ok(NewAuditEntry {
        at: at(n)?,
        actor: "operator".into(),
        action: "situation.modify".into(),
        target: target.into(),
        details: json!({ "n": n }),
    })
}

/// Only the rows of the targets asked for come back, newest first, at most `limit`; rows
/// written in the same transaction are seen; no target gives nothing.
pub async fn audit_rows_by_target_newest_first(store: Arc<dyn Store>) -> Outcome {
    let mut tx = store.begin().await?;
    // `person:1` must not match `person:10` (no prefix matching).
    let targets = [
        "person:1",
        "situation:7",
        "person:10",
        "situation:7",
        "person:1",
        "situation:8",
    ];
    for (n, target) in targets.iter().enumerate() {
        tx.append_audit(&entry(n as i64 + 1, target)?).await?;
    }
    let wanted = vec!["person:1".to_owned(), "situation:7".to_owned()];
    let rows = tx.audit_rows_for_targets(&wanted, 100).await?;
    let seen: Vec<(i64, &str)> = rows
        .iter()
        .map(|r| (r.seq, r.entry.target.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (5, "person:1"),
            (4, "situation:7"),
            (2, "situation:7"),
            (1, "person:1")
        ]
    );
    assert_eq!(rows[0].entry.details, json!({ "n": 5 }));
    assert_eq!(rows[0].entry.at, at(5)?);
    assert_eq!(rows[0].entry.action, "situation.modify");

    let newest = tx.audit_rows_for_targets(&wanted, 2).await?;
    assert_eq!(
        newest.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [5, 4],
        "the limit keeps the newest rows"
    );
    assert!(tx.audit_rows_for_targets(&[], 100).await?.is_empty());
    assert!(
        tx.audit_rows_for_targets(&["person:99".to_owned()], 100)
            .await?
            .is_empty()
    );
    tx.commit().await?;

    // And once committed, from another transaction.
    let mut tx = store.begin().await?;
    let rows = tx
        .audit_rows_for_targets(&["situation:8".to_owned()], 10)
        .await?;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].seq, 6);
    tx.rollback().await?;
    Ok(())
}
