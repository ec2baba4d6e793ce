-- First schema of the registry (PostgreSQL).
--
-- Conventions: instants are timestamptz, civil dates are date, JSON is jsonb, ids are bigint
-- identity columns. Unique indexes carry the same names as on SQLite: the store maps a
-- violation of each one to a named uniqueness rule.

CREATE TABLE persons (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rpps                   text,
    adeli                  text,
    idnps                  text NOT NULL,
    civility               text NOT NULL,
    sex                    text NOT NULL,
    birth_name             text NOT NULL,
    usage_name             text,
    first_names            text[] NOT NULL,
    birth_date             date NOT NULL,
    birth_country          text NOT NULL,
    birth_commune          text,
    id_document_kind       text,
    id_document_number     text,
    id_document_expires_on date,
    email                  text,
    mobile                 text,
    -- Matching keys are plain upper-case ASCII: the C collation makes equality, ranges and
    -- prefix LIKE use the same index.
    birth_name_key         text COLLATE "C" NOT NULL,
    usage_name_key         text COLLATE "C",
    first_names_key        text COLLATE "C" NOT NULL,
    version                bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    -- An identity document is all there or not at all.
    CHECK ((id_document_kind IS NULL) = (id_document_number IS NULL)
       AND (id_document_kind IS NULL) = (id_document_expires_on IS NULL))
);

CREATE UNIQUE INDEX uq_persons_rpps ON persons (rpps);
CREATE UNIQUE INDEX uq_persons_idnps ON persons (idnps);
CREATE UNIQUE INDEX uq_persons_email ON persons (email);
CREATE UNIQUE INDEX uq_persons_mobile ON persons (mobile);
-- Name search looks persons up by matching key, then narrows by first names.
CREATE INDEX ix_persons_birth_name_key ON persons (birth_name_key, first_names_key);
CREATE INDEX ix_persons_usage_name_key ON persons (usage_name_key, first_names_key)
    WHERE usage_name_key IS NOT NULL;

CREATE TABLE structures (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    finess          text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('EJ', 'EG')),
    -- Not a foreign key: bulk FINESS imports may bring an establishment before its legal entity.
    ej_finess       text,
    name            text NOT NULL,
    siret           text,
    category_code   text,
    setting         text,
    address         text,
    postcode        text,
    commune_code    text,
    city            text,
    open            boolean NOT NULL,
    closed_on       date,
    management_mode text NOT NULL DEFAULT 'centralised' CHECK (management_mode IN ('centralised', 'per_site')),
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

CREATE UNIQUE INDEX uq_structures_finess ON structures (finess);
CREATE INDEX ix_structures_ej_finess ON structures (ej_finess) WHERE ej_finess IS NOT NULL;

CREATE TABLE exercises (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id           bigint NOT NULL REFERENCES persons (id),
    profession_code     text NOT NULL,
    exercise_civility   text,
    exercise_last_name  text NOT NULL,
    exercise_first_name text NOT NULL,
    created_at          timestamptz NOT NULL,
    -- Target of the situations' composite foreign key.
    UNIQUE (id, person_id)
);

CREATE INDEX ix_exercises_person ON exercises (person_id);

CREATE TABLE situations (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    exercise_id   bigint NOT NULL,
    person_id     bigint NOT NULL,
    structure_id  bigint NOT NULL REFERENCES structures (id),
    role_code     text NOT NULL,
    practice_mode text NOT NULL,
    start_date    date NOT NULL,
    end_date      date,
    end_reason    text,
    created_by    bigint REFERENCES persons (id),
    version       bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    -- The denormalised person must be the exercise's person.
    FOREIGN KEY (exercise_id, person_id) REFERENCES exercises (id, person_id)
);

CREATE INDEX ix_situations_person ON situations (person_id);
CREATE INDEX ix_situations_structure ON situations (structure_id);
CREATE INDEX ix_situations_exercise ON situations (exercise_id, person_id);

-- Designations are never deleted: replacing a representative ends the current row.
CREATE TABLE legal_representatives (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    structure_id  bigint NOT NULL REFERENCES structures (id),
    person_id     bigint NOT NULL REFERENCES persons (id),
    card          text NOT NULL CHECK (card IN ('CDE', 'CPS')),
    designated_at timestamptz NOT NULL,
    ended_at      timestamptz
);

CREATE UNIQUE INDEX uq_legal_representatives_current ON legal_representatives (structure_id)
    WHERE ended_at IS NULL;
