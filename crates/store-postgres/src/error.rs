//! Mapping of PostgreSQL errors to [`StoreError`].

use rppsplus_store::{StoreError, UniqueRule};
use sqlx::error::ErrorKind;

/// Turns a sqlx error into the seam's error.
pub(crate) fn store_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(db) if db.kind() == ErrorKind::UniqueViolation => {
            StoreError::Duplicate(unique_rule(db.constraint()))
        }
        _ => StoreError::Backend(e.to_string()),
    }
}

/// The rule behind a unique violation, by the name of the violated index (PostgreSQL reports
/// it as the constraint). The names are the schema's, identical on SQLite.
fn unique_rule(constraint: Option<&str>) -> UniqueRule {
    match constraint {
        Some("uq_persons_rpps") => UniqueRule::PersonRpps,
        Some("uq_persons_idnps") => UniqueRule::PersonIdnps,
        Some("uq_persons_email") => UniqueRule::PersonEmail,
        Some("uq_persons_mobile") => UniqueRule::PersonMobile,
        Some("uq_structures_finess") => UniqueRule::StructureFiness,
        Some("uq_api_tokens_hash") => UniqueRule::TokenHash,
        Some("uq_outbox_event_key") => UniqueRule::OutboxEventKey,
        _ => UniqueRule::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_names_map_to_rules() {
        assert_eq!(
            unique_rule(Some("uq_persons_mobile")),
            UniqueRule::PersonMobile
        );
        assert_eq!(
            unique_rule(Some("uq_outbox_event_key")),
            UniqueRule::OutboxEventKey
        );
        assert_eq!(unique_rule(Some("sessions_pkey")), UniqueRule::Other);
        assert_eq!(unique_rule(None), UniqueRule::Other);
    }
}
