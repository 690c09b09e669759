-- Which replica runs the periodic clean-up this round (issue 19): one row per job, taken by
-- whoever moves `until` forward first once it has passed. Timestamps are Unix milliseconds.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until BIGINT NOT NULL
);
INSERT INTO leases (name, holder, until) VALUES ('housekeeping', '', 0);
