-- Federation (issue 7). Timestamps are Unix milliseconds.

-- Peer servers: the TOFU pin and the manifest cache, keyed by the host we fetched
-- (lowercased host[:port]), never by what a manifest claims about itself.
CREATE TABLE federation_peers (
    host TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    manifest TEXT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    fetched_at BIGINT NOT NULL
);

-- Transport nonces per sending server, recorded only after the server signature verified.
CREATE TABLE federation_nonces (
    sender TEXT NOT NULL,
    nonce TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (sender, nonce)
);
CREATE INDEX federation_nonces_created_at ON federation_nonces(created_at);

-- User-level (from, nonce) of v2 messages: a message is processed once, however it is
-- relayed or retried. Kept at least as long as the delivery queue's maximum age.
CREATE TABLE federation_message_nonces (
    from_handle TEXT NOT NULL,
    nonce TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (from_handle, nonce)
);
CREATE INDEX federation_message_nonces_created_at ON federation_message_nonces(created_at);

-- Validated remote user documents (cache with a TTL; re-fetched on a signature failure).
CREATE TABLE remote_users (
    handle_key TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    fetched_at BIGINT NOT NULL
);

-- One row per invitation and side. `peer_key` is the other side's handle, lowercased.
-- status: pending -> accepted | rejected | cancelled | expired (terminal).
CREATE TABLE friend_invitations (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    direction TEXT NOT NULL,
    from_handle TEXT NOT NULL,
    to_handle TEXT NOT NULL,
    peer_key TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX friend_invitations_user ON friend_invitations(user_id, status);
CREATE UNIQUE INDEX friend_invitations_one_pending
    ON friend_invitations(user_id, peer_key, direction) WHERE status = 'pending';

CREATE TABLE friendships (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    friend_handle TEXT NOT NULL,
    peer_key TEXT NOT NULL,
    signing_key TEXT NOT NULL,
    encryption_key TEXT,
    name TEXT,
    established_at BIGINT NOT NULL,
    UNIQUE (user_id, peer_key)
);

-- The newest encrypted location each friend sent (ciphertext only; sent_at monotonic).
CREATE TABLE friend_locations (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    peer_key TEXT NOT NULL,
    from_handle TEXT NOT NULL,
    encrypted_location TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    envelope TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, peer_key)
);

-- Resources friends shared (ciphertext only).
CREATE TABLE incoming_shares (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    peer_key TEXT NOT NULL,
    from_handle TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    encrypted_data TEXT NOT NULL,
    data_nonce TEXT NOT NULL,
    role TEXT NOT NULL,
    envelope TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX incoming_shares_user ON incoming_shares(user_id, peer_key);

-- Location requests friends made (the app answers with a LOCATION_UPDATE).
CREATE TABLE location_requests (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    peer_key TEXT NOT NULL,
    from_handle TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, peer_key)
);

-- Durable outbound queue. status: pending -> delivered | failed.
CREATE TABLE federation_outbox (
    id TEXT PRIMARY KEY,
    user_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    message_type TEXT NOT NULL,
    to_handle TEXT NOT NULL,
    peer_host TEXT NOT NULL,
    body TEXT NOT NULL,
    invitation_id TEXT,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX federation_outbox_due ON federation_outbox(status, next_attempt_at);
CREATE INDEX federation_outbox_user ON federation_outbox(user_id, created_at);
