-- Incoming shares are pending until their user accepts them (issue 17): `/sharing/incoming*`.
-- A declined share is deleted, so it leaves no row.
ALTER TABLE incoming_shares ADD COLUMN status TEXT NOT NULL DEFAULT 'pending';
CREATE INDEX incoming_shares_resource ON incoming_shares(user_id, peer_key, resource_type, resource_id);
