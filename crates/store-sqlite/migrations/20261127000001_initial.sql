-- First schema of the registry (SQLite).
--
-- Conventions: tables are STRICT; instants are INTEGER microseconds since the Unix epoch (UTC);
-- civil dates are ISO 8601 TEXT (YYYY-MM-DD), which sorts like the dates; JSON is TEXT checked
-- with json_valid; booleans are INTEGER 0/1. Unique indexes carry the same names as on
-- PostgreSQL: the store maps a violation of each one to a named uniqueness rule.

CREATE TABLE persons (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    rpps                   TEXT,
    adeli                  TEXT,
    idnps                  TEXT NOT NULL,
    civility               TEXT NOT NULL,
    sex                    TEXT NOT NULL,
    birth_name             TEXT NOT NULL,
    usage_name             TEXT,
    -- JSON array of the first names in civil order.
    first_names            TEXT NOT NULL CHECK (json_valid(first_names) AND json_type(first_names) = 'array'),
    birth_date             TEXT NOT NULL,
    birth_country          TEXT NOT NULL,
    birth_commune          TEXT,
    id_document_kind       TEXT,
    id_document_number     TEXT,
    id_document_expires_on TEXT,
    email                  TEXT,
    mobile                 TEXT,
    birth_name_key         TEXT NOT NULL,
    usage_name_key         TEXT,
    first_names_key        TEXT NOT NULL,
    version                INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    -- An identity document is all there or not at all.
    CHECK ((id_document_kind IS NULL) = (id_document_number IS NULL)
       AND (id_document_kind IS NULL) = (id_document_expires_on IS NULL))
) STRICT;

CREATE UNIQUE INDEX uq_persons_rpps ON persons (rpps);
CREATE UNIQUE INDEX uq_persons_idnps ON persons (idnps);
CREATE UNIQUE INDEX uq_persons_email ON persons (email);
CREATE UNIQUE INDEX uq_persons_mobile ON persons (mobile);
-- Name search looks persons up by matching key, then narrows by first names.
CREATE INDEX ix_persons_birth_name_key ON persons (birth_name_key, first_names_key);
CREATE INDEX ix_persons_usage_name_key ON persons (usage_name_key, first_names_key)
    WHERE usage_name_key IS NOT NULL;

CREATE TABLE structures (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    finess          TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('EJ', 'EG')),
    -- Not a foreign key: bulk FINESS imports may bring an establishment before its legal entity.
    ej_finess       TEXT,
    name            TEXT NOT NULL,
    siret           TEXT,
    category_code   TEXT,
    setting         TEXT,
    address         TEXT,
    postcode        TEXT,
    commune_code    TEXT,
    city            TEXT,
    open            INTEGER NOT NULL CHECK (open IN (0, 1)),
    closed_on       TEXT,
    management_mode TEXT NOT NULL DEFAULT 'centralised' CHECK (management_mode IN ('centralised', 'per_site')),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX uq_structures_finess ON structures (finess);
CREATE INDEX ix_structures_ej_finess ON structures (ej_finess) WHERE ej_finess IS NOT NULL;

CREATE TABLE exercises (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id           INTEGER NOT NULL REFERENCES persons (id),
    profession_code     TEXT NOT NULL,
    exercise_civility   TEXT,
    exercise_last_name  TEXT NOT NULL,
    exercise_first_name TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    -- Target of the situations' composite foreign key.
    UNIQUE (id, person_id)
) STRICT;

CREATE INDEX ix_exercises_person ON exercises (person_id);

CREATE TABLE situations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    exercise_id   INTEGER NOT NULL,
    person_id     INTEGER NOT NULL,
    structure_id  INTEGER NOT NULL REFERENCES structures (id),
    role_code     TEXT NOT NULL,
    practice_mode TEXT NOT NULL,
    start_date    TEXT NOT NULL,
    end_date      TEXT,
    end_reason    TEXT,
    created_by    INTEGER REFERENCES persons (id),
    version       INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    -- The denormalised person must be the exercise's person.
    FOREIGN KEY (exercise_id, person_id) REFERENCES exercises (id, person_id)
) STRICT;

CREATE INDEX ix_situations_person ON situations (person_id);
CREATE INDEX ix_situations_structure ON situations (structure_id);
CREATE INDEX ix_situations_exercise ON situations (exercise_id, person_id);

