//! API tokens for software (HR tools, scripts, consuming systems).
//!
//! A token is `rpps_` followed by 64 hexadecimal digits: 32 random bytes, shown once to whoever
//! creates it. The database keeps only the SHA-256 of those 32 bytes, so a stolen database
//! yields no usable token. Three kinds of holder:
//!
//! - a **person** (manager, legal representative): the token acts with that person's
//!   habilitations, recomputed at every request like a signed-in session;
//! - a **system** (consuming software, e.g. for access decisions): acts as no person and holds no
//!   habilitation ([`Actor::Client`]);
//! - the **operator**: every right, like the command line ([`Actor::Operator`]). Issued by the
//!   operator only, for the operator's own tooling (designating legal representatives over the
//!   API).
//!
//! A person lists and revokes their own tokens; last use is recorded (to the minute).

use jiff::{SignedDuration, Timestamp};
use rppsplus_domain::Idnps;
use rppsplus_store::{
    ApiToken, ApiTokenId, NewApiToken, NewAuditEntry, StoreError, TokenHolder, Tx,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{Actor, App, AppError, AppResult, FieldError};

/// What every token starts with, so that people, logs scanners and secret scanners recognise
/// one.
pub const TOKEN_PREFIX: &str = "rpps_";

/// Random bytes in a token.
const SECRET_BYTES: usize = 32;

/// A person holds at most this many tokens in force.
pub const MAX_TOKENS_PER_PERSON: usize = 20;

/// Longest label, in characters.
const LABEL_MAX: usize = 100;

/// Longest system or operator name, in characters.
const NAME_MAX: usize = 64;

/// Recording a use writes to the database: once a minute is precise enough for a last-use date.
pub(crate) const TOUCH_EVERY: SignedDuration = SignedDuration::from_secs(60);

/// The label of a token created without one.
const DEFAULT_LABEL: &str = "Jeton d'API";

/// A token as its holder sees it: never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenView {
    /// Its id.
    pub id: ApiTokenId,
    /// Whom it acts for.
    pub holder: TokenHolder,
    /// The label its creator chose.
    pub label: String,
    /// When created.
    pub created_at: Timestamp,
    /// Last use, to the minute.
    pub last_used_at: Option<Timestamp>,
}

impl From<ApiToken> for TokenView {
    fn from(t: ApiToken) -> Self {
        TokenView {
            id: t.id,
            holder: t.record.holder,
            label: t.record.label,
            created_at: t.record.at,
            last_used_at: t.last_used_at,
        }
    }
}

/// A token just created: the only time its secret is seen.
#[derive(Clone)]
pub struct IssuedToken {
    /// The token to give to the software (`rpps_…`).
    pub secret: String,
    /// What was stored.
    pub view: TokenView,
}

// The secret stays out of debug output (and so out of logs).
impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("secret", &"rpps_***")
            .field("view", &self.view)
            .finish()
    }
}

/// Who a presented token authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The token used.
    pub token: ApiTokenId,
    /// The actor the token acts as.
    pub actor: Actor,
}

/// The SHA-256 (hex) of a token's random bytes, or `None` when the text is not a token.
pub fn token_hash(presented: &str) -> Option<String> {
    let hex_part = presented.strip_prefix(TOKEN_PREFIX)?;
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

/// A new token and its hash.
fn new_token() -> AppResult<(String, String)> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| {
        AppError::Store(StoreError::Backend(format!("no randomness available: {e}")))
    })?;
    let secret = format!("{TOKEN_PREFIX}{}", hex::encode(bytes));
    Ok((secret, hex::encode(Sha256::digest(bytes))))
}

/// A label as stored: trimmed, the default when empty.
fn clean_label(label: Option<&str>) -> Result<String, FieldError> {
    let label = label.map(str::trim).unwrap_or_default();
    if label.is_empty() {
        return Ok(DEFAULT_LABEL.to_owned());
    }
    if label.chars().count() > LABEL_MAX || label.chars().any(char::is_control) {
        return Err(FieldError::new(
            "label",
            "invalid_label",
            "Le libellé du jeton fait au plus 100 caractères, sans retour à la ligne.",
        ));
    }
    Ok(label.to_owned())
}

/// A system's or operator's name: letters, digits, spaces, `.`, `_` and `-`.
fn clean_name(name: &str) -> Result<String, FieldError> {
    let name = name.trim();
    let fits = !name.is_empty()
        && name.chars().count() <= NAME_MAX
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-'));
    if fits {
        Ok(name.to_owned())
    } else {
        Err(FieldError::new(
            "name",
            "invalid_name",
            "Le nom du système fait de 1 à 64 caractères : lettres sans accent, chiffres, espaces, points, tirets et soulignés.",
        ))
    }
}

fn details(holder: &TokenHolder) -> serde_json::Value {
    match holder {
        TokenHolder::Person(id) => json!({ "kind": "person", "person": id }),
        TokenHolder::System(name) | TokenHolder::Operator(name) => {
            json!({ "kind": holder.kind(), "name": name })
        }
    }
}

