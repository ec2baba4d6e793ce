-- Access decisions ask by IDNPS. Until now the read went from the IDNPS to the person, then to
-- the person's situations: on a statement this small PostgreSQL's cost is mostly setting up
-- each plan node and each output column, and that join was a third of it. The situation now
-- carries its person's IDNPS, so a decision reads the change-feed head, the caller's token and
-- one range of one index.
--
-- Triggers keep the column, as for `structure_finess`: a situation takes its person's IDNPS
-- when written (whatever the statement says), and a person's IDNPS, which never changes today,
-- would be carried to their situations if it did.
ALTER TABLE situations ADD COLUMN person_idnps text;

UPDATE situations s SET person_idnps = p.idnps FROM persons p WHERE p.id = s.person_id;

ALTER TABLE situations ALTER COLUMN person_idnps SET NOT NULL;

CREATE FUNCTION situations_person_idnps() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.person_idnps := (SELECT idnps FROM persons WHERE id = NEW.person_id);
    RETURN NEW;
END;
$$;

CREATE TRIGGER situations_person_idnps BEFORE INSERT OR UPDATE OF person_id, person_idnps
    ON situations FOR EACH ROW EXECUTE FUNCTION situations_person_idnps();

CREATE FUNCTION persons_idnps_to_situations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE situations SET person_idnps = NEW.idnps WHERE person_id = NEW.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER persons_idnps_to_situations AFTER UPDATE OF idnps ON persons
    FOR EACH ROW WHEN (OLD.idnps IS DISTINCT FROM NEW.idnps)
    EXECUTE FUNCTION persons_idnps_to_situations();

-- The covering index moves to the IDNPS; the person's situations are still looked up by
-- person elsewhere (pages, directory, foreign key checks), with a plain index again.
DROP INDEX ix_situations_decision;

CREATE INDEX ix_situations_person ON situations (person_id);

CREATE INDEX ix_situations_decision ON situations (person_idnps, id)
    INCLUDE (structure_finess, role_code, start_date, end_date, closed_at);
