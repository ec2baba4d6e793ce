-- Registration drafts: what a manager typed in the steps of the registration wizard, kept
-- server-side between steps so that the pages work without JavaScript and can be resumed.
-- Personal data: read by their owner only, deleted on confirmation, by the owner, or when left
-- untouched for 30 days.
CREATE TABLE registration_drafts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id   INTEGER NOT NULL REFERENCES persons (id),
    payload    TEXT NOT NULL CHECK (json_valid(payload) AND json_type(payload) = 'object'),
    step       INTEGER NOT NULL CHECK (step BETWEEN 1 AND 4),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE INDEX ix_registration_drafts_owner ON registration_drafts (owner_id);
CREATE INDEX ix_registration_drafts_updated ON registration_drafts (updated_at);

-- Scans of identity documents: kept in the database (never on disk, never published), first
-- attached to a draft (one per draft), then to the person once the registration is confirmed.
-- The media type is the one found from the content, not the one the browser declared.
CREATE TABLE identity_documents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    draft_id    INTEGER REFERENCES registration_drafts (id),
    person_id   INTEGER REFERENCES persons (id),
    uploaded_by INTEGER NOT NULL REFERENCES persons (id),
    media_type  TEXT NOT NULL CHECK (media_type IN ('application/pdf', 'image/jpeg', 'image/png')),
    sha256      TEXT NOT NULL CHECK (length(sha256) = 64),
    size        INTEGER NOT NULL CHECK (size > 0 AND size <= 5242880),
    content     BLOB NOT NULL CHECK (length(content) = size),
    created_at  INTEGER NOT NULL,
    CHECK ((draft_id IS NULL) <> (person_id IS NULL))
) STRICT;

CREATE UNIQUE INDEX uq_identity_documents_draft ON identity_documents (draft_id)
    WHERE draft_id IS NOT NULL;
CREATE INDEX ix_identity_documents_person ON identity_documents (person_id)
    WHERE person_id IS NOT NULL;
