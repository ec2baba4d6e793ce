//! Directory keys: stored hashed with their rights and rate, read per request outside any
//! transaction, revoked once.

use std::sync::Arc;

use rppsplus_store::{
    DirectoryKey, DirectoryKeyId, NewDirectoryKey, Store, StoreError, UniqueRule,
};

use crate::fixtures::at;
use crate::{Failure, Outcome};

fn key(n: u8, name: &str, restricted: bool, rate: Option<u32>) -> Result<NewDirectoryKey, Failure> {
    Ok(NewDirectoryKey {
        hash: format!("{n:064}"),
        name: name.into(),
        restricted_extracts: restricted,
        rate_per_minute: rate,
        at: at(i64::from(n))?,
    })
}

/// Keys read back by id, in the list (oldest first) and by hash outside a transaction, with
/// their name, extract right and rate (or none, for the server's default); a second key with
/// the same hash is refused; a rolled-back key leaves nothing.
pub async fn directory_keys_round_trip(store: Arc<dyn Store>) -> Outcome {
    let keys = [
        key(1, "Logiciel de GAM", false, None)?,
        key(2, "ARS Bretagne", true, Some(1_000))?,
        key(3, "Annuaire régional", false, Some(1))?,
    ];
    let mut tx = store.begin().await?;
    let mut ids = Vec::new();
    for k in &keys {
        ids.push(tx.insert_directory_key(k).await?);
    }
    tx.commit().await?;

    let expected: Vec<DirectoryKey> = keys
        .iter()
        .zip(&ids)
        .map(|(k, id)| DirectoryKey {
            id: *id,
            record: k.clone(),
            revoked_at: None,
        })
        .collect();
    for k in &expected {
        assert_eq!(
            store.directory_key_in_force(&k.record.hash).await?.as_ref(),
            Some(k)
        );
    }
    assert_eq!(
        store.directory_key_in_force(&format!("{:064}", 9)).await?,
        None
    );

    let mut tx = store.begin().await?;
    for k in &expected {
        assert_eq!(tx.directory_key(k.id).await?.as_ref(), Some(k));
    }
    assert_eq!(tx.directory_keys().await?, expected, "oldest first");
    assert_eq!(
        tx.directory_key(DirectoryKeyId(ids[2].0 + 100)).await?,
        None
    );
    match tx.insert_directory_key(&key(1, "Copie", true, None)?).await {
        Err(StoreError::Duplicate(UniqueRule::TokenHash)) => {}
        other => panic!("expected a duplicate hash, got {other:?}"),
    }
    tx.rollback().await?;

    let mut tx = store.begin().await?;
    tx.insert_directory_key(&key(4, "Abandonné", false, None)?)
        .await?;
    tx.rollback().await?;
    assert_eq!(
        store.directory_key_in_force(&format!("{:064}", 4)).await?,
        None
    );
    let mut tx = store.begin().await?;
    assert_eq!(tx.directory_keys().await?.len(), 3);
    tx.rollback().await?;
    Ok(())
}

/// A revoked key is no longer found by its hash, but is still read by id and listed with its
/// revocation date; revoking it again, or an unknown key, is `NotFound` and changes nothing.
pub async fn revoking_a_directory_key(store: Arc<dyn Store>) -> Outcome {
    let kept = key(1, "Gardée", false, None)?;
    let revoked = key(2, "Révoquée", true, Some(60))?;
    let mut tx = store.begin().await?;
    let kept_id = tx.insert_directory_key(&kept).await?;
    let revoked_id = tx.insert_directory_key(&revoked).await?;
    tx.commit().await?;
    assert!(store.directory_key_in_force(&revoked.hash).await?.is_some());

    let mut tx = store.begin().await?;
    tx.revoke_directory_key(revoked_id, at(5)?).await?;
    tx.commit().await?;

    assert_eq!(store.directory_key_in_force(&revoked.hash).await?, None);
    assert_eq!(
        store
            .directory_key_in_force(&kept.hash)
            .await?
            .map(|k| k.id),
        Some(kept_id)
    );
    let mut tx = store.begin().await?;
    let gone = DirectoryKey {
        id: revoked_id,
        record: revoked.clone(),
        revoked_at: Some(at(5)?),
    };
    assert_eq!(tx.directory_key(revoked_id).await?, Some(gone.clone()));
    for id in [revoked_id, DirectoryKeyId(kept_id.0 + 100)] {
        match tx.revoke_directory_key(id, at(8)?).await {
            Err(StoreError::NotFound) => {}
            other => panic!("expected NotFound, got {other:?}"),
        }
    }
    assert_eq!(tx.directory_key(revoked_id).await?, Some(gone));
    assert_eq!(
        tx.directory_keys()
            .await?
            .iter()
            .map(|k| (k.id, k.revoked_at.is_some()))
            .collect::<Vec<_>>(),
        vec![(kept_id, false), (revoked_id, true)]
    );
    tx.commit().await?;
    Ok(())
}
