-- lower() follows the database's locale beyond ASCII (`Ø` becomes `ø` under fr_FR.UTF-8 or
-- C.UTF-8), while the store's `fold_text`, like SQLite, lowers ASCII letters only: a name
-- typed with such a capital then missed its row. Under the "C" collation lower() changes
-- ASCII letters only, so the folded columns are computed under it, and their indexes rebuilt.

ALTER TABLE exercises DROP COLUMN last_name_fold;
ALTER TABLE exercises ADD COLUMN last_name_fold text COLLATE "C"
    GENERATED ALWAYS AS (lower((replace(replace(replace(replace(translate(exercise_last_name, 'ÀÂÄÁàâäáÇçÉÈÊËéèêëÎÏÍîïíÔÖÓôöóÙÛÜÚùûüúŸÿÑñ-''’', 'aaaaaaaacceeeeeeeeiiiiiioooooouuuuuuuuyynn   '), 'Æ', 'ae'), 'æ', 'ae'), 'Œ', 'oe'), 'œ', 'oe')) COLLATE "C")) STORED;
ALTER TABLE exercises DROP COLUMN first_name_fold;
ALTER TABLE exercises ADD COLUMN first_name_fold text COLLATE "C"
    GENERATED ALWAYS AS (lower((replace(replace(replace(replace(translate(exercise_first_name, 'ÀÂÄÁàâäáÇçÉÈÊËéèêëÎÏÍîïíÔÖÓôöóÙÛÜÚùûüúŸÿÑñ-''’', 'aaaaaaaacceeeeeeeeiiiiiioooooouuuuuuuuyynn   '), 'Æ', 'ae'), 'æ', 'ae'), 'Œ', 'oe'), 'œ', 'oe')) COLLATE "C")) STORED;
ALTER TABLE structures DROP COLUMN city_fold;
ALTER TABLE structures ADD COLUMN city_fold text COLLATE "C"
    GENERATED ALWAYS AS (lower((replace(replace(replace(replace(translate(city, 'ÀÂÄÁàâäáÇçÉÈÊËéèêëÎÏÍîïíÔÖÓôöóÙÛÜÚùûüúŸÿÑñ-''’', 'aaaaaaaacceeeeeeeeiiiiiioooooouuuuuuuuyynn   '), 'Æ', 'ae'), 'æ', 'ae'), 'Œ', 'oe'), 'œ', 'oe')) COLLATE "C")) STORED;
ALTER TABLE structures DROP COLUMN address_fold;
ALTER TABLE structures ADD COLUMN address_fold text COLLATE "C"
    GENERATED ALWAYS AS (lower((replace(replace(replace(replace(translate(address, 'ÀÂÄÁàâäáÇçÉÈÊËéèêëÎÏÍîïíÔÖÓôöóÙÛÜÚùûüúŸÿÑñ-''’', 'aaaaaaaacceeeeeeeeiiiiiioooooouuuuuuuuyynn   '), 'Æ', 'ae'), 'æ', 'ae'), 'Œ', 'oe'), 'œ', 'oe')) COLLATE "C")) STORED;

CREATE INDEX ix_exercises_last_name_fold ON exercises (last_name_fold, person_id);
CREATE INDEX ix_exercises_first_name_fold ON exercises (first_name_fold, person_id);
CREATE INDEX ix_structures_city_fold ON structures (city_fold);
CREATE INDEX ix_structures_address_fold ON structures (address_fold);
