-- The inbox counts a friend's shares not accepted (pending or withdrawn) before each batch of
-- shares decides whether to prune, and a prune keeps the newest of them (issue 18). A partial
-- index over exactly those rows, in the prune's order, serves both from the index alone
-- (accepted shares, which are never pruned, are not in it; SQLite reads `status` from the
-- index too only when it is a column of it).
CREATE INDEX incoming_shares_unaccepted
    ON incoming_shares(user_id, peer_key, received_at, id, status) WHERE status <> 'accepted';
