-- Sign-ins started with the identity provider, kept until the browser comes back (minutes).
CREATE TABLE pending_sign_ins (
    state_hash   TEXT PRIMARY KEY,
    browser_hash TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX ix_pending_sign_ins_expires ON pending_sign_ins (expires_at);
