//! API tokens: the three kinds of holder, a person's tokens, revocation.

use std::sync::Arc;

use rppsplus_store::{ApiToken, NewApiToken, PersonId, Store, StoreError, TokenHolder};
use rppsplus_test_support::db::{BackendStore, TestDb};

use crate::fixtures::{self, at};
use crate::{Failure, Outcome};

async fn persons(store: &dyn Store, n: u64) -> Result<Vec<PersonId>, Failure> {
    let mut tx = store.begin().await?;
    let mut ids = Vec::new();
    for i in 1..=n {
        ids.push(tx.insert_person(&fixtures::person(i)?).await?);
    }
    tx.commit().await?;
    Ok(ids)
}

fn token(n: u8, holder: TokenHolder, label: &str) -> Result<NewApiToken, Failure> {
    Ok(NewApiToken {
        hash: format!("{n:064}"),
        holder,
        label: label.into(),
        at: at(i64::from(n))?,
    })
}

/// Person, system and operator tokens read back by id and by hash with their holder; a
/// person's tokens are theirs only, oldest first; an unknown id finds nothing.
pub async fn api_token_holders_round_trip(store: Arc<dyn Store>) -> Outcome {
    let ids = persons(store.as_ref(), 2).await?;
    let (alice, bob) = (ids[0], ids[1]);
    let tokens = [
        token(1, TokenHolder::Person(alice), "Script RH")?,
        token(2, TokenHolder::System("SI-DMP".into()), "Décisions d'accès")?,
        token(3, TokenHolder::Operator("exploitation".into()), "Opérateur")?,
        token(4, TokenHolder::Person(bob), "Autre")?,
        token(5, TokenHolder::Person(alice), "Second script")?,
    ];
    let mut tx = store.begin().await?;
    let mut stored = Vec::new();
    for t in &tokens {
        stored.push(tx.insert_api_token(t).await?);
    }
    tx.commit().await?;

    let mut tx = store.begin().await?;
    for (t, id) in tokens.iter().zip(&stored) {
        let expected = Some(ApiToken {
            id: *id,
            record: t.clone(),
            last_used_at: None,
            revoked_at: None,
        });
        assert_eq!(tx.api_token(*id).await?, expected);
        assert_eq!(tx.api_token_by_hash(&t.hash).await?, expected);
    }
    let of_alice: Vec<_> = tx
        .api_tokens_of(alice)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(
        of_alice,
        vec![stored[0], stored[4]],
        "oldest first, Alice's only"
    );
    let of_bob: Vec<_> = tx
        .api_tokens_of(bob)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(of_bob, vec![stored[3]]);
    assert!(tx.api_tokens_of(PersonId(bob.0 + 100)).await?.is_empty());
    assert_eq!(
        tx.api_token(rppsplus_store::ApiTokenId(stored[4].0 + 100))
            .await?,
        None
    );
    tx.rollback().await?;
    Ok(())
}

/// A revoked token no longer authenticates nor appears among its person's tokens, but is still
/// read by id with its revocation date; revoking it again, or an unknown token, is `NotFound`.
pub async fn revoking_an_api_token(store: Arc<dyn Store>) -> Outcome {
    let ids = persons(store.as_ref(), 1).await?;
    let person = ids[0];
    let kept = token(1, TokenHolder::Person(person), "Gardé")?;
    let revoked = token(2, TokenHolder::Person(person), "Révoqué")?;
    let system = token(3, TokenHolder::System("SI-RH".into()), "Système")?;
    let mut tx = store.begin().await?;
    let kept_id = tx.insert_api_token(&kept).await?;
    let revoked_id = tx.insert_api_token(&revoked).await?;
    let system_id = tx.insert_api_token(&system).await?;
    tx.touch_api_token(revoked_id, at(5)?).await?;
    tx.revoke_api_token(revoked_id, at(6)?).await?;
    tx.revoke_api_token(system_id, at(7)?).await?;
    tx.commit().await?;

    // The same read outside a transaction, as authentication does it.
    assert_eq!(store.api_token_in_force(&revoked.hash).await?, None);
    assert_eq!(store.api_token_in_force(&system.hash).await?, None);
    let in_force = store.api_token_in_force(&kept.hash).await?;
    assert_eq!(
        in_force.map(|t| (t.id, t.record)),
        Some((kept_id, kept.clone()))
    );

    let mut tx = store.begin().await?;
    assert_eq!(tx.api_token_by_hash(&revoked.hash).await?, None);
    assert_eq!(tx.api_token_by_hash(&system.hash).await?, None);
    assert!(tx.api_token_by_hash(&kept.hash).await?.is_some());
    assert_eq!(
        tx.api_token(revoked_id).await?,
        Some(ApiToken {
            id: revoked_id,
            record: revoked.clone(),
            last_used_at: Some(at(5)?),
            revoked_at: Some(at(6)?),
        })
    );
    let listed: Vec<_> = tx
        .api_tokens_of(person)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(listed, vec![kept_id]);
    for id in [revoked_id, rppsplus_store::ApiTokenId(system_id.0 + 100)] {
        match tx.revoke_api_token(id, at(8)?).await {
            Err(StoreError::NotFound) => {}
            other => panic!("expected NotFound, got {other:?}"),
        }
    }
    // The second revocation changed nothing.
    assert_eq!(
        tx.api_token(revoked_id).await?.and_then(|t| t.revoked_at),
        Some(at(6)?)
    );
    tx.commit().await?;
    Ok(())
}

/// The database refuses a token whose holder columns do not fit its kind, whoever writes.
pub async fn api_token_holder_columns_must_fit_the_kind(db: &TestDb) -> Outcome {
    let ids = persons(db.store.as_ref(), 1).await?;
    let person = ids[0].0;
    // (kind, person, name, accepted): the last two rows prove that the statement itself works.
    let cases: [(&str, Option<i64>, Option<&str>, bool); 7] = [
        ("person", None, None, false),
        ("person", Some(person), Some("SI"), false),
        ("system", Some(person), None, false),
        ("operator", None, None, false),
        ("unknown", None, Some("SI"), false),
        ("person", Some(person), None, true),
        ("operator", None, Some("exploitation"), true),
    ];
    for (n, (kind, person_id, name, accepted)) in cases.into_iter().enumerate() {
        let hash = format!("{n:064}");
        let refused = match &db.backend_store {
            BackendStore::Sqlite(s) => sqlx::query(
                "INSERT INTO api_tokens (hash, kind, person_id, system_name, label, created_at)
                 VALUES ($1, $2, $3, $4, 'x', 0)",
            )
            .bind(hash)
            .bind(kind)
            .bind(person_id)
            .bind(name)
            .execute(s.pool())
            .await
            .is_err(),
            BackendStore::Postgres(s) => sqlx::query(
                "INSERT INTO api_tokens (hash, kind, person_id, system_name, label, created_at)
                 VALUES ($1, $2, $3, $4, 'x', now())",
            )
            .bind(hash)
            .bind(kind)
            .bind(person_id)
            .bind(name)
            .execute(s.pool())
            .await
            .is_err(),
        };
        assert_eq!(
            !refused, accepted,
            "{kind} / {person_id:?} / {name:?}: accepted should be {accepted}"
        );
    }
    Ok(())
}
