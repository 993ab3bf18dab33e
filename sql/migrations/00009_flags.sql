-- +goose Up
-- Feature flags, one row per org and name (names follow the lock-name
-- rules). percentage is 0..100; version starts at 1 and grows by one per
-- write; updated_by is the user name of the last writer. Times are Unix
-- milliseconds, as everywhere. Flag changes are rare next to lock
-- changes, so Commit writes them with plain statements, not through the
-- change log. Per-org quota overrides for flags and rate limits are rows
-- of the quotas table (quota 'flags' or 'limits'); it needs no change.
CREATE TABLE flags (
    org           TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    enabled       INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    percentage    INTEGER NOT NULL CHECK (percentage BETWEEN 0 AND 100),
    description   TEXT    NOT NULL DEFAULT '',
    version       INTEGER NOT NULL CHECK (version >= 1),
    updated_at_ms INTEGER NOT NULL,
    updated_by    TEXT    NOT NULL,
    PRIMARY KEY (org, name)
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE flags;
