-- Device-to-device transfer sessions (issue 17, crypto.md §7 v2): a new device of a signed-in
-- user receives the seed from one that has it. Only public keys, a commitment and ciphertext;
-- each row is bound to the user and to the two sign-in sessions taking part, dies with either
-- session and is deleted after success, on cancel, or 10 minutes after creation.
-- Timestamps are Unix milliseconds.
CREATE TABLE device_transfers (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    receiver_session TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    receiver_commitment TEXT NOT NULL,
    sender_session TEXT REFERENCES sessions(id) ON DELETE CASCADE,
    sender_public TEXT,
    receiver_public TEXT,
    sealed_seed TEXT,
    sender_signature TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX device_transfers_user ON device_transfers (user_id);
CREATE INDEX device_transfers_expiry ON device_transfers (expires_at);
