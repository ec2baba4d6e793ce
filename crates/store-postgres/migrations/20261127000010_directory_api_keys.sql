-- Keys of the public directory (FHIR API, extracts over HTTP), issued by the operator. Only the
-- SHA-256 of the secret is kept. A key holds no habilitation: it opens the public directory,
-- and the restricted RASS extract when `restricted_extracts` says so.
CREATE TABLE directory_api_keys (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hash                text NOT NULL,
    name                text NOT NULL,
    restricted_extracts boolean NOT NULL,
    -- NULL: the server's default rate.
    rate_per_minute     integer CHECK (rate_per_minute > 0),
    created_at          timestamptz NOT NULL,
    revoked_at          timestamptz
);

CREATE UNIQUE INDEX uq_directory_api_keys_hash ON directory_api_keys (hash);
