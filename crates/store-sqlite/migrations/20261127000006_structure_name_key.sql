-- The folded name of a structure (the registry's matching key: no case, accents, hyphens or
-- apostrophes), so that a search by name runs in the database instead of in memory. Rows
-- written before this column existed are filled at start by the application.
ALTER TABLE structures ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
