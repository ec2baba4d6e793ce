-- Keys of the public directory (FHIR API, extracts over HTTP), issued by the operator. Only the
-- SHA-256 of the secret is kept. A key holds no habilitation: it opens the public directory,
-- and the restricted RASS extract when `restricted_extracts` says so.
CREATE TABLE directory_api_keys (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    hash                TEXT NOT NULL,
    name                TEXT NOT NULL,
    restricted_extracts INTEGER NOT NULL CHECK (restricted_extracts IN (0, 1)),
    -- NULL: the server's default rate.
    rate_per_minute     INTEGER CHECK (rate_per_minute > 0),
    created_at          INTEGER NOT NULL,
    revoked_at          INTEGER
) STRICT;

CREATE UNIQUE INDEX uq_directory_api_keys_hash ON directory_api_keys (hash);
