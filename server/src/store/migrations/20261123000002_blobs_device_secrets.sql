-- Personal ciphertext blobs (the server never sees a key) and per-device wrap secrets.
CREATE TABLE encrypted_user_blobs (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    blob_type TEXT NOT NULL,
    encrypted_blob TEXT NOT NULL,
    km_version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, blob_type)
);

CREATE TABLE device_wrap_secrets (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    rotated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id)
);