CREATE INDEX ix_legal_representatives_person ON legal_representatives (person_id)
    WHERE ended_at IS NULL;

CREATE TABLE habilitations (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id    bigint NOT NULL REFERENCES persons (id),
    structure_id bigint NOT NULL REFERENCES structures (id),
    kind         text NOT NULL CHECK (kind IN ('manager', 'mandatary')),
    granted_by   bigint REFERENCES persons (id),
    granted_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    revoked_by   bigint REFERENCES persons (id),
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);

CREATE INDEX ix_habilitations_person_active ON habilitations (person_id) WHERE revoked_at IS NULL;
CREATE INDEX ix_habilitations_structure_active ON habilitations (structure_id) WHERE revoked_at IS NULL;

CREATE TABLE elearnings (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id       bigint NOT NULL REFERENCES persons (id),
    completed_on    date NOT NULL,
    certificate_ref text NOT NULL,
    recorded_at     timestamptz NOT NULL
);

CREATE INDEX ix_elearnings_person ON elearnings (person_id, completed_on);

-- The next RPPS sequence value, in a single row rather than a SEQUENCE: taking a value updates
-- the row, whose lock makes concurrent transactions (of every server instance) take values one
-- after the other; a rolled-back transaction gives its value back, and raising the start is an
-- ordinary transactional UPDATE that can never move below a value already handed out.
CREATE TABLE rpps_sequence (
    id         smallint PRIMARY KEY CHECK (id = 1),
    next_value bigint NOT NULL CHECK (next_value >= 0)
);

INSERT INTO rpps_sequence (id, next_value) VALUES (1, 0);

CREATE TABLE sessions (
    id_hash      text PRIMARY KEY,
    person_id    bigint NOT NULL REFERENCES persons (id),
    csrf_token   text NOT NULL,
    method       text NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);

CREATE INDEX ix_sessions_person ON sessions (person_id);
CREATE INDEX ix_sessions_expires ON sessions (expires_at);

CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hash         text NOT NULL,
    person_id    bigint REFERENCES persons (id),
    system_name  text,
    label        text NOT NULL,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE UNIQUE INDEX uq_api_tokens_hash ON api_tokens (hash);
CREATE INDEX ix_api_tokens_person ON api_tokens (person_id) WHERE person_id IS NOT NULL;

-- The audit log: append-only, each row chained to the previous one by its hash.
CREATE TABLE audit_log (
    seq       bigint PRIMARY KEY CHECK (seq >= 1),
    at        timestamptz NOT NULL,
    actor     text NOT NULL,
    action    text NOT NULL,
    target    text NOT NULL,
    details   jsonb NOT NULL,
    prev_hash text NOT NULL,
    hash      text NOT NULL
);

CREATE INDEX ix_audit_log_target ON audit_log (target, seq);

-- Append-only is enforced here, not by convention: rewriting or removing history needs the
-- table owner to disable the triggers first (which the hash chain then reveals). Operators may
-- also REVOKE UPDATE, DELETE, TRUNCATE from the application role when it does not own the table.
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

-- Heads of the audit chain and of the change feed, in one row that every appender updates.
-- Its row lock, held until commit, orders appenders: the next appender reads the head only once
-- the previous one has committed (or rolled back), so audit sequence numbers have no gaps,
-- prev_hash is always the previous row's hash, and change-feed numbers grow in commit order.
-- Both heads share one row so that a transaction appending to both never waits on two locks
-- taken in opposite orders by another one.
CREATE TABLE journal_head (
    id         smallint PRIMARY KEY CHECK (id = 1),
    audit_seq  bigint NOT NULL,
    audit_hash text NOT NULL,
    change_seq bigint NOT NULL
);

INSERT INTO journal_head (id, audit_seq, audit_hash, change_seq)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0);

CREATE TABLE outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_key       text NOT NULL,
    kind            text NOT NULL,
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL,
    not_before      timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    leased_until    timestamptz,
    sent_at         timestamptz,
    last_error      text
);

CREATE UNIQUE INDEX uq_outbox_event_key ON outbox (event_key);
CREATE INDEX ix_outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL;

CREATE TABLE change_feed (
    seq       bigint PRIMARY KEY CHECK (seq >= 1),
    entity    text NOT NULL,
    entity_id bigint NOT NULL,
    op        text NOT NULL,
    at        timestamptz NOT NULL
);