/// Stores a new token for `holder` and audits it, inside the caller's transaction.
async fn issue_in(
    tx: &mut Box<dyn Tx>,
    actor: &Actor,
    at: Timestamp,
    holder: TokenHolder,
    label: String,
) -> AppResult<IssuedToken> {
    let (secret, hash) = new_token()?;
    let record = NewApiToken {
        hash,
        holder,
        label,
        at,
    };
    let id = tx.insert_api_token(&record).await?;
    tx.append_audit(&NewAuditEntry {
        at,
        actor: actor.audit_name(),
        action: "token.create".to_owned(),
        target: format!("token:{id}"),
        details: details(&record.holder),
    })
    .await?;
    Ok(IssuedToken {
        secret,
        view: TokenView {
            id,
            holder: record.holder,
            label: record.label,
            created_at: at,
            last_used_at: None,
        },
    })
}

impl App {
    /// A new token acting for the signed-in person, with their own habilitations. Only a person
    /// creates tokens this way; they hold at most [`MAX_TOKENS_PER_PERSON`] at once.
    pub async fn create_my_token(
        &self,
        actor: &Actor,
        label: Option<&str>,
    ) -> AppResult<IssuedToken> {
        let Some(person) = actor.person_id() else {
            return Err(AppError::Forbidden);
        };
        let label = clean_label(label).map_err(|e| AppError::Invalid(vec![e]))?;
        let at = self.now();
        let mut tx = self.store.begin().await?;
        if tx.api_tokens_of(person).await?.len() >= MAX_TOKENS_PER_PERSON {
            return Err(AppError::Conflict {
                code: "too_many_tokens",
                message: format!(
                    "Vous avez déjà {MAX_TOKENS_PER_PERSON} jetons en vigueur : révoquez ceux qui ne servent plus avant d'en créer un autre."
                ),
            });
        }
        let issued = issue_in(&mut tx, actor, at, TokenHolder::Person(person), label).await?;
        tx.commit().await?;
        Ok(issued)
    }

    /// A new token acting for the person with this IDNPS (the operator's command, for scripts
    /// and the demo).
    pub async fn create_person_token(
        &self,
        actor: &Actor,
        person: &str,
        label: Option<&str>,
    ) -> AppResult<IssuedToken> {
        if *actor != Actor::Operator {
            return Err(AppError::Forbidden);
        }
        let mut problems = Vec::new();
        let idnps = Idnps::parse(person.trim())
            .map_err(|_| {
                problems.push(FieldError::new(
                    "person",
                    "invalid_idnps",
                    "Saisissez l'IDNPS de la personne : 8 suivi de son numéro RPPS (12 chiffres), ou 0 suivi de son numéro ADELI.",
                ));
            })
            .ok();
        let label = clean_label(label).map_err(|e| problems.push(e)).ok();
        let (Some(idnps), Some(label)) = (idnps, label) else {
            return Err(AppError::Invalid(problems));
        };
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let Some(p) = tx.person_by_idnps(&idnps).await? else {
            return Err(AppError::invalid(
                "person",
                "unknown_person",
                "Aucune personne n'a cet IDNPS dans le registre.",
            ));
        };
        let issued = issue_in(&mut tx, actor, at, TokenHolder::Person(p.id), label).await?;
        tx.commit().await?;
        Ok(issued)
    }

    /// A new token for a consuming system: it acts as no person and holds no habilitation
    /// (operator only).
    pub async fn create_system_token(
        &self,
        actor: &Actor,
        name: &str,
        label: Option<&str>,
    ) -> AppResult<IssuedToken> {
        self.create_named_token(actor, name, label, TokenHolder::System)
            .await
    }

    /// A new operator token: every right, like the command line (operator only). Meant for the
    /// operator's own tooling, e.g. designating legal representatives over the API.
    pub async fn create_operator_token(
        &self,
        actor: &Actor,
        name: &str,
        label: Option<&str>,
    ) -> AppResult<IssuedToken> {
        self.create_named_token(actor, name, label, TokenHolder::Operator)
            .await
    }

    async fn create_named_token(
        &self,
        actor: &Actor,
        name: &str,
        label: Option<&str>,
        holder: fn(String) -> TokenHolder,
    ) -> AppResult<IssuedToken> {
        if *actor != Actor::Operator {
            return Err(AppError::Forbidden);
        }
        let mut problems = Vec::new();
        let name = clean_name(name).map_err(|e| problems.push(e)).ok();
        let label = clean_label(label).map_err(|e| problems.push(e)).ok();
        let (Some(name), Some(label)) = (name, label) else {
            return Err(AppError::Invalid(problems));
        };
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let issued = issue_in(&mut tx, actor, at, holder(name), label).await?;
        tx.commit().await?;
        Ok(issued)
    }

