-- Sharing collections (issue 17): each collection holds its content sealed under its own
-- collection key (crypto.md D5, `key_version` N), and a revision every change bumps, which the
-- RESOURCE_SHARE / RESOURCE_UNSHARE messages carry so a recipient's server never lets an older
-- message undo a newer one. `collection_shares` is the server's copy of who it is shared with
-- (for the owner's bookkeeping and to end with a friendship; the owner's client trusts only its
-- sealed list, `owner_encrypted`).
ALTER TABLE collections ADD COLUMN content_encrypted TEXT;
ALTER TABLE collections ADD COLUMN key_version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE collections ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
-- What only the owner reads (sealed under their personal key): who it is shared with and the
-- keys pinned for them, the key version, and a digest of the content. The owner's client trusts
-- these, not the server's share list, so a server cannot add a recipient or roll the key back.
ALTER TABLE collections ADD COLUMN owner_encrypted TEXT;

CREATE TABLE collection_shares (
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    peer_key TEXT NOT NULL,
    recipient_handle TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (collection_id, peer_key)
);
CREATE INDEX collection_shares_user_peer ON collection_shares(user_id, peer_key);

-- The recipient's side: the revision of the newest message applied to the row, and status
-- `revoked` for a share its owner withdrew (kept, content cleared, so a late older share
-- cannot bring it back; counted with pending rows against the per-friend cap).
ALTER TABLE incoming_shares ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
