//! The storage seam of the registry.
//!
//! Use cases talk to storage only through [`Store`] and the transaction it opens, [`Tx`]. Each
//! backend crate (`rppsplus-store-sqlite`, `rppsplus-store-postgres`) implements both; the
//! conformance suite in `rppsplus-store-tests` runs the same scenarios against each.
//!
//! Every write happens inside a [`Tx`]: a use case begins one, writes the data, its audit rows,
//! its outbox messages and its change-feed rows, then commits. Nothing is half-written.

pub mod audit;
pub mod decisions;
pub mod directory;
pub mod directory_keys;
pub mod drafts;
pub mod history;
pub mod outbox;
pub mod records;

use async_trait::async_trait;
use jiff::Timestamp;
use rppsplus_domain::{Finess, Idnps, Rpps};

pub use decisions::*;
pub use directory::*;
pub use directory_keys::*;
pub use drafts::*;
pub use history::*;
pub use outbox::*;
pub use records::*;

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: one file, one writer.
    Sqlite,
    /// The production database, shared by several server instances.
    Postgres,
}

impl Backend {
    /// Picks the backend from a database URL's scheme.
    pub fn from_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row asked for does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was violated; carries the name of the rule (see [`UniqueRule`]).
    #[error("uniqueness violated: {0:?}")]
    Duplicate(UniqueRule),
    /// An optimistic-concurrency check failed: the row changed since it was read.
    #[error("the row changed since it was read")]
    StaleVersion,
    /// The database refused or failed the operation.
    #[error("database error: {0}")]
    Backend(String),
    /// Stored data could not be turned back into domain values.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// Migrations could not be applied.
    #[error("migration failed: {0}")]
    Migration(String),
}

/// The uniqueness rules the schema enforces, named so that use cases can report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueRule {
    /// One person per RPPS number.
    PersonRpps,
    /// One person per IDNPS.
    PersonIdnps,
    /// A personal e-mail belongs to one person.
    PersonEmail,
    /// A mobile phone number belongs to one person.
    PersonMobile,
    /// One structure per FINESS number.
    StructureFiness,
    /// One API token per hash.
    TokenHash,
    /// One outbox message per event key.
    OutboxEventKey,
    /// A rule the seam does not name.
    Other,
}

/// Result alias of the storage layer.
pub type StoreResult<T> = Result<T, StoreError>;

