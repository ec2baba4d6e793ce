-- API tokens act for a person, a consuming system or the operator: the kind is stored, and the
-- columns that name the holder must fit it. SQLite cannot add a table constraint to an existing
-- table, so the table is rebuilt (ids, hashes and dates are kept).
CREATE TABLE api_tokens_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    hash         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('person', 'system', 'operator')),
    person_id    INTEGER REFERENCES persons (id),
    system_name  TEXT,
    label        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    CHECK ((kind = 'person') = (person_id IS NOT NULL)),
    CHECK ((kind = 'person') = (system_name IS NULL))
) STRICT;

INSERT INTO api_tokens_new (id, hash, kind, person_id, system_name, label, created_at,
                            last_used_at, revoked_at)
SELECT id, hash, CASE WHEN person_id IS NOT NULL THEN 'person' ELSE 'system' END, person_id,
       CASE WHEN person_id IS NOT NULL THEN NULL ELSE coalesce(system_name, label) END, label,
       created_at, last_used_at, revoked_at
FROM api_tokens;

DROP TABLE api_tokens;
ALTER TABLE api_tokens_new RENAME TO api_tokens;

CREATE UNIQUE INDEX uq_api_tokens_hash ON api_tokens (hash);
CREATE INDEX ix_api_tokens_person ON api_tokens (person_id) WHERE person_id IS NOT NULL;
