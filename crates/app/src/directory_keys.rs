//! Keys of the public directory: the FHIR API under `/fhir/v2` and the extracts over HTTP.
//!
//! The operator issues a key per consuming software or organisation (`rppsplus apikey create`),
//! which sends it in the `ESANTE-API-KEY` header like keys of the national Annuaire Santé API.
//! A key is `rppsdir_` followed by 64 hexadecimal digits (32 random bytes) and is shown once;
//! the database keeps only the SHA-256 of those bytes. A key acts as nobody: it reads public
//! data, under its rate limit, and the restricted RASS extract only when the operator allowed
//! it. Presented keys are read on every request, outside any transaction: a revoked key stops
//! working at the next request, on every server instance.

use jiff::Timestamp;
use rppsplus_store::{DirectoryKey, DirectoryKeyId, NewAuditEntry, NewDirectoryKey, StoreError};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{Actor, App, AppError, AppResult, FieldError};

/// What every directory key starts with, so that people and secret scanners recognise one (and
/// never mistake it for an `/api/v1` token, `rpps_…`).
pub const KEY_PREFIX: &str = "rppsdir_";

/// Random bytes in a key.
const SECRET_BYTES: usize = 32;

/// Longest name, in characters.
const NAME_MAX: usize = 100;

/// Highest rate an operator may give a key, per minute.
pub const MAX_RATE_PER_MINUTE: u32 = 1_000_000;

/// A key as the operator sees it: never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryKeyView {
    /// Its id (what `apikey revoke` takes).
    pub id: DirectoryKeyId,
    /// Who it is for.
    pub name: String,
    /// Whether it may download the restricted RASS extract.
    pub restricted_extracts: bool,
    /// Its rate per minute, `None` for the server's default.
    pub rate_per_minute: Option<u32>,
    /// When created.
    pub created_at: Timestamp,
    /// When revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

impl From<DirectoryKey> for DirectoryKeyView {
    fn from(k: DirectoryKey) -> Self {
        DirectoryKeyView {
            id: k.id,
            name: k.record.name,
            restricted_extracts: k.record.restricted_extracts,
            rate_per_minute: k.record.rate_per_minute,
            created_at: k.record.at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A key just created: the only time its secret is seen.
#[derive(Clone)]
pub struct IssuedDirectoryKey {
    /// The key to give to the consuming software (`rppsdir_…`).
    pub secret: String,
    /// What was stored.
    pub view: DirectoryKeyView,
}

// The secret stays out of debug output (and so out of logs).
impl std::fmt::Debug for IssuedDirectoryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedDirectoryKey")
            .field("secret", &"rppsdir_***")
            .field("view", &self.view)
            .finish()
    }
}

/// The SHA-256 (hex) of a key's random bytes, or `None` when the text is not a key.
pub fn key_hash(presented: &str) -> Option<String> {
    let hex_part = presented.strip_prefix(KEY_PREFIX)?;
    if hex_part.len() != SECRET_BYTES * 2
        || !hex_part
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let bytes = hex::decode(hex_part).ok()?;
    Some(hex::encode(Sha256::digest(&bytes)))
}

/// A new key and its hash.
fn new_key() -> AppResult<(String, String)> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| {
        AppError::Store(StoreError::Backend(format!("no randomness available: {e}")))
    })?;
    let secret = format!("{KEY_PREFIX}{}", hex::encode(bytes));
    Ok((secret, hex::encode(Sha256::digest(bytes))))
}

/// A key's name as stored: trimmed, 1 to 100 characters, no control character.
fn clean_name(name: &str) -> Result<String, FieldError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
        return Err(FieldError::new(
            "name",
            "invalid_name",
            "Le nom de la clé (le logiciel ou l'organisme qui l'utilise) fait de 1 à 100 caractères, sans retour à la ligne.",
        ));
    }
    Ok(name.to_owned())
}

fn check_rate(rate: Option<u32>) -> Result<Option<u32>, FieldError> {
    match rate {
        Some(r) if r == 0 || r > MAX_RATE_PER_MINUTE => Err(FieldError::new(
            "rate",
            "invalid_rate",
            "Le débit autorisé est un nombre de requêtes par minute, de 1 à 1 000 000.",
        )),
        other => Ok(other),
    }
}

impl App {
    /// Issues a directory key (operator only): `restricted_extracts` lets it download the
    /// restricted RASS extract; `rate_per_minute` replaces the server's default rate.
    pub async fn create_directory_key(
        &self,
        actor: &Actor,
        name: &str,
        restricted_extracts: bool,
        rate_per_minute: Option<u32>,
    ) -> AppResult<IssuedDirectoryKey> {
        if *actor != Actor::Operator {
            return Err(AppError::Forbidden);
        }
        let mut problems = Vec::new();
        let name = clean_name(name).map_err(|e| problems.push(e)).ok();
        let rate = check_rate(rate_per_minute)
            .map_err(|e| problems.push(e))
            .ok();
        let (Some(name), Some(rate_per_minute)) = (name, rate) else {
            return Err(AppError::Invalid(problems));
        };
        let (secret, hash) = new_key()?;
        let at = self.now();
        let record = NewDirectoryKey {
            hash,
            name,
            restricted_extracts,
            rate_per_minute,
            at,
        };
        let mut tx = self.store.begin().await?;
        let id = tx.insert_directory_key(&record).await?;
        tx.append_audit(&NewAuditEntry {
            at,
            actor: actor.audit_name(),
            action: "directory_key.create".to_owned(),
            target: format!("directory_key:{id}"),
            details: json!({
                "name": record.name,
                "restricted_extracts": restricted_extracts,
                "rate_per_minute": rate_per_minute,
            }),
        })
        .await?;
        tx.commit().await?;
        Ok(IssuedDirectoryKey {
            secret,
            view: DirectoryKey {
                id,
                record,
                revoked_at: None,
            }
            .into(),
        })
    }

