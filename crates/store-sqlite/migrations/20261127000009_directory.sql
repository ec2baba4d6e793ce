-- The public directory (FHIR API under /fhir/v2): what its searches and keyset pages need.
--
-- A practitioner's last update moves when the person or any of their situations changes (the
-- exercise names change with their situation): triggers keep it, so no write path can forget
-- it, and `_lastUpdated` works as a delta feed over the whole history.
ALTER TABLE persons ADD COLUMN directory_updated_at INTEGER NOT NULL DEFAULT 0;

UPDATE persons SET directory_updated_at = max(updated_at,
    coalesce((SELECT max(s.updated_at) FROM situations s WHERE s.person_id = persons.id), 0));

CREATE TRIGGER persons_directory_insert AFTER INSERT ON persons
BEGIN
    UPDATE persons SET directory_updated_at = max(directory_updated_at, NEW.updated_at)
    WHERE id = NEW.id;
END;

CREATE TRIGGER persons_directory_update AFTER UPDATE OF updated_at ON persons
BEGIN
    UPDATE persons SET directory_updated_at = max(directory_updated_at, NEW.updated_at)
    WHERE id = NEW.id;
END;

CREATE TRIGGER situations_directory_insert AFTER INSERT ON situations
BEGIN
    UPDATE persons SET directory_updated_at = max(directory_updated_at, NEW.updated_at)
    WHERE id = NEW.person_id;
END;

CREATE TRIGGER situations_directory_update AFTER UPDATE ON situations
BEGIN
    UPDATE persons SET directory_updated_at = max(directory_updated_at, NEW.updated_at)
    WHERE id = NEW.person_id;
END;

-- Keyset pages of a delta feed: (last update, id) in index order.
CREATE INDEX ix_persons_directory_updated ON persons (directory_updated_at, id);
CREATE INDEX ix_situations_updated ON situations (updated_at, id);
CREATE INDEX ix_structures_updated ON structures (updated_at, id);

-- Identifier searches.
CREATE INDEX ix_persons_adeli ON persons (adeli) WHERE adeli IS NOT NULL;
CREATE INDEX ix_structures_siret ON structures (siret) WHERE siret IS NOT NULL;

-- Text searches ignore case and accents: the folded texts (the store's `fold_text`, spelled
-- here in SQL: the same characters, the same replacements) are indexed, and a prefix search
-- is a range of that index. The replacements are spread over three columns so that no
-- expression nests deeper than SQLite parsers built with a fixed stack accept.
ALTER TABLE exercises ADD COLUMN last_name_fold_step1 TEXT
    GENERATED ALWAYS AS (replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(exercise_last_name, 'À', 'a'), 'Â', 'a'), 'Ä', 'a'), 'Á', 'a'), 'à', 'a'), 'â', 'a'), 'ä', 'a'), 'á', 'a'), 'Ç', 'c'), 'ç', 'c'), 'É', 'e'), 'È', 'e'), 'Ê', 'e'), 'Ë', 'e'), 'é', 'e'), 'è', 'e'), 'ê', 'e')) VIRTUAL;
ALTER TABLE exercises ADD COLUMN last_name_fold_step2 TEXT
    GENERATED ALWAYS AS (replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(last_name_fold_step1, 'ë', 'e'), 'Î', 'i'), 'Ï', 'i'), 'Í', 'i'), 'î', 'i'), 'ï', 'i'), 'í', 'i'), 'Ô', 'o'), 'Ö', 'o'), 'Ó', 'o'), 'ô', 'o'), 'ö', 'o'), 'ó', 'o'), 'Ù', 'u'), 'Û', 'u'), 'Ü', 'u'), 'Ú', 'u')) VIRTUAL;
ALTER TABLE exercises ADD COLUMN last_name_fold TEXT
    GENERATED ALWAYS AS (lower(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(last_name_fold_step2, 'ù', 'u'), 'û', 'u'), 'ü', 'u'), 'ú', 'u'), 'Ÿ', 'y'), 'ÿ', 'y'), 'Ñ', 'n'), 'ñ', 'n'), '-', ' '), '''', ' '), '’', ' '), 'Æ', 'ae'), 'æ', 'ae'), 'Œ', 'oe'), 'œ', 'oe'))) VIRTUAL;
ALTER TABLE exercises ADD COLUMN first_name_fold_step1 TEXT
    GENERATED ALWAYS AS (replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(exercise_first_name, 'À', 'a'), 'Â', 'a'), 'Ä', 'a'), 'Á', 'a'), 'à', 'a'), 'â', 'a'), 'ä', 'a'), 'á', 'a'), 'Ç', 'c'), 'ç', 'c'), 'É', 'e'), 'È', 'e'), 'Ê', 'e'), 'Ë', 'e'), 'é', 'e'), 'è', 'e'), 'ê', 'e')) VIRTUAL;
ALTER TABLE exercises ADD COLUMN first_name_fold_step2 TEXT
    GENERATED ALWAYS AS (replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(first_name_fold_step1, 'ë', 'e'), 'Î', 'i'), 'Ï', 'i'), 'Í', 'i'), 'î', 'i'), 'ï', 'i'), 'í', 'i'), 'Ô', 'o'), 'Ö', 'o'), 'Ó', 'o'), 'ô', 'o'), 'ö', 'o'), 'ó', 'o'), 'Ù', 'u'), 'Û', 'u'), 'Ü', 'u'), 'Ú', 'u')) VIRTUAL;
ALTER TABLE exercises ADD COLUMN first_name_fold TEXT
    GENERATED ALWAYS AS (lower(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(first_name_fold_step2, 'ù', 'u'), 'û', 'u'), 'ü', 'u'), 'ú', 'u'), 'Ÿ', 'y'), 'ÿ', 'y'), 'Ñ', 'n'), 'ñ', 'n'), '-', ' '), '''', ' '), '’', ' '), 'Æ', 'ae'), 'æ', 'ae'), 'Œ', 'oe'), 'œ', 'oe'))) VIRTUAL;
