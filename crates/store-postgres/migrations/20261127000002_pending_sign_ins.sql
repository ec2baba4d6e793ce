-- Sign-ins started with the identity provider, kept until the browser comes back (minutes).
CREATE TABLE pending_sign_ins (
    state_hash   text PRIMARY KEY,
    browser_hash text NOT NULL,
    payload      text NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);

CREATE INDEX ix_pending_sign_ins_expires ON pending_sign_ins (expires_at);
