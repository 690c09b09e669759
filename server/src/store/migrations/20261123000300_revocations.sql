-- Identity reset (issue 8). Timestamps are Unix milliseconds.

-- One row per former federated peer to tell that the relationship is revoked, filled by
-- an identity reset, drained by a successful flush or a discard. `peer_key` is the
-- lowercased handle (the uniqueness key); `peer_handle` the handle as it was stored.
CREATE TABLE pending_revocations (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    peer_handle TEXT NOT NULL,
    peer_key TEXT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (user_id, peer_key)
);
