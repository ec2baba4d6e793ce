//! Mapping of SQLite errors to [`StoreError`].

use rppsplus_store::{StoreError, UniqueRule};
use sqlx::error::ErrorKind;

/// Turns a sqlx error into the seam's error.
pub(crate) fn store_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(db) if db.kind() == ErrorKind::UniqueViolation => {
            StoreError::Duplicate(unique_rule(db.message()))
        }
        _ => StoreError::Backend(e.to_string()),
    }
}

/// The rule behind a unique violation.
///
/// SQLite does not report the name of a violated index built on plain columns: its message is
/// always `UNIQUE constraint failed: ` followed by the index's `table.column` list. Each list
/// below is exactly the column list of one named unique index of the schema (whose name is given
/// alongside), so the match is on the index, not on loose words of the message.
fn unique_rule(message: &str) -> UniqueRule {
    let Some(columns) = message.strip_prefix("UNIQUE constraint failed: ") else {
        return UniqueRule::Other;
    };
    match columns {
        // uq_persons_rpps
        "persons.rpps" => UniqueRule::PersonRpps,
        // uq_persons_idnps
        "persons.idnps" => UniqueRule::PersonIdnps,
        // uq_persons_email
        "persons.email" => UniqueRule::PersonEmail,
        // uq_persons_mobile
        "persons.mobile" => UniqueRule::PersonMobile,
        // uq_structures_finess
        "structures.finess" => UniqueRule::StructureFiness,
        // uq_api_tokens_hash
        "api_tokens.hash" => UniqueRule::TokenHash,
        // uq_outbox_event_key
        "outbox.event_key" => UniqueRule::OutboxEventKey,
        _ => UniqueRule::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_column_lists_name_a_rule() {
        assert_eq!(
            unique_rule("UNIQUE constraint failed: persons.email"),
            UniqueRule::PersonEmail
        );
        assert_eq!(
            unique_rule("UNIQUE constraint failed: outbox.event_key"),
            UniqueRule::OutboxEventKey
        );
        assert_eq!(
            unique_rule("UNIQUE constraint failed: persons.email, persons.mobile"),
            UniqueRule::Other
        );
        assert_eq!(unique_rule("persons.email"), UniqueRule::Other);
        assert_eq!(
            unique_rule("UNIQUE constraint failed: sessions.id_hash"),
            UniqueRule::Other
        );
    }
}