ALTER TABLE structures ADD COLUMN city_fold_step1 TEXT
    GENERATED ALWAYS AS (replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(city, 'À', 'a'), 'Â', 'a'), 'Ä', 'a'), 'Á', 'a'), 'à', 'a'), 'â', 'a'), 'ä', 'a'), 'á', 'a'), 'Ç', 'c'), 'ç', 'c'), 'É', 'e'), 'È', 'e'), 'Ê', 'e'), 'Ë', 'e'), 'é', 'e'), 'è', 'e'), 'ê', 'e')) VIRTUAL;
ALTER TABLE structures ADD COLUMN city_fold_step2 TEXT
    GENERATED ALWAYS AS (replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(city_fold_step1, 'ë', 'e'), 'Î', 'i'), 'Ï', 'i'), 'Í', 'i'), 'î', 'i'), 'ï', 'i'), 'í', 'i'), 'Ô', 'o'), 'Ö', 'o'), 'Ó', 'o'), 'ô', 'o'), 'ö', 'o'), 'ó', 'o'), 'Ù', 'u'), 'Û', 'u'), 'Ü', 'u'), 'Ú', 'u')) VIRTUAL;
ALTER TABLE structures ADD COLUMN city_fold TEXT
    GENERATED ALWAYS AS (lower(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(city_fold_step2, 'ù', 'u'), 'û', 'u'), 'ü', 'u'), 'ú', 'u'), 'Ÿ', 'y'), 'ÿ', 'y'), 'Ñ', 'n'), 'ñ', 'n'), '-', ' '), '''', ' '), '’', ' '), 'Æ', 'ae'), 'æ', 'ae'), 'Œ', 'oe'), 'œ', 'oe'))) VIRTUAL;
ALTER TABLE structures ADD COLUMN address_fold_step1 TEXT
    GENERATED ALWAYS AS (replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(address, 'À', 'a'), 'Â', 'a'), 'Ä', 'a'), 'Á', 'a'), 'à', 'a'), 'â', 'a'), 'ä', 'a'), 'á', 'a'), 'Ç', 'c'), 'ç', 'c'), 'É', 'e'), 'È', 'e'), 'Ê', 'e'), 'Ë', 'e'), 'é', 'e'), 'è', 'e'), 'ê', 'e')) VIRTUAL;
ALTER TABLE structures ADD COLUMN address_fold_step2 TEXT
    GENERATED ALWAYS AS (replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(address_fold_step1, 'ë', 'e'), 'Î', 'i'), 'Ï', 'i'), 'Í', 'i'), 'î', 'i'), 'ï', 'i'), 'í', 'i'), 'Ô', 'o'), 'Ö', 'o'), 'Ó', 'o'), 'ô', 'o'), 'ö', 'o'), 'ó', 'o'), 'Ù', 'u'), 'Û', 'u'), 'Ü', 'u'), 'Ú', 'u')) VIRTUAL;
ALTER TABLE structures ADD COLUMN address_fold TEXT
    GENERATED ALWAYS AS (lower(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(address_fold_step2, 'ù', 'u'), 'û', 'u'), 'ü', 'u'), 'ú', 'u'), 'Ÿ', 'y'), 'ÿ', 'y'), 'Ñ', 'n'), 'ñ', 'n'), '-', ' '), '''', ' '), '’', ' '), 'Æ', 'ae'), 'æ', 'ae'), 'Œ', 'oe'), 'œ', 'oe'))) VIRTUAL;

CREATE INDEX ix_exercises_last_name_fold ON exercises (last_name_fold, person_id);
CREATE INDEX ix_exercises_first_name_fold ON exercises (first_name_fold, person_id);
CREATE INDEX ix_exercises_profession ON exercises (profession_code, person_id);
CREATE INDEX ix_structures_city_fold ON structures (city_fold);
CREATE INDEX ix_structures_address_fold ON structures (address_fold);
CREATE INDEX ix_structures_postcode ON structures (postcode);
CREATE INDEX ix_structures_name_key ON structures (name_key);
