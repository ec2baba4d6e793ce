//! Registration drafts and identity-document scans.

use async_trait::async_trait;
use jiff::Timestamp;
use rppsplus_store::{
    Draft, DraftId, DraftsTx, IdentityDocument, IdentityDocumentId, IdentityDocumentInfo, NewDraft,
    NewIdentityDocument, PersonId, StoreError, StoreResult,
};

use super::SqliteTx;
use crate::convert::{instant, micros};
use crate::error::store_error;

/// `SELECT` of a draft's columns, followed by the rest of the statement.
macro_rules! draft_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, owner_id, payload, step, created_at, updated_at FROM registration_drafts ",
            $rest
        )
    };
}

/// `SELECT` of a scan's columns but its bytes, followed by the rest of the statement.
macro_rules! document_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, draft_id, person_id, uploaded_by, media_type, sha256, size, created_at
             FROM identity_documents ",
            $rest
        )
    };
}

#[derive(sqlx::FromRow)]
struct DraftRow {
    id: i64,
    owner_id: i64,
    payload: String,
    step: i64,
    created_at: i64,
    updated_at: i64,
}

impl DraftRow {
    fn into_draft(self) -> StoreResult<Draft> {
        let payload = serde_json::from_str(&self.payload).map_err(|e| {
            // Line and column only: the message may quote personal data.
            StoreError::Corrupt(format!(
                "draft {} payload is not JSON (line {}, column {})",
                self.id,
                e.line(),
                e.column()
            ))
        })?;
        let step = i16::try_from(self.step)
            .map_err(|_| StoreError::Corrupt(format!("draft {} step {}", self.id, self.step)))?;
        Ok(Draft {
            id: DraftId(self.id),
            owner: PersonId(self.owner_id),
            payload,
            step,
            created_at: instant(self.created_at)?,
            updated_at: instant(self.updated_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct DocumentRow {
    id: i64,
    draft_id: Option<i64>,
    person_id: Option<i64>,
    uploaded_by: i64,
    media_type: String,
    sha256: String,
    size: i64,
    created_at: i64,
}

impl DocumentRow {
    fn into_info(self) -> StoreResult<IdentityDocumentInfo> {
        Ok(IdentityDocumentInfo {
            id: IdentityDocumentId(self.id),
            draft: self.draft_id.map(DraftId),
            person: self.person_id.map(PersonId),
            uploaded_by: PersonId(self.uploaded_by),
            media_type: self.media_type,
            sha256: self.sha256,
            size: self.size,
            created_at: instant(self.created_at)?,
        })
    }
}

fn payload_text(payload: &serde_json::Value) -> StoreResult<String> {
    serde_json::to_string(payload).map_err(|e| StoreError::Backend(format!("draft payload: {e}")))
}

#[async_trait]
impl DraftsTx for SqliteTx {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn insert_draft(&mut self, d: &NewDraft) -> StoreResult<DraftId> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO registration_drafts (owner_id, payload, step, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $4)
             RETURNING id",
        )
        .bind(d.owner.0)
        .bind(payload_text(&d.payload)?)
        .bind(i64::from(d.step))
        .bind(micros(d.at))
        .fetch_one(self.conn())
        .await
        .map_err(store_error)?;
        Ok(DraftId(id))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(draft.id = id.0))]
    async fn draft(&mut self, id: DraftId) -> StoreResult<Option<Draft>> {
        let row: Option<DraftRow> = sqlx::query_as(draft_select!("WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(self.conn())
            .await
            .map_err(store_error)?;
        row.map(DraftRow::into_draft).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn drafts_of(&mut self, owner: PersonId) -> StoreResult<Vec<Draft>> {
        let rows: Vec<DraftRow> = sqlx::query_as(draft_select!(
            "WHERE owner_id = $1
             ORDER BY updated_at DESC, id DESC"
        ))
        .bind(owner.0)
        .fetch_all(self.conn())
        .await
        .map_err(store_error)?;
        rows.into_iter().map(DraftRow::into_draft).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(draft.id = id.0))]
    async fn update_draft(
        &mut self,
        id: DraftId,
        payload: &serde_json::Value,
        step: i16,
        at: Timestamp,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE registration_drafts SET payload = $2, step = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(id.0)
        .bind(payload_text(payload)?)
        .bind(i64::from(step))
        .bind(micros(at))
        .execute(self.conn())
        .await
        .map_err(store_error)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(draft.id = id.0))]
    async fn delete_draft(&mut self, id: DraftId) -> StoreResult<()> {
        sqlx::query("DELETE FROM identity_documents WHERE draft_id = $1")
            .bind(id.0)
            .execute(self.conn())
            .await
            .map_err(store_error)?;
        let done = sqlx::query("DELETE FROM registration_drafts WHERE id = $1")
            .bind(id.0)
            .execute(self.conn())
            .await
            .map_err(store_error)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn purge_drafts(&mut self, before: Timestamp) -> StoreResult<u64> {
        sqlx::query(
            "DELETE FROM identity_documents WHERE draft_id IN
               (SELECT id FROM registration_drafts WHERE updated_at < $1)",
        )
        .bind(micros(before))
        .execute(self.conn())
        .await
        .map_err(store_error)?;
        let done = sqlx::query("DELETE FROM registration_drafts WHERE updated_at < $1")
            .bind(micros(before))
            .execute(self.conn())
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(draft.id = d.draft.0))]
    async fn put_draft_document(
        &mut self,
        d: &NewIdentityDocument,
    ) -> StoreResult<IdentityDocumentId> {
        sqlx::query("DELETE FROM identity_documents WHERE draft_id = $1")
            .bind(d.draft.0)
            .execute(self.conn())
            .await
            .map_err(store_error)?;
        let size = i64::try_from(d.content.len())
            .map_err(|_| StoreError::Backend("document too large".into()))?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO identity_documents
               (draft_id, uploaded_by, media_type, sha256, size, content, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             RETURNING id",
        )
        .bind(d.draft.0)
        .bind(d.uploaded_by.0)
        .bind(&d.media_type)
        .bind(&d.sha256)
        .bind(size)
        .bind(&d.content)
        .bind(micros(d.at))
        .fetch_one(self.conn())
        .await
        .map_err(store_error)?;
        Ok(IdentityDocumentId(id))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(draft.id = draft.0))]
    async fn draft_document(
        &mut self,
        draft: DraftId,
    ) -> StoreResult<Option<IdentityDocumentInfo>> {
        let row: Option<DocumentRow> = sqlx::query_as(document_select!("WHERE draft_id = $1"))
            .bind(draft.0)
            .fetch_optional(self.conn())
            .await
            .map_err(store_error)?;
        row.map(DocumentRow::into_info).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(document.id = id.0))]
    async fn identity_document(
        &mut self,
        id: IdentityDocumentId,
    ) -> StoreResult<Option<IdentityDocument>> {
        let row: Option<DocumentRow> = sqlx::query_as(document_select!("WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(self.conn())
            .await
            .map_err(store_error)?;
        let Some(row) = row else { return Ok(None) };
        let content: Vec<u8> =
            sqlx::query_scalar("SELECT content FROM identity_documents WHERE id = $1")
                .bind(id.0)
                .fetch_one(self.conn())
                .await
                .map_err(store_error)?;
        Ok(Some(IdentityDocument {
            info: row.into_info()?,
            content,
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(draft.id = draft.0))]
    async fn attach_draft_document(
        &mut self,
        draft: DraftId,
        person: PersonId,
    ) -> StoreResult<Option<IdentityDocumentId>> {
        let id: Option<i64> = sqlx::query_scalar(
            "UPDATE identity_documents SET person_id = $2, draft_id = NULL WHERE draft_id = $1
             RETURNING id",
        )
        .bind(draft.0)
        .bind(person.0)
        .fetch_optional(self.conn())
        .await
        .map_err(store_error)?;
        Ok(id.map(IdentityDocumentId))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn documents_of_person(
        &mut self,
        person: PersonId,
    ) -> StoreResult<Vec<IdentityDocumentInfo>> {
        let rows: Vec<DocumentRow> = sqlx::query_as(document_select!(
            "WHERE person_id = $1
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(person.0)
        .fetch_all(self.conn())
        .await
        .map_err(store_error)?;
        rows.into_iter().map(DocumentRow::into_info).collect()
    }
}
