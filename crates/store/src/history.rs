//! What a professional's page needs of the audit log: the rows about given targets.

use async_trait::async_trait;

use crate::{AuditRow, StoreResult};

/// Reads of the audit log by target, inside a transaction (the page reads a professional and
/// their history in one snapshot).
#[async_trait]
pub trait HistoryTx {
    /// The audit rows whose target is one of `targets` (`person:12`, `situation:34`), newest
    /// first, at most `limit`.
    async fn audit_rows_for_targets(
        &mut self,
        targets: &[String],
        limit: u32,
    ) -> StoreResult<Vec<AuditRow>>;
}
