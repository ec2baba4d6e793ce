//! Registration drafts kept between the steps of the web wizard, and the identity-document
//! scans attached to them (then to the person once registered).
//!
//! A draft belongs to the person who started it and holds the registration typed so far as a
//! JSON object; it is deleted when the registration is confirmed, when its owner deletes it, or
//! when it has not been touched for a while (see [`DraftsTx::purge_drafts`]). A scan is stored
//! in the database, never on disk nor in the public directory: while its draft lives, only the
//! draft's owner reaches it; once attached to a person, the managers of that person.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{PersonId, StoreResult};

/// Id of a registration draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DraftId(pub i64);

/// Id of an identity-document scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdentityDocumentId(pub i64);

/// A draft to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDraft {
    /// The person who started it (a manager); nobody else reads it.
    pub owner: PersonId,
    /// The registration typed so far (a JSON object).
    pub payload: serde_json::Value,
    /// The furthest step reached, from 1.
    pub step: i16,
    /// When.
    pub at: Timestamp,
}

/// A stored draft.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// Internal id.
    pub id: DraftId,
    /// The person who started it.
    pub owner: PersonId,
    /// The registration typed so far.
    pub payload: serde_json::Value,
    /// The furthest step reached.
    pub step: i16,
    /// When started.
    pub created_at: Timestamp,
    /// When last saved.
    pub updated_at: Timestamp,
}

/// A scan to store, attached to a draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIdentityDocument {
    /// The draft it belongs to.
    pub draft: DraftId,
    /// Who sent it.
    pub uploaded_by: PersonId,
    /// The media type found from the content (`application/pdf`, `image/jpeg`, `image/png`).
    pub media_type: String,
    /// SHA-256 of the content, in hex.
    pub sha256: String,
    /// The bytes.
    pub content: Vec<u8>,
    /// When.
    pub at: Timestamp,
}

/// What is known of a stored scan, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityDocumentInfo {
    /// Internal id.
    pub id: IdentityDocumentId,
    /// The draft it belongs to, until the registration is confirmed.
    pub draft: Option<DraftId>,
    /// The person it belongs to, once registered.
    pub person: Option<PersonId>,
    /// Who sent it.
    pub uploaded_by: PersonId,
    /// The media type found from the content.
    pub media_type: String,
    /// SHA-256 of the content, in hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: i64,
    /// When sent.
    pub created_at: Timestamp,
}

/// A stored scan with its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityDocument {
    /// What is known of it.
    pub info: IdentityDocumentInfo,
    /// The bytes.
    pub content: Vec<u8>,
}

/// Registration drafts and identity-document scans.
#[async_trait]
pub trait DraftsTx {
    /// Stores a new draft.
    async fn insert_draft(&mut self, d: &NewDraft) -> StoreResult<DraftId>;

    /// The draft with this id.
    async fn draft(&mut self, id: DraftId) -> StoreResult<Option<Draft>>;

    /// The drafts of a person, most recently saved first.
    async fn drafts_of(&mut self, owner: PersonId) -> StoreResult<Vec<Draft>>;

    /// Replaces a draft's payload and step; [`crate::StoreError::NotFound`] if absent.
    async fn update_draft(
        &mut self,
        id: DraftId,
        payload: &serde_json::Value,
        step: i16,
        at: Timestamp,
    ) -> StoreResult<()>;

    /// Deletes a draft and the scan still attached to it; [`crate::StoreError::NotFound`] if
    /// absent.
    async fn delete_draft(&mut self, id: DraftId) -> StoreResult<()>;

    /// Deletes the drafts last saved before `before`, with the scans still attached to them;
    /// returns how many drafts went.
    async fn purge_drafts(&mut self, before: Timestamp) -> StoreResult<u64>;

    /// Stores the scan of a draft, replacing the one it had.
    async fn put_draft_document(
        &mut self,
        d: &NewIdentityDocument,
    ) -> StoreResult<IdentityDocumentId>;

    /// The scan attached to a draft, without its bytes.
    async fn draft_document(&mut self, draft: DraftId)
    -> StoreResult<Option<IdentityDocumentInfo>>;

    /// A scan with its bytes.
    async fn identity_document(
        &mut self,
        id: IdentityDocumentId,
    ) -> StoreResult<Option<IdentityDocument>>;

    /// Moves the scan of a draft to a person (the registration is confirmed); returns it, if
    /// the draft had one.
    async fn attach_draft_document(
        &mut self,
        draft: DraftId,
        person: PersonId,
    ) -> StoreResult<Option<IdentityDocumentId>>;

    /// The scans of a person, newest first, without their bytes.
    async fn documents_of_person(
        &mut self,
        person: PersonId,
    ) -> StoreResult<Vec<IdentityDocumentInfo>>;
}
