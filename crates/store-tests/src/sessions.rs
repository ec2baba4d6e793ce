//! Sign-in sessions and API tokens.

use std::sync::Arc;

use rppsplus_store::{
    ApiToken, ApiTokenId, NewApiToken, NewPendingSignIn, NewSession, PersonId, Session, Store,
    StoreError, TokenHolder, UniqueRule,
};

use crate::fixtures::{self, at};
use crate::{Failure, Outcome};

async fn a_person(store: &dyn Store) -> Result<PersonId, Failure> {
    let mut tx = store.begin().await?;
    let id = tx.insert_person(&fixtures::person(1)?).await?;
    tx.commit().await?;
    Ok(id)
}

/// A session is found until it expires (exclusive), touching records its last use, deleting
/// signs out (twice is fine), and a second session with the same id hash is refused.
pub async fn sessions_expire(store: Arc<dyn Store>) -> Outcome {
    let person = a_person(store.as_ref()).await?;
    let s = NewSession {
        id_hash: "a".repeat(64),
        person,
        csrf_token: "csrf-1".into(),
        method: "psc".into(),
        created_at: at(100)?,
        expires_at: at(200)?,
    };
    let mut tx = store.begin().await?;
    tx.insert_session(&s).await?;
    match tx.insert_session(&s).await {
        Err(StoreError::Duplicate(UniqueRule::Other)) => {}
        other => panic!("expected Duplicate(Other), got {other:?}"),
    }
    tx.commit().await?;

    let mut tx = store.begin().await?;
    let fresh = Session {
        record: s.clone(),
        last_seen_at: s.created_at,
    };
    assert_eq!(tx.session(&s.id_hash, at(150)?).await?, Some(fresh));
    assert_eq!(
        tx.session(&s.id_hash, at(200)?).await?,
        None,
        "expired at expires_at"
    );
    assert_eq!(tx.session(&s.id_hash, at(201)?).await?, None);
    assert_eq!(tx.session(&"b".repeat(64), at(150)?).await?, None);

    tx.touch_session(&s.id_hash, at(160)?).await?;
    assert_eq!(
        tx.session(&s.id_hash, at(170)?).await?,
        Some(Session {
            record: s.clone(),
            last_seen_at: at(160)?,
        })
    );
    match tx.touch_session(&"b".repeat(64), at(160)?).await {
        Err(StoreError::NotFound) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    tx.delete_session(&s.id_hash).await?;
    assert_eq!(tx.session(&s.id_hash, at(150)?).await?, None);
    tx.delete_session(&s.id_hash).await?;
    tx.commit().await?;
    Ok(())
}

/// API tokens read back by hash, record their last use, and a second token with the same hash
/// is refused with `Duplicate(TokenHash)`.
pub async fn api_tokens(store: Arc<dyn Store>) -> Outcome {
    let person = a_person(store.as_ref()).await?;
    let personal = NewApiToken {
        hash: "1".repeat(64),
        holder: TokenHolder::Person(person),
        label: "Mon script".into(),
        at: at(1)?,
    };
    let system = NewApiToken {
        hash: "2".repeat(64),
        holder: TokenHolder::System("SI-RH".into()),
        label: "Export RH".into(),
        at: at(2)?,
    };
    let mut tx = store.begin().await?;
    let personal_id = tx.insert_api_token(&personal).await?;
    let system_id = tx.insert_api_token(&system).await?;
    let same_hash = NewApiToken {
        label: "other".into(),
        ..system.clone()
    };
    match tx.insert_api_token(&same_hash).await {
        Err(StoreError::Duplicate(UniqueRule::TokenHash)) => {}
        other => panic!("expected Duplicate(TokenHash), got {other:?}"),
    }
    tx.commit().await?;

    let mut tx = store.begin().await?;
    assert_eq!(
        tx.api_token_by_hash(&personal.hash).await?,
        Some(ApiToken {
            id: personal_id,
            record: personal.clone(),
            last_used_at: None,
            revoked_at: None,
        })
    );
    tx.touch_api_token(system_id, at(3)?).await?;
    assert_eq!(
        tx.api_token_by_hash(&system.hash).await?,
        Some(ApiToken {
            id: system_id,
            record: system.clone(),
            last_used_at: Some(at(3)?),
            revoked_at: None,
        })
    );
    assert_eq!(tx.api_token_by_hash(&"3".repeat(64)).await?, None);
    match tx
        .touch_api_token(ApiTokenId(system_id.0 + 100), at(4)?)
        .await
    {
        Err(StoreError::NotFound) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    Ok(())
}

/// A pending sign-in is taken once (a replayed state finds nothing), keeps what was stored, is
/// returned even when expired (the caller decides), and purging removes expired sessions and
/// pending sign-ins only.
pub async fn pending_sign_ins_are_single_use(store: Arc<dyn Store>) -> Outcome {
    let person = a_person(store.as_ref()).await?;
    let pending = |n: u8, expires: i64| -> Result<NewPendingSignIn, Failure> {
        Ok(NewPendingSignIn {
            state_hash: format!("{n:064}"),
            browser_hash: "b".repeat(64),
            payload: format!(r#"{{"nonce":"n{n}"}}"#),
            created_at: at(100)?,
            expires_at: at(expires)?,
        })
    };
    let mut tx = store.begin().await?;
    tx.insert_pending_sign_in(&pending(1, 400)?).await?;
    tx.insert_pending_sign_in(&pending(2, 150)?).await?;
    assert!(matches!(
        tx.insert_pending_sign_in(&pending(1, 400)?).await,
        Err(StoreError::Duplicate(UniqueRule::Other))
    ));
    tx.insert_session(&NewSession {
        id_hash: "c".repeat(64),
        person,
        csrf_token: "t".into(),
        method: "local".into(),
        created_at: at(100)?,
        expires_at: at(150)?,
    })
    .await?;
    tx.insert_session(&NewSession {
        id_hash: "d".repeat(64),
        person,
        csrf_token: "t".into(),
        method: "local".into(),
        created_at: at(100)?,
        expires_at: at(500)?,
    })
    .await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    assert_eq!(
        tx.take_pending_sign_in(&format!("{:064}", 1)).await?,
        Some(pending(1, 400)?)
    );
    assert_eq!(tx.take_pending_sign_in(&format!("{:064}", 1)).await?, None);
    // Purging at 200 removes the expired pending sign-in and session, not the live session.
    assert_eq!(tx.purge_expired_sessions(at(200)?).await?, 2);
    assert_eq!(tx.take_pending_sign_in(&format!("{:064}", 2)).await?, None);
    assert!(tx.session(&"d".repeat(64), at(200)?).await?.is_some());
    tx.commit().await?;
    Ok(())
}
