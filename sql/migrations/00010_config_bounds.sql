-- +goose Up
-- Bounds on the config store. When a deletion takes an org past its
-- config_keys limit of deleted keys, the key deleted longest ago is
-- purged: all its config_versions rows go. So that a key written again
-- never reuses a version it had (a stale If-Match must not match), each
-- org keeps a version floor, the highest version of any key it purged; a
-- key with no rows starts at floor + 1. Floors only ever rise; an org
-- that never purged a key has no row (floor 0). The history bytes budget
-- needs no table: start-up reads the size of every kept version.
CREATE TABLE config_floors (
    org     TEXT    NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL CHECK (version > 0)
) STRICT;

-- +goose Down
DROP TABLE config_floors;
