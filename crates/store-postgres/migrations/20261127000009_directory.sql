-- The public directory (FHIR API under /fhir/v2): what its searches and keyset pages need.
--
-- A practitioner's last update moves when the person or any of their situations changes (the
-- exercise names change with their situation): triggers keep it, so no write path can forget
-- it, and `_lastUpdated` works as a delta feed over the whole history.
ALTER TABLE persons ADD COLUMN directory_updated_at timestamptz;

UPDATE persons p SET directory_updated_at = greatest(p.updated_at,
    (SELECT max(s.updated_at) FROM situations s WHERE s.person_id = p.id));

ALTER TABLE persons ALTER COLUMN directory_updated_at SET NOT NULL;

-- On insert the column starts at the row's updated_at; on update it never moves back.
CREATE FUNCTION persons_directory_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.directory_updated_at := greatest(NEW.updated_at, NEW.directory_updated_at);
    RETURN NEW;
END;
$$;

CREATE TRIGGER persons_directory_touch BEFORE INSERT OR UPDATE ON persons
    FOR EACH ROW EXECUTE FUNCTION persons_directory_touch();

CREATE FUNCTION situations_directory_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE persons SET directory_updated_at = greatest(directory_updated_at, NEW.updated_at)
    WHERE id = NEW.person_id AND directory_updated_at < NEW.updated_at;
    RETURN NULL;
END;
$$;

CREATE TRIGGER situations_directory_touch AFTER INSERT OR UPDATE ON situations
    FOR EACH ROW EXECUTE FUNCTION situations_directory_touch();

-- Keyset pages of a delta feed: (last update, id) in index order.
CREATE INDEX ix_persons_directory_updated ON persons (directory_updated_at, id);
CREATE INDEX ix_situations_updated ON situations (updated_at, id);
CREATE INDEX ix_structures_updated ON structures (updated_at, id);
-- The situations of one establishment in id order (SQLite's index on structure_id holds the
-- rowid already): a large hospital's pages need no sort.
CREATE INDEX ix_situations_structure_page ON situations (structure_id, id);

-- Identifier searches.
CREATE INDEX ix_persons_adeli ON persons (adeli) WHERE adeli IS NOT NULL;
CREATE INDEX ix_structures_siret ON structures (siret) WHERE siret IS NOT NULL;

-- Text searches ignore case and accents: the folded texts (the store's `fold_text`, spelled
-- here in SQL: the same characters, the same replacements) are indexed in byte order (C
-- collation), and a prefix search is a range of that index.
ALTER TABLE exercises ADD COLUMN last_name_fold text COLLATE "C"
    GENERATED ALWAYS AS (lower(replace(replace(replace(replace(translate(exercise_last_name, 'ÀÂÄÁàâäáÇçÉÈÊËéèêëÎÏÍîïíÔÖÓôöóÙÛÜÚùûüúŸÿÑñ-''’', 'aaaaaaaacceeeeeeeeiiiiiioooooouuuuuuuuyynn   '), 'Æ', 'ae'), 'æ', 'ae'), 'Œ', 'oe'), 'œ', 'oe'))) STORED;
ALTER TABLE exercises ADD COLUMN first_name_fold text COLLATE "C"
    GENERATED ALWAYS AS (lower(replace(replace(replace(replace(translate(exercise_first_name, 'ÀÂÄÁàâäáÇçÉÈÊËéèêëÎÏÍîïíÔÖÓôöóÙÛÜÚùûüúŸÿÑñ-''’', 'aaaaaaaacceeeeeeeeiiiiiioooooouuuuuuuuyynn   '), 'Æ', 'ae'), 'æ', 'ae'), 'Œ', 'oe'), 'œ', 'oe'))) STORED;
ALTER TABLE structures ADD COLUMN city_fold text COLLATE "C"
    GENERATED ALWAYS AS (lower(replace(replace(replace(replace(translate(city, 'ÀÂÄÁàâäáÇçÉÈÊËéèêëÎÏÍîïíÔÖÓôöóÙÛÜÚùûüúŸÿÑñ-''’', 'aaaaaaaacceeeeeeeeiiiiiioooooouuuuuuuuyynn   '), 'Æ', 'ae'), 'æ', 'ae'), 'Œ', 'oe'), 'œ', 'oe'))) STORED;
ALTER TABLE structures ADD COLUMN address_fold text COLLATE "C"
    GENERATED ALWAYS AS (lower(replace(replace(replace(replace(translate(address, 'ÀÂÄÁàâäáÇçÉÈÊËéèêëÎÏÍîïíÔÖÓôöóÙÛÜÚùûüúŸÿÑñ-''’', 'aaaaaaaacceeeeeeeeiiiiiioooooouuuuuuuuyynn   '), 'Æ', 'ae'), 'æ', 'ae'), 'Œ', 'oe'), 'œ', 'oe'))) STORED;

CREATE INDEX ix_exercises_last_name_fold ON exercises (last_name_fold, person_id);
CREATE INDEX ix_exercises_first_name_fold ON exercises (first_name_fold, person_id);
CREATE INDEX ix_exercises_profession ON exercises (profession_code, person_id);
CREATE INDEX ix_structures_city_fold ON structures (city_fold);
CREATE INDEX ix_structures_address_fold ON structures (address_fold);
CREATE INDEX ix_structures_postcode ON structures (postcode COLLATE "C");
CREATE INDEX ix_structures_name_key ON structures (name_key COLLATE "C");
