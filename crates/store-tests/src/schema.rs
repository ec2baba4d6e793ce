//! Migrations, health and row counts.

use std::sync::Arc;

use rppsplus_store::{Backend, RowCounts, Store};

use crate::Outcome;

/// A fresh database: migrating applies the schema, a second run is a no-op, nothing is stored,
/// and the store answers and closes.
pub async fn migrating_a_fresh_database(store: Arc<dyn Store>, backend: Backend) -> Outcome {
    assert_eq!(store.backend(), backend);
    store.ping().await?;
    assert!(!store.is_migrated().await?, "nothing applied yet");
    store.migrate().await?;
    assert!(store.is_migrated().await?);
    store.migrate().await?;
    assert!(
        store.is_migrated().await?,
        "migrating twice changes nothing"
    );
    assert_eq!(store.row_counts().await?, RowCounts::default());
    store.close().await;
    Ok(())
}
