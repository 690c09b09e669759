-- The inbox counts a friend's shares not accepted (pending or withdrawn) before each batch of
-- shares decides whether to prune (issue 18): with the status in the index the count reads the
-- index alone, ~200 entries at most, instead of each row.
CREATE INDEX incoming_shares_status ON incoming_shares(user_id, peer_key, status);
