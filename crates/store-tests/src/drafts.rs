//! Registration drafts and identity-document scans.

use std::sync::Arc;

use rppsplus_store::{NewDraft, NewIdentityDocument, PersonId, Store, StoreError};
use serde_json::json;

use crate::Outcome;
use crate::fixtures::{self, at};

fn scan(
    draft: rppsplus_store::DraftId,
    by: PersonId,
    bytes: &[u8],
    n: i64,
) -> Result<NewIdentityDocument, crate::Failure> {
    Ok(NewIdentityDocument {
        draft,
        uploaded_by: by,
        media_type: "application/pdf".into(),
        sha256: format!("{:064x}", bytes.len()),
        content: bytes.to_vec(),
        at: at(n)?,
    })
}

/// A draft round-trips (payload, step, instants to the microsecond); a person's drafts come
/// most recently saved first and nobody else's; updating moves the step and the instant;
/// deleting removes it and its scan; absent drafts are `NotFound`.
pub async fn drafts_round_trip(store: Arc<dyn Store>) -> Outcome {
    let mut tx = store.begin().await?;
    let owner = tx.insert_person(&fixtures::person(1)?).await?;
    let other = tx.insert_person(&fixtures::person(2)?).await?;
    let payload =
        json!({"registration": {"identity": {"birth_name": "Lefèvre", "first_names": ["Élodie"]}}});
    let first = tx
        .insert_draft(&NewDraft {
            owner,
            payload: payload.clone(),
            step: 1,
            at: at(1)?,
        })
        .await?;
    let second = tx
        .insert_draft(&NewDraft {
            owner,
            payload: json!({}),
            step: 2,
            at: at(2)?,
        })
        .await?;
    tx.insert_draft(&NewDraft {
        owner: other,
        payload: json!({}),
        step: 1,
        at: at(3)?,
    })
    .await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    let read = tx.draft(first).await?.ok_or("draft stored")?;
    assert_eq!(read.owner, owner);
    assert_eq!(read.payload, payload);
    assert_eq!(read.step, 1);
    assert_eq!(read.created_at, at(1)?);
    assert_eq!(read.updated_at, at(1)?);
    let mine: Vec<_> = tx
        .drafts_of(owner)
        .await?
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(mine, [second, first]);

    let changed = json!({"registration": {"email": "a@example.org"}});
    tx.update_draft(first, &changed, 3, at(4)?).await?;
    let read = tx.draft(first).await?.ok_or("draft kept")?;
    assert_eq!((read.payload, read.step), (changed, 3));
    assert_eq!((read.created_at, read.updated_at), (at(1)?, at(4)?));
    let mine: Vec<_> = tx
        .drafts_of(owner)
        .await?
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(mine, [first, second], "the one saved last comes first");

    let doc = tx
        .put_draft_document(&scan(first, owner, b"%PDF-1.7 one", 5)?)
        .await?;
    tx.delete_draft(first).await?;
    assert!(tx.draft(first).await?.is_none());
    assert!(
        tx.identity_document(doc).await?.is_none(),
        "its scan went with it"
    );
    assert!(matches!(
        tx.delete_draft(first).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        tx.update_draft(first, &json!({}), 1, at(6)?).await,
        Err(StoreError::NotFound)
    ));
    tx.commit().await?;
    Ok(())
}

/// Drafts last saved before the limit go, with their scans; younger ones and scans already
/// attached to a person stay.
pub async fn old_drafts_are_purged(store: Arc<dyn Store>) -> Outcome {
    let mut tx = store.begin().await?;
    let owner = tx.insert_person(&fixtures::person(1)?).await?;
    let old = tx
        .insert_draft(&NewDraft {
            owner,
            payload: json!({}),
            step: 1,
            at: at(1)?,
        })
        .await?;
    let touched = tx
        .insert_draft(&NewDraft {
            owner,
            payload: json!({}),
            step: 1,
            at: at(1)?,
        })
        .await?;
    let young = tx
        .insert_draft(&NewDraft {
            owner,
            payload: json!({}),
            step: 1,
            at: at(5)?,
        })
        .await?;
    let old_scan = tx.put_draft_document(&scan(old, owner, b"old", 1)?).await?;
    let done = tx
        .insert_draft(&NewDraft {
            owner,
            payload: json!({}),
            step: 4,
            at: at(1)?,
        })
        .await?;
    let kept_scan = tx
        .put_draft_document(&scan(done, owner, b"kept", 1)?)
        .await?;
    tx.attach_draft_document(done, owner).await?;
    tx.update_draft(touched, &json!({"x": 1}), 2, at(6)?)
        .await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    assert_eq!(
        tx.purge_drafts(at(3)?).await?,
        2,
        "the old one and the attached one's draft"
    );
    assert!(tx.draft(old).await?.is_none());
    assert!(tx.draft(done).await?.is_none());
    assert!(tx.draft(touched).await?.is_some(), "saved since");
    assert!(tx.draft(young).await?.is_some());
    assert!(tx.identity_document(old_scan).await?.is_none());
    assert!(
        tx.identity_document(kept_scan).await?.is_some(),
        "a person's scan stays"
    );
    assert_eq!(tx.purge_drafts(at(3)?).await?, 0);
    tx.commit().await?;
    Ok(())
}

