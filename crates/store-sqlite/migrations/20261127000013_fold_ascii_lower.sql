-- PostgreSQL computes its folded search columns again under the "C" collation, so that
-- lower() changes ASCII letters only, like the store's `fold_text`. SQLite's lower() already
-- does: nothing to change here; the migration exists so that both backends share one history.
SELECT 1;
