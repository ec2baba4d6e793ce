//! Reads for access decisions: one statement on the read pool (see
//! [`rppsplus_store::DecisionStore`]).
//!
//! The statements are kept as small as the answer allows, because every decision runs one:
//! the situation carries its establishment's FINESS (no join with `structures`), one covering
//! index on `situations (person_id, id, …)` holds every column read, and the few rows are put
//! in order here (see the migrations `decision_speed` and `situation_closed_at`).

use async_trait::async_trait;
use rppsplus_domain::Idnps;
use rppsplus_store::{
    ApiToken, ApiTokenId, DecisionFacts, DecisionSituation, DecisionStore, PersonId, SituationId,
    StoreError, StoreResult, TokenHolder, TokenInForce,
};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::SqliteStore;
use crate::convert::{corrupt, date, finess, opt_date, opt_instant};
use crate::error::store_error;
use crate::rows::ApiTokenRow;

/// The change-feed head, the person and their situations: one row per situation, or one row
/// with NULLs when the person has none or does not exist. A single SELECT reads one snapshot of
/// the WAL, so the head and the situations are of the same committed state.
const FACTS: &str = "SELECT h.change_seq, p.id AS p_id, s.id AS s_id,
            s.structure_finess AS s_finess, s.role_code AS s_role, s.start_date AS s_start,
            s.end_date AS s_end,
            s.closed_at AS s_closed_at
     FROM journal_head h
     LEFT JOIN persons p ON p.idnps = $1
     LEFT JOIN situations s ON s.person_id = p.id
     WHERE h.id = 1";

/// [`FACTS`] and what a decision needs of the unrevoked token with the hash `$2` (NULLs when
/// there is none), in one statement and so one snapshot.
const FACTS_FOR_TOKEN: &str = "SELECT h.change_seq, t.id AS t_id, t.kind AS t_kind,
            t.person_id AS t_person, t.system_name AS t_system, t.last_used_at AS t_last_used,
            p.id AS p_id, s.id AS s_id,
            s.structure_finess AS s_finess, s.role_code AS s_role, s.start_date AS s_start,
            s.end_date AS s_end,
            s.closed_at AS s_closed_at
     FROM journal_head h
     LEFT JOIN api_tokens t ON t.hash = $2 AND t.revoked_at IS NULL
     LEFT JOIN persons p ON p.idnps = $1
     LEFT JOIN situations s ON s.person_id = p.id
     WHERE h.id = 1";

/// The facts in the rows of [`FACTS`] or [`FACTS_FOR_TOKEN`], situations oldest first.
fn facts(rows: &[SqliteRow]) -> StoreResult<DecisionFacts> {
    let Some(first) = rows.first() else {
        return Err(StoreError::Corrupt(
            "the journal head row is missing".into(),
        ));
    };
    let registry_version: i64 = first.try_get("change_seq").map_err(store_error)?;
    let known = first
        .try_get::<Option<i64>, _>("p_id")
        .map_err(store_error)?
        .is_some();
    let mut situations = Vec::with_capacity(rows.len());
    for row in rows {
        let id: Option<i64> = row.try_get("s_id").map_err(store_error)?;
        let structure: Option<String> = row.try_get("s_finess").map_err(store_error)?;
        let role_code: Option<String> = row.try_get("s_role").map_err(store_error)?;
        let start: Option<String> = row.try_get("s_start").map_err(store_error)?;
        let end: Option<String> = row.try_get("s_end").map_err(store_error)?;
        let closed_at: Option<i64> = row.try_get("s_closed_at").map_err(store_error)?;
        let (Some(id), Some(structure), Some(role_code), Some(start)) =
            (id, structure, role_code, start)
        else {
            continue;
        };
        situations.push(DecisionSituation {
            id: SituationId(id),
            structure: finess(&structure)?,
            role_code,
            start_date: date(&start)?,
            end_date: opt_date(end.as_deref())?,
            closed_at: opt_instant(closed_at)?,
        });
    }
    situations.sort_unstable_by_key(|s| s.id.0);
    Ok(DecisionFacts {
        registry_version,
        known,
        situations,
    })
}

/// The token in a row of [`FACTS_FOR_TOKEN`], if one is in force.
fn token(row: &SqliteRow) -> StoreResult<Option<TokenInForce>> {
    let Some(id) = row.try_get::<Option<i64>, _>("t_id").map_err(store_error)? else {
        return Ok(None);
    };
    let kind: String = row.try_get("t_kind").map_err(store_error)?;
    let person: Option<i64> = row.try_get("t_person").map_err(store_error)?;
    let system: Option<String> = row.try_get("t_system").map_err(store_error)?;
    let last_used: Option<i64> = row.try_get("t_last_used").map_err(store_error)?;
    let holder = TokenHolder::from_parts(&kind, person.map(PersonId), system)
        .ok_or_else(|| corrupt("api token", id, "holder does not fit its kind"))?;
    Ok(Some(TokenInForce {
        id: ApiTokenId(id),
        holder,
        last_used_at: opt_instant(last_used)?,
    }))
}

#[async_trait]
impl DecisionStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn decision_facts(&self, idnps: &Idnps) -> StoreResult<DecisionFacts> {
        let rows = sqlx::query(FACTS)
            .bind(idnps.as_str())
            .fetch_all(&self.reader)
            .await
            .map_err(store_error)?;
        facts(&rows)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn api_token_in_force(&self, hash: &str) -> StoreResult<Option<ApiToken>> {
        let row: Option<ApiTokenRow> = sqlx::query_as(
            "SELECT id, hash, kind, person_id, system_name, label, created_at, last_used_at,
                    revoked_at
             FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash)
        .fetch_optional(&self.reader)
        .await
        .map_err(store_error)?;
        row.map(ApiTokenRow::into_token).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn decision_facts_for_token(
        &self,
        idnps: &Idnps,
        token_hash: &str,
    ) -> StoreResult<(Option<TokenInForce>, DecisionFacts)> {
        let rows = sqlx::query(FACTS_FOR_TOKEN)
            .bind(idnps.as_str())
            .bind(token_hash)
            .fetch_all(&self.reader)
            .await
            .map_err(store_error)?;
        let token = match rows.first() {
            Some(first) => token(first)?,
            None => None,
        };
        Ok((token, facts(&rows)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rppsplus_store::Store;
    use sqlx::AssertSqlSafe;

    type Outcome = Result<(), Box<dyn std::error::Error>>;

    /// Both decision statements read the situations from the one covering index (every column
    /// they read is in it, `closed_at` included), never from the table.
    #[tokio::test]
    async fn the_decision_read_is_covered_by_one_index() -> Outcome {
        let store = SqliteStore::connect("sqlite::memory:", false).await?;
        store.migrate().await?;
        for (text, params) in [(FACTS, 1), (FACTS_FOR_TOKEN, 2)] {
            let mut q = sqlx::query_as::<_, (i64, i64, i64, String)>(AssertSqlSafe(format!(
                "EXPLAIN QUERY PLAN {text}"
            )))
            .bind("810000000001");
            if params == 2 {
                q = q.bind("ab");
            }
            let plan = q
                .fetch_all(&store.reader)
                .await?
                .into_iter()
                .map(|r| r.3)
                .collect::<Vec<_>>()
                .join("\n");
            assert!(
                plan.contains("SEARCH s USING COVERING INDEX ix_situations_decision (person_id=?)"),
                "{plan}"
            );
        }
        Ok(())
    }
}
