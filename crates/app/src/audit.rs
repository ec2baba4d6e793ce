//! Verification of the audit log's hash chain.

use rppsplus_store::audit::{ChainBreak, Verifier};

use crate::{App, AppResult};

/// Rows read per page while verifying, so memory stays flat on a large log.
const PAGE: u32 = 1_000;

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    /// Rows that verified before the first break (all rows when intact).
    pub verified: i64,
    /// The first row that does not verify.
    pub first_break: Option<ChainBreak>,
}

impl App {
    /// Walks the whole audit chain and reports the first broken row.
    pub async fn verify_audit(&self) -> AppResult<AuditReport> {
        let mut verifier = Verifier::default();
        let mut after = 0;
        loop {
            let rows = self.store.audit_rows(after, PAGE).await?;
            let Some(last) = rows.last() else { break };
            after = last.seq;
            for row in &rows {
                if let Err(b) = verifier.check(row) {
                    return Ok(AuditReport {
                        verified: verifier.verified(),
                        first_break: Some(b),
                    });
                }
            }
        }
        Ok(AuditReport {
            verified: verifier.verified(),
            first_break: None,
        })
    }
}
