//! Sign-in sessions: server-side, identified by a random secret held in a cookie, of which only
//! a hash is stored. Sessions end on sign-out, after an idle period, and at an absolute limit.

use jiff::{SignedDuration, Timestamp};
use rppsplus_domain::Idnps;
use rppsplus_store::{NewAuditEntry, NewPendingSignIn, NewSession, Person, PersonId};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{Actor, App, AppError, AppResult};

/// Session lifetimes.
#[derive(Debug, Clone, Copy)]
pub struct SessionSettings {
    /// A session unused for this long ends.
    pub idle_timeout: SignedDuration,
    /// A session ends this long after sign-in, whatever its use.
    pub absolute_timeout: SignedDuration,
    /// How long a sign-in started with the identity provider may take.
    pub sign_in_timeout: SignedDuration,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            idle_timeout: SignedDuration::from_mins(30),
            absolute_timeout: SignedDuration::from_hours(12),
            sign_in_timeout: SignedDuration::from_mins(10),
        }
    }
}

/// Touching a session writes to the database; once a minute is precise enough for the idle
/// timeout and spares a write on every page.
const TOUCH_EVERY: SignedDuration = SignedDuration::from_secs(60);

/// How the person signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethod {
    /// Pro Santé Connect (CPS card or e-CPS).
    ProSanteConnect,
    /// The local sign-in of the demo and of development set-ups.
    Local,
}

impl SignInMethod {
    fn as_str(self) -> &'static str {
        match self {
            SignInMethod::ProSanteConnect => "psc",
            SignInMethod::Local => "local",
        }
    }
}

/// A session just created: the secrets go to the browser, once.
#[derive(Debug, Clone)]
pub struct NewSessionSecrets {
    /// The cookie value.
    pub cookie: String,
    /// When the session ends at the latest.
    pub expires_at: Timestamp,
}

/// The person behind a valid session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The actor for use cases.
    pub actor: Actor,
    /// The person.
    pub person: PersonId,
    /// First name and name, for the page header.
    pub display_name: String,
    /// The token every form of this session must carry.
    pub csrf_token: String,
    /// `psc` or `local`.
    pub method: String,
}

/// SHA-256 of a secret, hex: what the database keeps instead of the secret.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new random secret: 32 bytes, hex.
pub fn new_secret() -> AppResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Conflict {
        code: "no_randomness",
        message: format!("Le système ne fournit pas d'aléa : {e}"),
    })?;
    Ok(hex::encode(bytes))
}

fn display_name(p: &Person) -> String {
    let first = p.record.first_names.first().cloned().unwrap_or_default();
    let last = p
        .record
        .usage_name
        .clone()
        .unwrap_or_else(|| p.record.birth_name.clone());
    format!("{first} {last}")
}

impl App {
    /// Opens a session for the person with this IDNPS. Fails with
    /// [`AppError::NotFound`] when the registry does not know them.
    pub async fn start_session(
        &self,
        idnps: &Idnps,
        method: SignInMethod,
    ) -> AppResult<NewSessionSecrets> {
        let now = self.now();
        let cookie = new_secret()?;
        let csrf_token = new_secret()?;
        let expires_at = now
            .checked_add(self.settings.sessions.absolute_timeout)
            .unwrap_or(now);
        let mut tx = self.store.begin().await?;
        let person = tx.person_by_idnps(idnps).await?.ok_or(AppError::NotFound)?;
        tx.insert_session(&NewSession {
            id_hash: secret_hash(&cookie),
            person: person.id,
            csrf_token,
            method: method.as_str().to_owned(),
            created_at: now,
            expires_at,
        })
        .await?;
        tx.append_audit(&NewAuditEntry {
            at: now,
            actor: format!("person:{idnps}"),
            action: "session.start".to_owned(),
            target: format!("person:{}", person.id),
            details: json!({ "method": method.as_str() }),
        })
        .await?;
        tx.commit().await?;
        Ok(NewSessionSecrets { cookie, expires_at })
    }

    /// The person behind a session cookie, if the session is still valid. Rights are not
    /// cached here: every use case re-reads them.
    pub async fn session(&self, cookie: &str) -> AppResult<Option<SignedIn>> {
        let now = self.now();
        let hash = secret_hash(cookie);
        let mut tx = self.store.begin().await?;
        let Some(session) = tx.session(&hash, now).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        let idle_until = session
            .last_seen_at
            .checked_add(self.settings.sessions.idle_timeout)
            .unwrap_or(session.last_seen_at);
        if idle_until <= now {
            tx.delete_session(&hash).await?;
            tx.commit().await?;
            return Ok(None);
        }
        let Some(person) = tx.person(session.record.person).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        let stale = session
            .last_seen_at
            .checked_add(TOUCH_EVERY)
            .is_ok_and(|t| t <= now);
        if stale {
            tx.touch_session(&hash, now).await?;
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(Some(SignedIn {
            actor: Actor::Person {
                id: person.id,
                idnps: person.record.idnps.clone(),
            },
            person: person.id,
            display_name: display_name(&person),
            csrf_token: session.record.csrf_token,
            method: session.record.method,
        }))
    }

    /// Ends a session (sign-out). Ending an unknown session is not an error.
    pub async fn end_session(&self, cookie: &str) -> AppResult<()> {
        let mut tx = self.store.begin().await?;
        tx.delete_session(&secret_hash(cookie)).await?;
        tx.purge_expired_sessions(self.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Remembers a sign-in started with the identity provider. `browser_secret` is held in a
    /// cookie of the browser that started it.
    pub async fn remember_sign_in(
        &self,
        state: &str,
        browser_secret: &str,
        payload: String,
    ) -> AppResult<()> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        tx.insert_pending_sign_in(&NewPendingSignIn {
            state_hash: secret_hash(state),
            browser_hash: secret_hash(browser_secret),
            payload,
            created_at: now,
            expires_at: now
                .checked_add(self.settings.sessions.sign_in_timeout)
                .unwrap_or(now),
        })
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes back a pending sign-in: once only, from the same browser, before it expires.
    pub async fn take_sign_in(
        &self,
        state: &str,
        browser_secret: &str,
    ) -> AppResult<Option<String>> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let pending = tx.take_pending_sign_in(&secret_hash(state)).await?;
        tx.commit().await?;
        Ok(pending
            .filter(|p| p.expires_at > now && p.browser_hash == secret_hash(browser_secret))
            .map(|p| p.payload))
    }
}
