-- The registry operator may revoke a habilitation (a manager whose identity proved false, a
-- structure that can no longer act): such a revocation names no person. The audit log records
-- who revoked, the operator included; `revoked_by` stays set whenever a person did, and is
-- never set on a habilitation in force.
--
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt (no other table
-- refers to it), with the same columns, ids and indexes.
CREATE TABLE habilitations_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id    INTEGER NOT NULL REFERENCES persons (id),
    structure_id INTEGER NOT NULL REFERENCES structures (id),
    kind         TEXT NOT NULL CHECK (kind IN ('manager', 'mandatary')),
    granted_by   INTEGER REFERENCES persons (id),
    granted_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    revoked_by   INTEGER REFERENCES persons (id),
    CHECK (revoked_at IS NOT NULL OR revoked_by IS NULL)
) STRICT;

INSERT INTO habilitations_new (id, person_id, structure_id, kind, granted_by, granted_at,
                               revoked_at, revoked_by)
SELECT id, person_id, structure_id, kind, granted_by, granted_at, revoked_at, revoked_by
FROM habilitations;

DROP TABLE habilitations;

ALTER TABLE habilitations_new RENAME TO habilitations;

CREATE INDEX ix_habilitations_person_active ON habilitations (person_id) WHERE revoked_at IS NULL;
CREATE INDEX ix_habilitations_structure_active ON habilitations (structure_id) WHERE revoked_at IS NULL;
