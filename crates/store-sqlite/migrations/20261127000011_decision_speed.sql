-- Access decisions read a professional's situations on every call (nothing is cached: see
-- "The revocation guarantee" in ARCHITECTURE.md). Two changes make that read lighter:
--
-- 1. The establishment's FINESS is kept on the situation, so the read needs no join with
--    `structures`. Triggers keep it, so no write path can forget it: a situation takes its
--    structure's FINESS when written (whatever the statement says), and a structure's FINESS,
--    which never changes today, would be carried to its situations if it did.
-- 2. One index, on (person, id), carries every column a decision reads: the person's
--    situations come from the index alone (a covering index), already in id order. It
--    replaces the index on the person alone.
ALTER TABLE situations ADD COLUMN structure_finess TEXT NOT NULL DEFAULT '';

UPDATE situations
SET structure_finess = (SELECT finess FROM structures WHERE structures.id = situations.structure_id);

CREATE TRIGGER situations_structure_finess_insert AFTER INSERT ON situations
BEGIN
    UPDATE situations
    SET structure_finess = (SELECT finess FROM structures WHERE id = NEW.structure_id)
    WHERE id = NEW.id;
END;

CREATE TRIGGER situations_structure_finess_update AFTER UPDATE OF structure_id, structure_finess
    ON situations
    WHEN NEW.structure_finess IS NOT (SELECT finess FROM structures WHERE id = NEW.structure_id)
BEGIN
    UPDATE situations
    SET structure_finess = (SELECT finess FROM structures WHERE id = NEW.structure_id)
    WHERE id = NEW.id;
END;

CREATE TRIGGER structures_finess_to_situations AFTER UPDATE OF finess ON structures
    WHEN OLD.finess IS NOT NEW.finess
BEGIN
    UPDATE situations SET structure_finess = NEW.finess WHERE structure_id = NEW.id;
END;

CREATE INDEX ix_situations_decision ON situations
    (person_id, id, structure_finess, role_code, start_date, end_date, end_reason, updated_at);

DROP INDEX ix_situations_person;