/// A draft holds one scan, replaced by the next; its bytes come back exactly; attaching moves
/// it to the person, after which the draft has none.
pub async fn draft_scans_are_replaced_then_attached(store: Arc<dyn Store>) -> Outcome {
    let mut tx = store.begin().await?;
    let owner = tx.insert_person(&fixtures::person(1)?).await?;
    let person = tx.insert_person(&fixtures::person(2)?).await?;
    let draft = tx
        .insert_draft(&NewDraft {
            owner,
            payload: json!({}),
            step: 1,
            at: at(1)?,
        })
        .await?;
    assert!(tx.draft_document(draft).await?.is_none());
    assert_eq!(tx.attach_draft_document(draft, person).await?, None);
    let first = tx
        .put_draft_document(&scan(draft, owner, b"%PDF first", 2)?)
        .await?;
    // Every byte value, to prove the column keeps binary content.
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let mut png = scan(draft, owner, &bytes, 3)?;
    png.media_type = "image/png".into();
    let second = tx.put_draft_document(&png).await?;
    assert!(tx.identity_document(first).await?.is_none(), "replaced");
    let info = tx.draft_document(draft).await?.ok_or("scan of the draft")?;
    assert_eq!(info.id, second);
    assert_eq!(info.draft, Some(draft));
    assert_eq!(info.person, None);
    assert_eq!(info.uploaded_by, owner);
    assert_eq!(info.media_type, "image/png");
    assert_eq!(info.size, 70_000);
    assert_eq!(info.sha256, png.sha256);
    assert_eq!(info.created_at, at(3)?);
    let full = tx.identity_document(second).await?.ok_or("scan")?;
    assert_eq!(full.content, bytes);

    assert_eq!(tx.attach_draft_document(draft, person).await?, Some(second));
    assert!(tx.draft_document(draft).await?.is_none());
    let of_person = tx.documents_of_person(person).await?;
    assert_eq!(of_person.len(), 1);
    assert_eq!(
        (of_person[0].id, of_person[0].person, of_person[0].draft),
        (second, Some(person), None)
    );
    assert!(tx.documents_of_person(owner).await?.is_empty());
    tx.delete_draft(draft).await?;
    assert!(
        tx.identity_document(second).await?.is_some(),
        "the person's scan outlives the draft"
    );
    tx.commit().await?;
    Ok(())
}

/// The schema refuses a scan of another media type or empty.
pub async fn scans_must_be_of_an_accepted_type(store: Arc<dyn Store>) -> Outcome {
    let mut tx = store.begin().await?;
    let owner = tx.insert_person(&fixtures::person(1)?).await?;
    let draft = tx
        .insert_draft(&NewDraft {
            owner,
            payload: json!({}),
            step: 1,
            at: at(1)?,
        })
        .await?;
    let mut html = scan(draft, owner, b"<html>", 2)?;
    html.media_type = "text/html".into();
    assert!(tx.put_draft_document(&html).await.is_err());
    drop(tx);
    let mut tx = store.begin().await?;
    let owner = tx.insert_person(&fixtures::person(1)?).await?;
    let draft = tx
        .insert_draft(&NewDraft {
            owner,
            payload: json!({}),
            step: 1,
            at: at(1)?,
        })
        .await?;
    assert!(
        tx.put_draft_document(&scan(draft, owner, b"", 2)?)
            .await
            .is_err()
    );
    Ok(())
}
