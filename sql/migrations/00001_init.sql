-- +goose Up
-- Every held lock. A lock that is not held has no row. Times are Unix
-- milliseconds so that expiry comparisons are exact and driver-independent.
CREATE TABLE locks (
    org            TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    holder         TEXT    NOT NULL,
    lease_id       TEXT    NOT NULL,
    fencing_token  INTEGER NOT NULL CHECK (fencing_token > 0),
    acquired_at_ms INTEGER NOT NULL,
    expires_at_ms  INTEGER NOT NULL,
    metadata       TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (org, name)
) STRICT, WITHOUT ROWID;

-- Single-value settings. 'fencing_counter' is the highest fencing token ever
-- issued; it only grows, so tokens stay monotonic across restarts even after
-- the locks that carried them are deleted.
CREATE TABLE meta (
    key   TEXT    NOT NULL PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;

INSERT INTO meta (key, value) VALUES ('fencing_counter', 0);

-- Bearer-token credentials, stored only as SHA-256 hashes.
CREATE TABLE credentials (
    hash          BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    org           TEXT    NOT NULL,
    user          TEXT    NOT NULL,
    admin         INTEGER NOT NULL CHECK (admin IN (0, 1)),
    created_at_ms INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE credentials;
DROP TABLE meta;
DROP TABLE locks;
