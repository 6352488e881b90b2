-- HTTP API: API keys, shared rate-limit counters and the uploads the API handed out.

-- Keys are stored as the SHA-256 of the token. Tokens are 32 random bytes, so a fast hash is
-- enough: nobody can search a 256-bit space, and a deterministic hash allows an indexed lookup.
CREATE TABLE api_keys (
    key_id bigserial PRIMARY KEY,
    name text NOT NULL,
    key_hash bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    -- The first characters of the token, shown by `simtel apikey list` to tell keys apart.
    prefix text NOT NULL,
    -- 'read' allows GET and POST /v1/parse; 'write' also allows deletes, uploads and updates.
    scopes text[] NOT NULL DEFAULT '{read,write}' CHECK (scopes <@ '{read,write}'),
    -- Requests per rate-limit window for this key; NULL means API_RATE_LIMIT_PER_KEY.
    rate_limit integer CHECK (rate_limit >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);
-- A name is unique among the keys in use; a revoked key's name can be given to a new key.
CREATE UNIQUE INDEX api_keys_active_name_idx ON api_keys (name) WHERE revoked_at IS NULL;

-- Fixed-window request counters, one row per identity ('key:<key_id>' or 'addr:<address>'),
-- shared by every instance of the function. UNLOGGED: the counters are worth less than the
-- WAL writes that would protect them, and a crash only resets them.
CREATE UNLOGGED TABLE api_rate_limits (
    identity text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    hits integer NOT NULL
);

-- Upload URLs handed out by POST /v1/uploads, so that GET /v1/uploads/{object} can tell an
-- upload that has not finished yet from an unknown object.
CREATE TABLE api_uploads (
    object_name text NOT NULL,
    bucket text NOT NULL,
    filename text NOT NULL,
    size_bytes bigint,
    key_id bigint REFERENCES api_keys ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (bucket, object_name)
);
