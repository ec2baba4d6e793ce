-- Outbox delivery: the claimer's lease token (required to confirm or fail a claimed message)
-- and the instant a message was given up on after too many failures (until an operator
-- requeues it).
ALTER TABLE outbox ADD COLUMN lease_token text;
ALTER TABLE outbox ADD COLUMN parked_at timestamptz;

DROP INDEX ix_outbox_due;
CREATE INDEX ix_outbox_due ON outbox (next_attempt_at, id)
    WHERE sent_at IS NULL AND parked_at IS NULL;
