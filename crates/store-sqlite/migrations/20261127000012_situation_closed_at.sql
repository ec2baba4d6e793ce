-- A situation closed "at once" (an end date of today or earlier) leaves force from the instant
-- the closing was recorded, not at the end of its last day. That instant gets its own column:
-- it used to be read from `updated_at` once an end reason was recorded, so any later edit of a
-- closed situation (an exercise-name correction) moved it, and a decision asked about an
-- instant between the closing and the edit answered permit. `closed_at` is written by the
-- closing use cases only (`domain::situation::closed_at_after_write`), kept by later edits and
-- cleared when the end date moves into the future (a scheduled departure has none).
ALTER TABLE situations ADD COLUMN closed_at INTEGER
    CHECK (closed_at IS NULL OR end_date IS NOT NULL);

-- The closings recorded so far: those the previous rule counted as at once, i.e. recorded on
-- or after their end date in Europe/Paris (the others are scheduled departures). SQLite has no
-- time zones: Paris is UTC+2 from 01:00 UTC on the last Sunday of March to 01:00 UTC on the
-- last Sunday of October, UTC+1 otherwise.
UPDATE situations
SET closed_at = updated_at
WHERE end_reason IS NOT NULL
  AND end_date IS NOT NULL
  AND end_date <= date(
        updated_at / 1000000, 'unixepoch',
        CASE
            WHEN datetime(updated_at / 1000000, 'unixepoch')
                     >= datetime(date(updated_at / 1000000, 'unixepoch', 'start of year',
                                      '+3 months', 'weekday 0', '-7 days'), '+1 hour')
             AND datetime(updated_at / 1000000, 'unixepoch')
                     < datetime(date(updated_at / 1000000, 'unixepoch', 'start of year',
                                     '+10 months', 'weekday 0', '-7 days'), '+1 hour')
            THEN '+2 hours'
            ELSE '+1 hours'
        END);

-- The decision read stays covered by one index: it reads `closed_at` and no longer
-- `end_reason` nor `updated_at`.
DROP INDEX ix_situations_decision;

CREATE INDEX ix_situations_decision ON situations
    (person_id, id, structure_finess, role_code, start_date, end_date, closed_at);
