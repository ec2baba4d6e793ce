//! Use cases of the RPPS+ registry.
//!
//! Each public method of [`App`] is one use case: it checks its input, opens one transaction,
//! writes the data together with its audit rows, outbox messages and change-feed rows, and
//! commits. Handlers (web, CLI) call these methods and never open transactions themselves.

mod access;
pub mod audit;
pub mod decisions;
pub mod demo;
pub mod directory;
pub mod directory_keys;
pub mod drafts;
mod error;
pub mod extracts;
pub mod fhir;
pub mod habilitations;
pub mod import;
pub mod persons;
pub mod registrations;
pub mod sessions;
pub mod structures;
pub mod tokens;

use std::sync::Arc;

use jiff::Timestamp;
use rppsplus_domain::Idnps;
use rppsplus_store::{ApiTokenId, NewAuditEntry, NewChange, PersonId, Store, Tx};

pub use error::{AppError, AppResult, FieldError};

/// Where the current time comes from. Tests pass a fixed clock.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// Settings of the use-case layer, passed down from the command line.
#[derive(Debug, Clone)]
pub struct AppSettings {
    /// First value of the RPPS sequence this registry issues numbers from
    /// (numbers are `10` + the value on 8 digits + the Luhn key).
    pub rpps_sequence_start: u64,
    /// Session lifetimes.
    pub sessions: sessions::SessionSettings,
}

impl Default for AppSettings {
    fn default() -> Self {
        // Below the ranges seen in published extracts (10000000000…10199999999 are taken).
        AppSettings {
            rpps_sequence_start: 50_000_000,
            sessions: sessions::SessionSettings::default(),
        }
    }
}

/// Who performs an action, as recorded in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The registry operator, through the command line or an operator's API token.
    Operator,
    /// The registry itself (scheduled work, imports).
    System,
    /// A signed-in person.
    Person {
        /// Internal id.
        id: PersonId,
        /// National identifier, as written in the audit log.
        idnps: Idnps,
    },
    /// A consuming system, through its API token: acts as no person and holds no habilitation
    /// (it reads public data and, later, asks for access decisions).
    Client {
        /// The token it authenticated with.
        token: ApiTokenId,
        /// The system's name, given by the operator.
        name: String,
    },
}

impl Actor {
    /// The actor as written in the audit log: identifiers only, never names.
    pub fn audit_name(&self) -> String {
        match self {
            Actor::Operator => "operator".to_owned(),
            Actor::System => "system".to_owned(),
            Actor::Person { idnps, .. } => format!("person:{idnps}"),
            Actor::Client { token, .. } => format!("token:{token}"),
        }
    }

    /// The person acting, if any.
    pub fn person_id(&self) -> Option<PersonId> {
        match self {
            Actor::Person { id, .. } => Some(*id),
            Actor::Operator | Actor::System | Actor::Client { .. } => None,
        }
    }
}

/// The registry's use cases over one store.
#[derive(Clone)]
pub struct App {
    store: Arc<dyn Store>,
    settings: AppSettings,
    clock: Arc<dyn Clock>,
}

impl App {
    /// Wires the use cases to a store.
    pub fn new(store: Arc<dyn Store>, settings: AppSettings, clock: Arc<dyn Clock>) -> Self {
        App {
            store,
            settings,
            clock,
        }
    }

    /// The store, for health checks.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The settings in force.
    pub fn settings(&self) -> &AppSettings {
        &self.settings
    }

    /// The current instant, truncated to the precision the databases keep.
    pub fn now(&self) -> Timestamp {
        rppsplus_store::audit::truncate(self.clock.now())
    }

    /// Today's date in metropolitan France, the registry's civil time zone.
    pub fn today(&self) -> jiff::civil::Date {
        paris_date(self.clock.now())
    }

    /// Brings the database to what this version expects at start: the RPPS sequence is moved to
    /// the configured starting point if it is behind, and structures written before their name
    /// key existed get one.
    pub async fn prepare(&self) -> AppResult<()> {
        let mut tx = self.store.begin().await?;
        tx.raise_rpps_sequence(self.settings.rpps_sequence_start)
            .await?;
        tx.fill_missing_name_keys().await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checks that the database answers.
    pub async fn ready(&self) -> AppResult<()> {
        Ok(self.store.ping().await?)
    }
}

/// The civil date in Europe/Paris at an instant.
pub fn paris_date(at: Timestamp) -> jiff::civil::Date {
    match jiff::tz::TimeZone::get("Europe/Paris") {
        Ok(tz) => at.to_zoned(tz).date(),
        // The time-zone database is bundled; UTC is a safe fallback that is at most a day off.
        Err(_) => at.to_zoned(jiff::tz::TimeZone::UTC).date(),
    }
}

/// Writes the audit row and the change-feed row that every change carries.
async fn journal(
    tx: &mut Box<dyn Tx>,
    actor: &Actor,
    at: Timestamp,
    action: &str,
    target: (&str, i64),
    details: serde_json::Value,
    change_op: &str,
) -> AppResult<()> {
    journal_versioned(tx, actor, at, action, target, details, change_op)
        .await
        .map(|_| ())
}

/// [`journal`], returning the change-feed sequence written: once the transaction commits, the
/// registry version at which the change is visible (see `decisions`).
async fn journal_versioned(
    tx: &mut Box<dyn Tx>,
    actor: &Actor,
    at: Timestamp,
    action: &str,
    target: (&str, i64),
    details: serde_json::Value,
    change_op: &str,
) -> AppResult<i64> {
    tx.append_audit(&NewAuditEntry {
        at,
        actor: actor.audit_name(),
        action: action.to_owned(),
        target: format!("{}:{}", target.0, target.1),
        details,
    })
    .await?;
    let seq = tx
        .append_change(&NewChange {
            entity: target.0.to_owned(),
            entity_id: target.1,
            op: change_op.to_owned(),
            at,
        })
        .await?;
    Ok(seq)
}
