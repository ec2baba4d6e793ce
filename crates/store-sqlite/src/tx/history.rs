//! Audit rows by target (index `ix_audit_log_target`).

use async_trait::async_trait;
use rppsplus_store::{AuditRow, HistoryTx, StoreError, StoreResult};

use super::SqliteTx;
use crate::error::store_error;
use crate::rows;

#[async_trait]
impl HistoryTx for SqliteTx {
    #[tracing::instrument(level = "debug", skip_all, fields(targets = targets.len()))]
    async fn audit_rows_for_targets(
        &mut self,
        targets: &[String],
        limit: u32,
    ) -> StoreResult<Vec<AuditRow>> {
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        // One parameter however many targets: a JSON array read back by json_each.
        let list = serde_json::to_string(targets)
            .map_err(|e| StoreError::Backend(format!("audit targets: {e}")))?;
        let found: Vec<rows::AuditDbRow> = sqlx::query_as(
            "SELECT seq, at, actor, action, target, details, prev_hash, hash
             FROM audit_log
             WHERE target IN (SELECT value FROM json_each($1))
             ORDER BY seq DESC LIMIT $2",
        )
        .bind(list)
        .bind(i64::from(limit))
        .fetch_all(self.conn())
        .await
        .map_err(store_error)?;
        found.into_iter().map(rows::AuditDbRow::into_row).collect()
    }
}