-- Designations are never deleted: replacing a representative ends the current row.
CREATE TABLE legal_representatives (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    structure_id  INTEGER NOT NULL REFERENCES structures (id),
    person_id     INTEGER NOT NULL REFERENCES persons (id),
    card          TEXT NOT NULL CHECK (card IN ('CDE', 'CPS')),
    designated_at INTEGER NOT NULL,
    ended_at      INTEGER
) STRICT;

CREATE UNIQUE INDEX uq_legal_representatives_current ON legal_representatives (structure_id)
    WHERE ended_at IS NULL;
CREATE INDEX ix_legal_representatives_person ON legal_representatives (person_id)
    WHERE ended_at IS NULL;

CREATE TABLE habilitations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id    INTEGER NOT NULL REFERENCES persons (id),
    structure_id INTEGER NOT NULL REFERENCES structures (id),
    kind         TEXT NOT NULL CHECK (kind IN ('manager', 'mandatary')),
    granted_by   INTEGER REFERENCES persons (id),
    granted_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    revoked_by   INTEGER REFERENCES persons (id),
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
) STRICT;

CREATE INDEX ix_habilitations_person_active ON habilitations (person_id) WHERE revoked_at IS NULL;
CREATE INDEX ix_habilitations_structure_active ON habilitations (structure_id) WHERE revoked_at IS NULL;

CREATE TABLE elearnings (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id       INTEGER NOT NULL REFERENCES persons (id),
    completed_on    TEXT NOT NULL,
    certificate_ref TEXT NOT NULL,
    recorded_at     INTEGER NOT NULL
) STRICT;

CREATE INDEX ix_elearnings_person ON elearnings (person_id, completed_on);

-- The next RPPS sequence value, in a single row: taking a value updates the row, so the
-- single writer hands values out one at a time and a rolled-back transaction gives its back.
CREATE TABLE rpps_sequence (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    next_value INTEGER NOT NULL CHECK (next_value >= 0)
) STRICT;

INSERT INTO rpps_sequence (id, next_value) VALUES (1, 0);

CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,
    person_id    INTEGER NOT NULL REFERENCES persons (id),
    csrf_token   TEXT NOT NULL,
    method       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX ix_sessions_person ON sessions (person_id);
CREATE INDEX ix_sessions_expires ON sessions (expires_at);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    hash         TEXT NOT NULL,
    person_id    INTEGER REFERENCES persons (id),
    system_name  TEXT,
    label        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
) STRICT;

CREATE UNIQUE INDEX uq_api_tokens_hash ON api_tokens (hash);
CREATE INDEX ix_api_tokens_person ON api_tokens (person_id) WHERE person_id IS NOT NULL;

-- The audit log: append-only, each row chained to the previous one by its hash.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY CHECK (seq >= 1),
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    details   TEXT NOT NULL CHECK (json_valid(details)),
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
) STRICT;

CREATE INDEX ix_audit_log_target ON audit_log (target, seq);

-- Append-only is enforced here, not by convention: whoever holds a connection cannot rewrite
-- or remove history without first dropping these triggers (which the hash chain then reveals).
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused');
END;

-- Heads of the audit chain and of the change feed, kept in one row that every appender
-- updates. SQLite has a single writer, so this only mirrors the PostgreSQL schema, where the
-- row lock is what orders appenders.
CREATE TABLE journal_head (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    audit_seq  INTEGER NOT NULL,
    audit_hash TEXT NOT NULL,
    change_seq INTEGER NOT NULL
) STRICT;

INSERT INTO journal_head (id, audit_seq, audit_hash, change_seq)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_key       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL CHECK (json_valid(payload)),
    created_at      INTEGER NOT NULL,
    not_before      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    leased_until    INTEGER,
    sent_at         INTEGER,
    last_error      TEXT
) STRICT;

CREATE UNIQUE INDEX uq_outbox_event_key ON outbox (event_key);
CREATE INDEX ix_outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL;

CREATE TABLE change_feed (
    seq       INTEGER PRIMARY KEY CHECK (seq >= 1),
    entity    TEXT NOT NULL,
    entity_id INTEGER NOT NULL,
    op        TEXT NOT NULL,
    at        INTEGER NOT NULL
) STRICT;