    /// Every directory key, revoked ones included, oldest first (operator only).
    pub async fn directory_keys(&self, actor: &Actor) -> AppResult<Vec<DirectoryKeyView>> {
        if *actor != Actor::Operator {
            return Err(AppError::Forbidden);
        }
        let mut tx = self.store.begin().await?;
        let keys = tx.directory_keys().await?;
        tx.rollback().await?;
        Ok(keys.into_iter().map(DirectoryKeyView::from).collect())
    }

    /// Revokes a directory key (operator only); it stops working at the next request. An
    /// unknown or already revoked key is [`AppError::NotFound`].
    pub async fn revoke_directory_key(&self, actor: &Actor, id: DirectoryKeyId) -> AppResult<()> {
        if *actor != Actor::Operator {
            return Err(AppError::Forbidden);
        }
        let at = self.now();
        let mut tx = self.store.begin().await?;
        tx.revoke_directory_key(id, at).await?;
        tx.append_audit(&NewAuditEntry {
            at,
            actor: actor.audit_name(),
            action: "directory_key.revoke".to_owned(),
            target: format!("directory_key:{id}"),
            details: json!({}),
        })
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The key in force that `presented` is, or `None` when it is not a key, unknown or
    /// revoked. Read on every request in one statement outside any transaction; nothing is
    /// cached.
    pub async fn authenticate_directory_key(
        &self,
        presented: &str,
    ) -> AppResult<Option<DirectoryKey>> {
        let Some(hash) = key_hash(presented) else {
            return Ok(None);
        };
        Ok(self.store.directory_key_in_force(&hash).await?)
    }
}

impl App {
    /// Lets a key download an extract, or not: the public extract is open to every key in
    /// force, the restricted (RASS) one only to keys the operator allowed
    /// ([`AppError::Forbidden`] otherwise). An allowed download is recorded in the audit log
    /// before the file is streamed: who read the registry in bulk, and the restricted extract
    /// above all, stays on record.
    pub async fn start_extract_download(
        &self,
        key: &DirectoryKey,
        format: crate::extracts::ExtractFormat,
    ) -> AppResult<()> {
        if format == crate::extracts::ExtractFormat::Rass && !key.record.restricted_extracts {
            return Err(AppError::Forbidden);
        }
        let at = self.now();
        let mut tx = self.store.begin().await?;
        tx.append_audit(&NewAuditEntry {
            at,
            actor: format!("directory_key:{}", key.id),
            action: "extract.download".to_owned(),
            target: format!("directory_key:{}", key.id),
            details: json!({ "format": match format {
                crate::extracts::ExtractFormat::PsLibreAcces => "ps-libreacces",
                crate::extracts::ExtractFormat::Rass => "rass",
            } }),
        })
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_is_recognised_and_hashed_from_its_random_bytes() -> AppResult<()> {
        let (secret, hash) = new_key()?;
        assert!(secret.starts_with("rppsdir_"));
        assert_eq!(secret.len(), 8 + 64);
        assert_eq!(key_hash(&secret), Some(hash.clone()));
        let (other, other_hash) = new_key()?;
        assert_ne!(secret, other);
        assert_ne!(hash, other_hash);
        Ok(())
    }

    #[test]
    fn anything_else_is_not_a_key() {
        assert!(key_hash(&format!("rppsdir_{}", "ab".repeat(32))).is_some());
        for bad in [
            String::new(),
            "rppsdir_".to_owned(),
            format!("rpps_{}", "ab".repeat(32)),
            format!("RPPSDIR_{}", "ab".repeat(32)),
            format!("rppsdir_{}", "AB".repeat(32)),
            format!("rppsdir_{}", "ab".repeat(31)),
            format!("rppsdir_{}0", "ab".repeat(32)),
            format!("rppsdir_{}é", "ab".repeat(31)),
            format!(" rppsdir_{}", "ab".repeat(32)),
        ] {
            assert_eq!(key_hash(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn names_and_rates_are_checked() {
        assert_eq!(
            clean_name("  ARS Île-de-France ").ok().as_deref(),
            Some("ARS Île-de-France")
        );
        for bad in ["", "   ", "a\nb", &"x".repeat(101)] {
            assert!(clean_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(check_rate(None).ok(), Some(None));
        assert_eq!(check_rate(Some(1)).ok(), Some(Some(1)));
        assert_eq!(
            check_rate(Some(MAX_RATE_PER_MINUTE)).ok(),
            Some(Some(MAX_RATE_PER_MINUTE))
        );
        assert!(check_rate(Some(0)).is_err());
        assert!(check_rate(Some(MAX_RATE_PER_MINUTE + 1)).is_err());
    }
}
