-- +goose Up
-- A lock record may outlive its lease: after a lock is freed without an
-- explicit release it stays for its lock delay. An ephemeral lock lives as
-- long as its holder session ("session:<id>"); no foreign key ties the two,
-- because the session may be deleted in the same batch that orphans the lock.
ALTER TABLE locks ADD COLUMN ephemeral INTEGER NOT NULL DEFAULT 0 CHECK (ephemeral IN (0, 1));
ALTER TABLE locks ADD COLUMN lock_delay_ms INTEGER NOT NULL DEFAULT 0;

-- Open sessions. Times are Unix milliseconds, as in locks.
CREATE TABLE sessions (
    id            TEXT    PRIMARY KEY,
    org           TEXT    NOT NULL,
    owner         TEXT    NOT NULL,
    ttl_ms        INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
) STRICT;

-- The event outbox that watchers and webhooks read. The application assigns
-- seq (it never repeats), so this is not an AUTOINCREMENT column; trimming
-- deletes the oldest rows.
CREATE TABLE events (
    seq           INTEGER PRIMARY KEY,
    org           TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    name          TEXT    NOT NULL DEFAULT '',
    fencing_token INTEGER NOT NULL DEFAULT 0,
    at_ms         INTEGER NOT NULL
) STRICT;

-- 'event_seq' is the highest event seq ever stored; like the fencing counter
-- it only grows, so it survives the trimming of every event. 'alive_ms' is
-- the last time (Unix ms) the server was known alive; 0 means never.
INSERT INTO meta (key, value) VALUES ('event_seq', 0), ('alive_ms', 0);

-- +goose Down
DELETE FROM meta WHERE key IN ('event_seq', 'alive_ms');
DROP TABLE events;
DROP TABLE sessions;
ALTER TABLE locks DROP COLUMN lock_delay_ms;
ALTER TABLE locks DROP COLUMN ephemeral;
