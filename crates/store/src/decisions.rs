//! What an access decision reads: a professional's situations and the registry version, in one
//! statement.
//!
//! Decisions are never cached (see ARCHITECTURE.md, "The revocation guarantee"): every decision
//! calls [`DecisionStore::decision_facts`], which reads, in **one statement and so one
//! snapshot**, the change-feed head and every situation of the person. The head is the proof of
//! what the decision saw: a change committed at change-feed sequence `N` (a situation closed,
//! its role changed) is visible to every read that reports a version `>= N`, and to none that
//! reports less. A single statement needs no transaction: no `BEGIN`/`COMMIT` round trips on
//! PostgreSQL, and SQLite answers it from the read pool without waiting for the writer.

use async_trait::async_trait;
use jiff::civil::Date;
use rppsplus_domain::{Finess, Idnps};

use crate::{ApiToken, ApiTokenId, SituationId, StoreResult, TokenHolder};

/// One situation of the professional, as a decision needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionSituation {
    /// Its id.
    pub id: SituationId,
    /// FINESS number of its establishment.
    pub structure: Finess,
    /// TRE_R22 role.
    pub role_code: String,
    /// Date de prise de fonction.
    pub start_date: Date,
    /// Last day of activity, when known (closing sets it).
    pub end_date: Option<Date>,
    /// The instant it was closed at once, if it was (its own column, which later edits of the
    /// situation do not move).
    pub closed_at: Option<jiff::Timestamp>,
}

/// What a decision saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionFacts {
    /// The change-feed head (the sequence of the last committed change) in the snapshot the
    /// situations were read from.
    pub registry_version: i64,
    /// Whether a person has the identifier (a known professional may have no situation).
    pub known: bool,
    /// Every situation of the person, closed ones included, oldest first.
    pub situations: Vec<DecisionSituation>,
}

/// What a decision needs of the caller's token: who holds it and when it was last used (to
/// record its use at most once a minute). Its secret's hash, label and dates are not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInForce {
    /// The token.
    pub id: ApiTokenId,
    /// Whom it acts for.
    pub holder: TokenHolder,
    /// Last use.
    pub last_used_at: Option<jiff::Timestamp>,
}

/// Reads for access decisions, outside any transaction.
#[async_trait]
pub trait DecisionStore {
    /// The person with this IDNPS, their situations and the registry version, read in one
    /// statement (one snapshot).
    async fn decision_facts(&self, idnps: &Idnps) -> StoreResult<DecisionFacts>;

    /// The unrevoked API token whose secret hashes to `hash`, read in one statement outside
    /// any transaction (what authenticating a consuming system's call needs; the same read as
    /// [`crate::SessionsTx::api_token_by_hash`], without a transaction's round trips and, on
    /// SQLite, without waiting for the writer).
    async fn api_token_in_force(&self, hash: &str) -> StoreResult<Option<ApiToken>>;

    /// [`DecisionStore::decision_facts`] and the unrevoked token whose secret hashes to
    /// `token_hash`, in one snapshot: what a consuming system's decision call needs, in one
    /// round trip for a professional with situations.
    async fn decision_facts_for_token(
        &self,
        idnps: &Idnps,
        token_hash: &str,
    ) -> StoreResult<(Option<TokenInForce>, DecisionFacts)>;
}
