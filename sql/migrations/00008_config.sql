-- +goose Up
-- The config store: every kept version of every config key. A version is
-- a value (value is its compact JSON text) or the key's deletion (deleted
-- = 1, value NULL). The newest version of a key is its current state, so
-- start-up reads one row per key; older rows are the history that
-- GET /config/{key}/history and ?version= read. Commit keeps the newest
-- config.history versions of a key and deletes older ones in the same
-- transaction. Times are Unix milliseconds; updated_by is the user name
-- (without its org). Values can be large, so this is a rowid table: the
-- primary-key index stays small and the values sit in the table's pages.
CREATE TABLE config_versions (
    org           TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    version       INTEGER NOT NULL CHECK (version > 0),
    value         TEXT,
    description   TEXT    NOT NULL DEFAULT '',
    deleted       INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    updated_at_ms INTEGER NOT NULL,
    updated_by    TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (org, name, version),
    CHECK ((deleted = 1) = (value IS NULL))
) STRICT;

-- +goose Down
DROP TABLE config_versions;