/// A database holding the registry. Delivering the outbox is [`OutboxStore`]'s part.
#[async_trait]
pub trait Store:
    OutboxStore + DecisionStore + DirectoryKeyStore + DirectoryStore + Send + Sync + 'static
{
    /// Which engine this is.
    fn backend(&self) -> Backend;

    /// Applies the embedded migrations that are not yet applied.
    async fn migrate(&self) -> StoreResult<()>;

    /// Whether every embedded migration has been applied.
    async fn is_migrated(&self) -> StoreResult<bool>;

    /// Checks that the database answers.
    async fn ping(&self) -> StoreResult<()>;

    /// Opens a read-write transaction. Dropping it without commit rolls it back.
    async fn begin(&self) -> StoreResult<Box<dyn Tx>>;

    /// Audit rows in chain order, starting after `after_seq` (0 for the first row).
    async fn audit_rows(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditRow>>;

    /// Change-feed rows with a sequence number greater than `after_seq`, in order.
    async fn changes_after(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<ChangeRow>>;

    /// Counts of rows per table, for operators and for tests that prove nothing was stored.
    async fn row_counts(&self) -> StoreResult<RowCounts>;

    /// Closes the connection pool.
    async fn close(&self);
}

/// One transaction. All repository traits are available on it.
#[async_trait]
pub trait Tx:
    SequenceTx
    + StructuresTx
    + PersonsTx
    + RegistrationsTx
    + DraftsTx
    + HabilitationsTx
    + SessionsTx
    + JournalTx
    + DirectoryKeysTx
    + HistoryTx
    + Send
{
    /// Makes every write of this transaction durable and visible.
    async fn commit(self: Box<Self>) -> StoreResult<()>;

    /// Discards every write of this transaction.
    async fn rollback(self: Box<Self>) -> StoreResult<()>;
}

/// The RPPS number sequence.
#[async_trait]
pub trait SequenceTx {
    /// Takes the next value of the RPPS sequence. Values are never handed out twice, even to
    /// concurrent transactions or processes.
    async fn next_rpps_value(&mut self) -> StoreResult<u64>;

    /// Moves the sequence forward so that the next value is at least `start` (the operator's
    /// starting point); never moves it back.
    async fn raise_rpps_sequence(&mut self, start: u64) -> StoreResult<()>;
}

/// Legal entities (EJ) and establishments (EG).
#[async_trait]
pub trait StructuresTx {
    /// Inserts or updates a structure by FINESS number and tells what happened.
    async fn upsert_structure(&mut self, s: &StructureRecord) -> StoreResult<Upsert>;

    /// The structure with this FINESS number.
    async fn structure_by_finess(&mut self, finess: &Finess) -> StoreResult<Option<Structure>>;

    /// The structure with this id.
    async fn structure(&mut self, id: StructureId) -> StoreResult<Option<Structure>>;

    /// Every structure, ordered by FINESS number.
    async fn list_structures(&mut self) -> StoreResult<Vec<Structure>>;

    /// Structures whose FINESS number starts with `finess_prefix` (when not empty), or whose
    /// name's matching key contains every one of `words` (matching keys; at most four are
    /// used), ordered by name, at most `limit`.
    async fn search_structures(
        &mut self,
        finess_prefix: &str,
        words: &[String],
        limit: u32,
    ) -> StoreResult<Vec<Structure>>;

    /// Computes the name matching key of structures written before it was stored (an upgrade
    /// step, run at start); returns how many were filled.
    async fn fill_missing_name_keys(&mut self) -> StoreResult<u64>;

    /// Establishments (EG) whose legal entity has this FINESS number.
    async fn establishments_of(&mut self, ej: &Finess) -> StoreResult<Vec<Structure>>;

    /// Sets the management mode of a legal entity.
    async fn set_management_mode(
        &mut self,
        ej: StructureId,
        mode: ManagementMode,
    ) -> StoreResult<()>;
}

/// Persons, their professional exercises and their situations.
#[async_trait]
pub trait PersonsTx {
    /// Inserts a person; fails with [`StoreError::Duplicate`] on RPPS, IDNPS, e-mail or mobile.
    async fn insert_person(&mut self, p: &NewPerson) -> StoreResult<PersonId>;

    /// The person with this id.
    async fn person(&mut self, id: PersonId) -> StoreResult<Option<Person>>;

    /// The person with this IDNPS.
    async fn person_by_idnps(&mut self, idnps: &Idnps) -> StoreResult<Option<Person>>;

    /// The person with this RPPS number.
    async fn person_by_rpps(&mut self, rpps: &Rpps) -> StoreResult<Option<Person>>;

    /// Every person, ordered by id (operators and demo listings; paged).
    async fn list_persons(&mut self, after: PersonId, limit: u32) -> StoreResult<Vec<Person>>;

    /// Inserts a professional exercise (person × profession) and returns its id.
    async fn insert_exercise(&mut self, e: &NewExercise) -> StoreResult<ExerciseId>;

    /// Inserts a situation d'exercice (exercise × establishment).
    async fn insert_situation(&mut self, s: &NewSituation) -> StoreResult<SituationId>;

    /// Closes a situation at `end_date` if its version is still `expected_version`, keeping
    /// `closed_at` as the instant it was closed at once (none for a scheduled departure; see
    /// `domain::situation::closed_at_after_write`).
    async fn close_situation(
        &mut self,
        id: SituationId,
        expected_version: i64,
        end_date: jiff::civil::Date,
        reason: &str,
        closed_at: Option<Timestamp>,
        at: Timestamp,
    ) -> StoreResult<()>;

    /// The situation with this id.
    async fn situation(&mut self, id: SituationId) -> StoreResult<Option<Situation>>;

    /// Every situation of a person, oldest first.
    async fn situations_of_person(&mut self, person: PersonId) -> StoreResult<Vec<Situation>>;

    /// Every situation of the persons whose id is in `after < id <= up_to`, ordered by person
    /// then oldest first: the situations of one page of [`PersonsTx::list_persons`] in one
    /// query (exports).
    async fn situations_of_persons(
        &mut self,
        after: PersonId,
        up_to: PersonId,
    ) -> StoreResult<Vec<Situation>>;

    /// Every situation at an establishment, oldest first.
    async fn situations_at(&mut self, structure: StructureId) -> StoreResult<Vec<Situation>>;
}

/// Registering professionals: search before create, contact uniqueness, changes to situations.
#[async_trait]
pub trait RegistrationsTx {
    /// The persons born on `birth_date`, ordered by id, at most `limit`: the candidates of a
    /// search by civil identity, ranked by name by the caller. Uses an index on the birth date
    /// (a few dozen persons per date in a registry of two million).
    async fn persons_born_on(
        &mut self,
        birth_date: jiff::civil::Date,
        limit: u32,
    ) -> StoreResult<Vec<Person>>;

    /// The person whose personal e-mail is exactly `email` (as normalised by the caller).
    async fn person_id_by_email(&mut self, email: &str) -> StoreResult<Option<PersonId>>;

    /// The person whose mobile is exactly `mobile` (E.164).
    async fn person_id_by_mobile(&mut self, mobile: &str) -> StoreResult<Option<PersonId>>;

    /// Replaces the changeable fields of a situation and of its exercise if the situation's
    /// version is still `expected_version`; returns the new version.
    /// [`StoreError::StaleVersion`] when it changed, [`StoreError::NotFound`] when absent.
    async fn update_situation(
        &mut self,
        id: SituationId,
        expected_version: i64,
        change: &SituationChange,
    ) -> StoreResult<i64>;

    /// Replaces a person's civil identity, contact and matching keys with those of `p` (its
    /// RPPS, ADELI and IDNPS are never changed) if the version is still `expected_version`;
    /// returns the new version. The caller checks e-mail and mobile uniqueness first.
    async fn update_person(
        &mut self,
        id: PersonId,
        expected_version: i64,
        p: &NewPerson,
    ) -> StoreResult<i64>;

    /// Stores a self-registration, pending.
    async fn insert_pending_registration(
        &mut self,
        r: &NewPendingRegistration,
    ) -> StoreResult<PendingRegistrationId>;

    /// The self-registration with this id, whatever its status.
    async fn pending_registration(
        &mut self,
        id: PendingRegistrationId,
    ) -> StoreResult<Option<PendingRegistration>>;

    /// The self-registrations still pending at an establishment, oldest first.
    async fn pending_registrations_at(
        &mut self,
        structure: StructureId,
    ) -> StoreResult<Vec<PendingRegistration>>;

    /// Records the decision on a pending self-registration; [`StoreError::NotFound`] if there
    /// is no such registration still pending (decided once only).
    async fn decide_pending_registration(
        &mut self,
        id: PendingRegistrationId,
        d: &PendingDecision,
    ) -> StoreResult<()>;
}

/// Legal representatives, managers' habilitations and e-learning records.
#[async_trait]
pub trait HabilitationsTx {
    /// Makes `person` the legal representative of `structure`, ending any previous one.
    async fn set_legal_representative(&mut self, r: &NewLegalRepresentative) -> StoreResult<()>;

    /// The current legal representative of a structure.
    async fn legal_representative(
        &mut self,
        structure: StructureId,
    ) -> StoreResult<Option<LegalRepresentative>>;

    /// Structures of which the person is the current legal representative.
    async fn represented_by(&mut self, person: PersonId) -> StoreResult<Vec<LegalRepresentative>>;

    /// Records a completed e-learning.
    async fn record_elearning(&mut self, e: &NewElearning) -> StoreResult<()>;

    /// The e-learning completions of a person, newest first.
    async fn elearnings_of(&mut self, person: PersonId) -> StoreResult<Vec<Elearning>>;

    /// Grants a habilitation and returns its id.
    async fn grant_habilitation(&mut self, h: &NewHabilitation) -> StoreResult<HabilitationId>;

    /// The habilitation with this id, in force or revoked.
    async fn habilitation(&mut self, id: HabilitationId) -> StoreResult<Option<Habilitation>>;

    /// Revokes a habilitation (no-op error if already revoked: [`StoreError::NotFound`]),
    /// by a person, or by the registry operator (`by` is `None`; the audit log names them).
    async fn revoke_habilitation(
        &mut self,
        id: HabilitationId,
        by: Option<PersonId>,
        at: Timestamp,
    ) -> StoreResult<()>;

    /// Habilitations of a person still in force.
    async fn active_habilitations_of(&mut self, person: PersonId)
    -> StoreResult<Vec<Habilitation>>;

    /// Habilitations on a structure still in force.
    async fn active_habilitations_on(
        &mut self,
        structure: StructureId,
    ) -> StoreResult<Vec<Habilitation>>;
}

/// Sign-in sessions and API tokens. Only hashes of secrets are stored.
#[async_trait]
pub trait SessionsTx {
    /// Stores a new session.
    async fn insert_session(&mut self, s: &NewSession) -> StoreResult<()>;

    /// The session whose id hashes to `id_hash`, if not expired at `now`.
    async fn session(&mut self, id_hash: &str, now: Timestamp) -> StoreResult<Option<Session>>;

    /// Marks a session as used at `now`.
    async fn touch_session(&mut self, id_hash: &str, now: Timestamp) -> StoreResult<()>;

    /// Deletes a session (sign-out).
    async fn delete_session(&mut self, id_hash: &str) -> StoreResult<()>;

    /// Stores a sign-in started with the identity provider, until the browser comes back.
    async fn insert_pending_sign_in(&mut self, p: &NewPendingSignIn) -> StoreResult<()>;

    /// Removes and returns the pending sign-in whose state hashes to `state_hash`: a state is
    /// usable once. Expired entries are returned too; the caller checks `expires_at`.
    async fn take_pending_sign_in(
        &mut self,
        state_hash: &str,
    ) -> StoreResult<Option<NewPendingSignIn>>;

    /// Deletes sessions and pending sign-ins expired at `now`; returns how many rows went.
    async fn purge_expired_sessions(&mut self, now: Timestamp) -> StoreResult<u64>;

    /// Stores a new API token.
    async fn insert_api_token(&mut self, t: &NewApiToken) -> StoreResult<ApiTokenId>;

    /// The unrevoked token whose secret hashes to `hash`.
    async fn api_token_by_hash(&mut self, hash: &str) -> StoreResult<Option<ApiToken>>;

    /// Records a use of a token.
    async fn touch_api_token(&mut self, id: ApiTokenId, now: Timestamp) -> StoreResult<()>;

    /// The token with this id, revoked or not.
    async fn api_token(&mut self, id: ApiTokenId) -> StoreResult<Option<ApiToken>>;

    /// The unrevoked tokens of a person, oldest first.
    async fn api_tokens_of(&mut self, person: PersonId) -> StoreResult<Vec<ApiToken>>;

    /// Revokes a token at `at`; [`StoreError::NotFound`] if there is no such unrevoked token.
    async fn revoke_api_token(&mut self, id: ApiTokenId, at: Timestamp) -> StoreResult<()>;
}

/// The audit log, the outbox and the change feed, written in the same transaction as the data.
#[async_trait]
pub trait JournalTx {
    /// Appends an audit row, chained to the previous one (see [`audit`]); returns its sequence.
    async fn append_audit(&mut self, e: &NewAuditEntry) -> StoreResult<i64>;

    /// Queues a message for delivery; a second message with the same event key is refused with
    /// [`StoreError::Duplicate`]`(`[`UniqueRule::OutboxEventKey`]`)`.
    async fn enqueue_outbox(&mut self, m: &NewOutboxMessage) -> StoreResult<i64>;

    /// Appends a change-feed row. Sequence numbers grow in commit order.
    async fn append_change(&mut self, c: &NewChange) -> StoreResult<i64>;
}
