-- Registering professionals.
--
-- Search before create looks candidates up by birth date (about 55 persons share a birth date in
-- a registry of two million), then ranks them by name in the application.
CREATE INDEX ix_persons_birth_date ON persons (birth_date);


-- Self-registrations: a person submits their own registration naming their establishment; it
-- waits for a manager of that establishment to validate it (it then becomes a normal
-- registration) or to reject it with a reason. Kept after the decision, for the record.
CREATE TABLE pending_registrations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    structure_id INTEGER NOT NULL REFERENCES structures (id),
    -- The registration as submitted (JSON object), re-validated when a manager decides.
    payload      TEXT NOT NULL CHECK (json_valid(payload) AND json_type(payload) = 'object'),
    status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'validated', 'rejected')),
    submitted_at INTEGER NOT NULL,
    decided_by   INTEGER REFERENCES persons (id),
    decided_at   INTEGER,
    reason       TEXT,
    person_id    INTEGER REFERENCES persons (id),
    situation_id INTEGER REFERENCES situations (id),
    CHECK ((status = 'pending') = (decided_at IS NULL))
) STRICT;

CREATE INDEX ix_pending_registrations_structure ON pending_registrations (structure_id)
    WHERE status = 'pending';
