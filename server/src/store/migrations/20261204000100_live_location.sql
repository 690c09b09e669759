-- Live location and the push channel (issue 16). Timestamps are Unix milliseconds.

-- With whom a user shares their live location: a row is "on" until expires_at (NULL: until
-- turned off). Settings only; the coordinates never reach a server in the clear.
CREATE TABLE location_sharing (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    peer_key TEXT NOT NULL,
    friend_handle TEXT NOT NULL,
    expires_at BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, peer_key)
);
CREATE INDEX location_sharing_expires_at ON location_sharing(expires_at);

-- A received location may carry the sender's expiry; a stop is stored as a row with an
-- empty encrypted_location, so an older update that arrives late cannot bring it back.
ALTER TABLE friend_locations ADD COLUMN expires_at BIGINT;

-- What the push channel (`GET /events`) replays: per user, numbered without gaps by
-- user_event_heads (which outlives pruning, so numbers are never reused).
-- `topic`: events that only the newest of counts (a friend's position) replace the older
-- ones of their topic, so the log keeps no trail of positions.
CREATE TABLE user_events (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    topic TEXT,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, seq)
);
CREATE INDEX user_events_created_at ON user_events(created_at);
CREATE INDEX user_events_topic ON user_events(user_id, topic);

CREATE TABLE user_event_heads (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL
);
