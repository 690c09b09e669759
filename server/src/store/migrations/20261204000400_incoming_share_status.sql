-- Incoming shares (issue 17): pending until their user accepts them (`/sharing/incoming*`), and
-- one row per (user, friend, resource): a friend sharing the same resource again replaces its
-- row (the inbox upserts), so repeats cannot grow the table. A declined share is deleted.
ALTER TABLE incoming_shares ADD COLUMN status TEXT NOT NULL DEFAULT 'pending';
DELETE FROM incoming_shares WHERE EXISTS (
    SELECT 1 FROM incoming_shares newer
    WHERE newer.user_id = incoming_shares.user_id
      AND newer.peer_key = incoming_shares.peer_key
      AND newer.resource_type = incoming_shares.resource_type
      AND newer.resource_id = incoming_shares.resource_id
      AND (newer.received_at > incoming_shares.received_at
           OR (newer.received_at = incoming_shares.received_at AND newer.id > incoming_shares.id))
);
DROP INDEX incoming_shares_user;
CREATE UNIQUE INDEX incoming_shares_resource
    ON incoming_shares(user_id, peer_key, resource_type, resource_id);
