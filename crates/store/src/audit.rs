//! The audit log's hash chain, shared by every backend so that both hash the same bytes.
//!
//! Row `n` stores `hash(n) = SHA-256(hash(n-1) ‖ canonical(row n))`, the first row chaining to
//! [`GENESIS`]. Changing, removing or reordering any row breaks every hash after it, which
//! [`verify`] reports by naming the first row that no longer matches.

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::{AuditRow, NewAuditEntry};

/// The `prev_hash` of the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Truncates an instant to the microsecond, the precision both databases keep.
pub fn truncate(at: Timestamp) -> Timestamp {
    let micros = at.as_microsecond();
    Timestamp::from_microsecond(micros).unwrap_or(at)
}

/// The hash of a row given the previous row's hash.
pub fn row_hash(prev_hash: &str, seq: i64, e: &NewAuditEntry) -> String {
    let mut h = Sha256::new();
    // Fields are length-prefixed so that no two different rows share a canonical form.
    for field in [
        prev_hash.to_owned(),
        seq.to_string(),
        truncate(e.at).as_microsecond().to_string(),
        e.actor.clone(),
        e.action.clone(),
        e.target.clone(),
        canonical_json(&e.details),
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

/// JSON with object keys sorted, so that a backend that reorders keys (PostgreSQL `jsonb`)
/// hashes the same text.
pub fn canonical_json(v: &serde_json::Value) -> String {
    fn sorted(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(map) => {
                let mut keys: Vec<_> = map.keys().collect();
                keys.sort();
                let mut out = serde_json::Map::new();
                for k in keys {
                    if let Some(x) = map.get(k) {
                        out.insert(k.clone(), sorted(x));
                    }
                }
                serde_json::Value::Object(out)
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(sorted).collect())
            }
            other => other.clone(),
        }
    }
    // serde_json's Map keeps insertion order only with `preserve_order`; without it the map is
    // a BTreeMap and already sorted. Sorting explicitly keeps this true either way.
    sorted(v).to_string()
}

/// Why the chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// A row's stored hash does not match its content.
    #[error("audit row {seq}: content does not match its hash")]
    Altered {
        /// The row.
        seq: i64,
    },
    /// A row does not point to the previous row's hash.
    #[error("audit row {seq}: does not chain to the previous row")]
    Unlinked {
        /// The row.
        seq: i64,
    },
    /// A row is missing or out of place.
    #[error("audit row {seq}: expected sequence {expected}")]
    Gap {
        /// The row found.
        seq: i64,
        /// The sequence expected at that place.
        expected: i64,
    },
}

impl ChainBreak {
    /// The first row that fails.
    pub fn seq(&self) -> i64 {
        match self {
            ChainBreak::Altered { seq }
            | ChainBreak::Unlinked { seq }
            | ChainBreak::Gap { seq, .. } => *seq,
        }
    }
}

/// Incremental verifier: feed rows in order, page after page.
#[derive(Debug, Clone)]
pub struct Verifier {
    expected_seq: i64,
    prev_hash: String,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            expected_seq: 1,
            prev_hash: GENESIS.to_owned(),
        }
    }
}

impl Verifier {
    /// Checks the next row.
    pub fn check(&mut self, row: &AuditRow) -> Result<(), ChainBreak> {
        if row.seq != self.expected_seq {
            return Err(ChainBreak::Gap {
                seq: row.seq,
                expected: self.expected_seq,
            });
        }
        if row.prev_hash != self.prev_hash {
            return Err(ChainBreak::Unlinked { seq: row.seq });
        }
        if row_hash(&row.prev_hash, row.seq, &row.entry) != row.hash {
            return Err(ChainBreak::Altered { seq: row.seq });
        }
        self.expected_seq += 1;
        self.prev_hash = row.hash.clone();
        Ok(())
    }

    /// How many rows verified so far.
    pub fn verified(&self) -> i64 {
        self.expected_seq - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: i64) -> NewAuditEntry {
        NewAuditEntry {
            at: Timestamp::from_second(1_700_000_000 + n).unwrap_or(Timestamp::UNIX_EPOCH),
            actor: "operator".into(),
            action: "test.action".into(),
            target: format!("thing:{n}"),
            details: serde_json::json!({"b": 1, "a": [n, {"z": 0, "y": 1}]}),
        }
    }

    fn chain(n: i64) -> Vec<AuditRow> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let e = entry(seq);
                let hash = row_hash(&prev, seq, &e);
                let row = AuditRow {
                    seq,
                    entry: e,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                row
            })
            .collect()
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let mut v = Verifier::default();
        for row in chain(5) {
            assert_eq!(v.check(&row), Ok(()));
        }
        assert_eq!(v.verified(), 5);
    }

    #[test]
    fn the_first_altered_row_is_named() {
        let mut rows = chain(5);
        rows[2].entry.target = "thing:other".into();
        let mut v = Verifier::default();
        let first_err = rows.iter().find_map(|r| v.check(r).err());
        assert_eq!(first_err, Some(ChainBreak::Altered { seq: 3 }));
    }

    #[test]
    fn a_removed_row_is_a_gap() {
        let mut rows = chain(5);
        rows.remove(1);
        let mut v = Verifier::default();
        let first_err = rows.iter().find_map(|r| v.check(r).err());
        assert_eq!(
            first_err,
            Some(ChainBreak::Gap {
                seq: 3,
                expected: 2
            })
        );
    }

    #[test]
    fn key_order_does_not_change_the_hash() {
        let a = serde_json::json!({"x": 1, "a": {"k": 2, "b": 3}});
        let b: serde_json::Value =
            serde_json::from_str(r#"{"a": {"b": 3, "k": 2}, "x": 1}"#).unwrap_or_default();
        assert_eq!(canonical_json(&a), canonical_json(&b));
    }
}
