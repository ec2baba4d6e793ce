-- Access decisions read a professional's situations on every call (nothing is cached: see
-- "The revocation guarantee" in ARCHITECTURE.md). Two changes make that read lighter:
--
-- 1. The establishment's FINESS is kept on the situation, so the read needs no join with
--    `structures`. Triggers keep it, so no write path can forget it: a situation takes its
--    structure's FINESS when written (whatever the statement says), and a structure's FINESS,
--    which never changes today, would be carried to its situations if it did.
-- 2. One index, on (person, id), carries every column a decision reads: the person's
--    situations come from the index alone (index-only scan once the pages are all-visible),
--    already in id order. It replaces the index on the person alone.
ALTER TABLE situations ADD COLUMN structure_finess text;

UPDATE situations s SET structure_finess = st.finess FROM structures st WHERE st.id = s.structure_id;

ALTER TABLE situations ALTER COLUMN structure_finess SET NOT NULL;

CREATE FUNCTION situations_structure_finess() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.structure_finess := (SELECT finess FROM structures WHERE id = NEW.structure_id);
    RETURN NEW;
END;
$$;

CREATE TRIGGER situations_structure_finess BEFORE INSERT OR UPDATE OF structure_id, structure_finess
    ON situations FOR EACH ROW EXECUTE FUNCTION situations_structure_finess();

CREATE FUNCTION structures_finess_to_situations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE situations SET structure_finess = NEW.finess WHERE structure_id = NEW.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER structures_finess_to_situations AFTER UPDATE OF finess ON structures
    FOR EACH ROW WHEN (OLD.finess IS DISTINCT FROM NEW.finess)
    EXECUTE FUNCTION structures_finess_to_situations();

CREATE INDEX ix_situations_decision ON situations (person_id, id)
    INCLUDE (structure_finess, role_code, start_date, end_date, end_reason, updated_at);

DROP INDEX ix_situations_person;
