//! Keys of the public directory (the FHIR API under `/fhir/v2` and the extracts over HTTP).
//!
//! A directory key is not an API token of `/api/v1`: it acts as nobody and holds no
//! habilitation, it only opens the public directory (and, when the operator says so, the
//! restricted RASS extract), under a rate limit. Like tokens, only the SHA-256 of the secret is
//! stored.

use async_trait::async_trait;
use jiff::Timestamp;

use crate::StoreResult;

/// Id of a directory key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DirectoryKeyId(pub i64);

impl std::fmt::Display for DirectoryKeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A directory key to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDirectoryKey {
    /// SHA-256 (hex) of the key's random bytes.
    pub hash: String,
    /// Who the key is for (the consuming software or organisation), as the operator named it.
    pub name: String,
    /// Whether the key may download the restricted (RASS) extract. The public extract is open
    /// to every key.
    pub restricted_extracts: bool,
    /// Requests per minute this key may make; `None` for the server's default.
    pub rate_per_minute: Option<u32>,
    /// When created.
    pub at: Timestamp,
}

/// A stored directory key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryKey {
    /// Its id.
    pub id: DirectoryKeyId,
    /// What was stored.
    pub record: NewDirectoryKey,
    /// When revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

/// Directory keys inside a transaction (the operator's commands).
#[async_trait]
pub trait DirectoryKeysTx {
    /// Stores a new key; [`crate::StoreError::Duplicate`]`(`[`crate::UniqueRule::TokenHash`]`)`
    /// when its hash is taken.
    async fn insert_directory_key(&mut self, k: &NewDirectoryKey) -> StoreResult<DirectoryKeyId>;

    /// The key with this id, revoked or not.
    async fn directory_key(&mut self, id: DirectoryKeyId) -> StoreResult<Option<DirectoryKey>>;

    /// Every key, revoked ones included, oldest first.
    async fn directory_keys(&mut self) -> StoreResult<Vec<DirectoryKey>>;

    /// Revokes a key at `at`; [`crate::StoreError::NotFound`] if there is no such unrevoked
    /// key.
    async fn revoke_directory_key(&mut self, id: DirectoryKeyId, at: Timestamp) -> StoreResult<()>;
}

/// Reading a presented key, outside any transaction: every directory request does it, so it is
/// one statement (no `BEGIN`/`COMMIT`, and on SQLite no wait for the writer).
#[async_trait]
pub trait DirectoryKeyStore {
    /// The unrevoked key whose secret hashes to `hash`.
    async fn directory_key_in_force(&self, hash: &str) -> StoreResult<Option<DirectoryKey>>;
}
