-- The minimal collection store the master-key commit rewrites, and passkey-PRF key slots.
CREATE TABLE collections (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    metadata_encrypted TEXT,
    metadata_key_version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX collections_user_id ON collections(user_id);

CREATE TABLE wrapped_master_keys (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL REFERENCES passkeys(id) ON DELETE CASCADE,
    wrapped_km TEXT NOT NULL,
    wrap_algo TEXT NOT NULL,
    slot_signature TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    PRIMARY KEY (user_id, credential_id)
);
