-- The registry operator may revoke a habilitation (a manager whose identity proved false, a
-- structure that can no longer act): such a revocation names no person. The audit log records
-- who revoked, the operator included; `revoked_by` stays set whenever a person did, and is
-- never set on a habilitation in force.
ALTER TABLE habilitations DROP CONSTRAINT habilitations_check;

ALTER TABLE habilitations ADD CONSTRAINT ck_habilitations_revoked_by
    CHECK (revoked_at IS NOT NULL OR revoked_by IS NULL);
