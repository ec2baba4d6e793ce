//! Sign-in sessions and API tokens.

use async_trait::async_trait;
use jiff::Timestamp;
use rppsplus_store::{
    ApiToken, ApiTokenId, NewApiToken, NewPendingSignIn, NewSession, PersonId, Session, SessionsTx,
    StoreError, StoreResult, UniqueRule,
};

use super::PgTx;
use crate::convert::ts;
use crate::error::store_error;
use crate::rows::{ApiTokenRow, SessionRow};

#[async_trait]
impl SessionsTx for PgTx {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn insert_session(&mut self, s: &NewSession) -> StoreResult<()> {
        let done = sqlx::query(
            "INSERT INTO sessions (id_hash, person_id, csrf_token, method, created_at, expires_at,
                                   last_seen_at)
             VALUES ($1, $2, $3, $4, $5, $6, $5)
             ON CONFLICT (id_hash) DO NOTHING",
        )
        .bind(&s.id_hash)
        .bind(s.person.0)
        .bind(&s.csrf_token)
        .bind(&s.method)
        .bind(ts(s.created_at))
        .bind(ts(s.expires_at))
        .execute(self.conn())
        .await
        .map_err(store_error)?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::Duplicate(UniqueRule::Other))
        }
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn session(&mut self, id_hash: &str, now: Timestamp) -> StoreResult<Option<Session>> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT id_hash, person_id, csrf_token, method, created_at, expires_at, last_seen_at
             FROM sessions WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(id_hash)
        .bind(ts(now))
        .fetch_optional(self.conn())
        .await
        .map_err(store_error)?;
        row.map(SessionRow::into_session).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn touch_session(&mut self, id_hash: &str, now: Timestamp) -> StoreResult<()> {
        let done = sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1")
            .bind(id_hash)
            .bind(ts(now))
            .execute(self.conn())
            .await
            .map_err(store_error)?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_session(&mut self, id_hash: &str) -> StoreResult<()> {
        // Signing out twice is not an error.
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(self.conn())
            .await
            .map_err(store_error)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn insert_pending_sign_in(&mut self, p: &NewPendingSignIn) -> StoreResult<()> {
        let done = sqlx::query(
            "INSERT INTO pending_sign_ins (state_hash, browser_hash, payload, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (state_hash) DO NOTHING",
        )
        .bind(&p.state_hash)
        .bind(&p.browser_hash)
        .bind(&p.payload)
        .bind(ts(p.created_at))
        .bind(ts(p.expires_at))
        .execute(self.conn())
        .await
        .map_err(store_error)?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::Duplicate(UniqueRule::Other))
        }
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn take_pending_sign_in(
        &mut self,
        state_hash: &str,
    ) -> StoreResult<Option<NewPendingSignIn>> {
        let row: Option<(
            String,
            String,
            String,
            jiff_sqlx::Timestamp,
            jiff_sqlx::Timestamp,
        )> = sqlx::query_as(
            "DELETE FROM pending_sign_ins WHERE state_hash = $1
             RETURNING state_hash, browser_hash, payload, created_at, expires_at",
        )
        .bind(state_hash)
        .fetch_optional(self.conn())
        .await
        .map_err(store_error)?;
        let Some((state_hash, browser_hash, payload, created_at, expires_at)) = row else {
            return Ok(None);
        };
        Ok(Some(NewPendingSignIn {
            state_hash,
            browser_hash,
            payload,
            created_at: created_at.to_jiff(),
            expires_at: expires_at.to_jiff(),
        }))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn purge_expired_sessions(&mut self, now: Timestamp) -> StoreResult<u64> {
        let mut gone = 0;
        for sql in [
            "DELETE FROM sessions WHERE expires_at <= $1",
            "DELETE FROM pending_sign_ins WHERE expires_at <= $1",
        ] {
            gone += sqlx::query(sql)
                .bind(ts(now))
                .execute(self.conn())
                .await
                .map_err(store_error)?
                .rows_affected();
        }
        Ok(gone)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn insert_api_token(&mut self, t: &NewApiToken) -> StoreResult<ApiTokenId> {
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO api_tokens (hash, kind, person_id, system_name, label, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (hash) DO NOTHING
             RETURNING id",
        )
        .bind(&t.hash)
        .bind(t.holder.kind())
        .bind(t.holder.person().map(|p| p.0))
        .bind(t.holder.name())
        .bind(&t.label)
        .bind(ts(t.at))
        .fetch_optional(self.conn())
        .await
        .map_err(store_error)?;
        id.map(ApiTokenId)
            .ok_or(StoreError::Duplicate(UniqueRule::TokenHash))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn api_token_by_hash(&mut self, hash: &str) -> StoreResult<Option<ApiToken>> {
        let row: Option<ApiTokenRow> = sqlx::query_as(
            "SELECT id, hash, kind, person_id, system_name, label, created_at, last_used_at,
                    revoked_at
             FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash)
        .fetch_optional(self.conn())
        .await
        .map_err(store_error)?;
        row.map(ApiTokenRow::into_token).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn touch_api_token(&mut self, id: ApiTokenId, now: Timestamp) -> StoreResult<()> {
        let done = sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(id.0)
            .bind(ts(now))
            .execute(self.conn())
            .await
            .map_err(store_error)?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn api_token(&mut self, id: ApiTokenId) -> StoreResult<Option<ApiToken>> {
        let row: Option<ApiTokenRow> = sqlx::query_as(
            "SELECT id, hash, kind, person_id, system_name, label, created_at, last_used_at,
                    revoked_at
             FROM api_tokens WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(self.conn())
        .await
        .map_err(store_error)?;
        row.map(ApiTokenRow::into_token).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn api_tokens_of(&mut self, person: PersonId) -> StoreResult<Vec<ApiToken>> {
        let rows: Vec<ApiTokenRow> = sqlx::query_as(
            "SELECT id, hash, kind, person_id, system_name, label, created_at, last_used_at,
                    revoked_at
             FROM api_tokens WHERE person_id = $1 AND revoked_at IS NULL
             ORDER BY id",
        )
        .bind(person.0)
        .fetch_all(self.conn())
        .await
        .map_err(store_error)?;
        rows.into_iter().map(ApiTokenRow::into_token).collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn revoke_api_token(&mut self, id: ApiTokenId, at: Timestamp) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id.0)
        .bind(ts(at))
        .execute(self.conn())
        .await
        .map_err(store_error)?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }
}