    /// The actor behind a presented token, or `None` when it is not a token, unknown or
    /// revoked. Rights are not cached: every use case re-reads them, and the token itself is
    /// read on every call (one statement outside any transaction: a revoked token stops working
    /// at the next call). A transaction is opened only to read a person's identity or, at most
    /// once a minute per token, to record its use.
    pub async fn authenticate_token(&self, presented: &str) -> AppResult<Option<Authenticated>> {
        let Some(hash) = token_hash(presented) else {
            return Ok(None);
        };
        let now = self.now();
        let Some(token) = self.store.api_token_in_force(&hash).await? else {
            return Ok(None);
        };
        let stale = token
            .last_used_at
            .is_none_or(|t| t.checked_add(TOUCH_EVERY).is_ok_and(|t| t <= now));
        let mut tx = match (&token.record.holder, stale) {
            (TokenHolder::Person(_), _) | (_, true) => Some(self.store.begin().await?),
            _ => None,
        };
        let actor = match &token.record.holder {
            TokenHolder::Person(id) => {
                let person = match tx.as_mut() {
                    Some(tx) => tx.person(*id).await?,
                    None => None,
                };
                match person {
                    Some(p) => Actor::Person {
                        id: p.id,
                        idnps: p.record.idnps,
                    },
                    None => {
                        if let Some(tx) = tx {
                            tx.rollback().await?;
                        }
                        return Ok(None);
                    }
                }
            }
            TokenHolder::System(name) => Actor::Client {
                token: token.id,
                name: name.clone(),
            },
            TokenHolder::Operator(_) => Actor::Operator,
        };
        if let Some(mut tx) = tx {
            if stale {
                tx.touch_api_token(token.id, now).await?;
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
        }
        Ok(Some(Authenticated {
            token: token.id,
            actor,
        }))
    }

    /// The tokens in force of the acting person, oldest first (none for other actors).
    pub async fn my_tokens(&self, actor: &Actor) -> AppResult<Vec<TokenView>> {
        let Some(person) = actor.person_id() else {
            return Ok(Vec::new());
        };
        let mut tx = self.store.begin().await?;
        let tokens = tx.api_tokens_of(person).await?;
        tx.rollback().await?;
        Ok(tokens.into_iter().map(TokenView::from).collect())
    }

    /// Revokes one of the acting person's tokens; it stops working at once. Anybody else's
    /// token, a revoked one or an unknown one is [`AppError::NotFound`].
    pub async fn revoke_my_token(&self, actor: &Actor, id: ApiTokenId) -> AppResult<()> {
        let Some(person) = actor.person_id() else {
            return Err(AppError::NotFound);
        };
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let mine = tx.api_token(id).await?.is_some_and(|t| {
            t.revoked_at.is_none() && t.record.holder == TokenHolder::Person(person)
        });
        if !mine {
            return Err(AppError::NotFound);
        }
        tx.revoke_api_token(id, at).await?;
        tx.append_audit(&NewAuditEntry {
            at,
            actor: actor.audit_name(),
            action: "token.revoke".to_owned(),
            target: format!("token:{id}"),
            details: json!({ "kind": "person", "person": person }),
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
    fn a_new_token_is_recognised_and_hashed_from_its_random_bytes() -> AppResult<()> {
        let (secret, hash) = new_token()?;
        assert!(secret.starts_with("rpps_"));
        assert_eq!(secret.len(), 5 + 64);
        assert_eq!(token_hash(&secret), Some(hash.clone()));
        assert_eq!(hash.len(), 64);
        let (other, other_hash) = new_token()?;
        assert_ne!(secret, other);
        assert_ne!(hash, other_hash);
        Ok(())
    }

    #[test]
    fn anything_else_is_not_a_token() {
        let good = format!("rpps_{}", "ab".repeat(32));
        assert!(token_hash(&good).is_some());
        for bad in [
            String::new(),
            "rpps_".to_owned(),
            "ab".repeat(32),
            format!("RPPS_{}", "ab".repeat(32)),
            format!("rpps_{}", "AB".repeat(32)),
            format!("rpps_{}", "ab".repeat(31)),
            format!("rpps_{}0", "ab".repeat(32)),
            format!("rpps_{}zz", "ab".repeat(31)),
            format!("rpps_{}é", "ab".repeat(31)),
            format!(" rpps_{}", "ab".repeat(32)),
        ] {
            assert_eq!(token_hash(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn labels_and_names_are_checked() {
        assert_eq!(clean_label(None).ok().as_deref(), Some(DEFAULT_LABEL));
        assert_eq!(clean_label(Some("  ")).ok().as_deref(), Some(DEFAULT_LABEL));
        assert_eq!(
            clean_label(Some(" Export SI-RH ")).ok().as_deref(),
            Some("Export SI-RH")
        );
        assert!(clean_label(Some(&"x".repeat(101))).is_err());
        assert!(clean_label(Some("a\nb")).is_err());
        assert_eq!(clean_name(" SI-DMP v2 ").ok().as_deref(), Some("SI-DMP v2"));
        for bad in ["", "   ", "été", "a/b", &"x".repeat(65)] {
            assert!(clean_name(bad).is_err(), "{bad:?}");
        }
    }
}
