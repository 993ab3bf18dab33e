-- +goose Up
-- The change log: one row per committed batch that saved or deleted locks or
-- sessions, holding those changes in order (a compact binary encoding the
-- SQLite adapter writes and reads; see adapters/sqlite/changelog.go). A
-- commit appends one row instead of running one statement per changed row;
-- the adapter folds the log into the locks and sessions tables (coalescing
-- the changes per key, last write wins) and deletes the folded rows in one
-- transaction, once the log is long enough and at a clean close. The state
-- is the tables with every log row replayed on top, in seq order.
CREATE TABLE change_log (
    seq     INTEGER PRIMARY KEY,
    payload BLOB    NOT NULL
) STRICT;

-- The event outbox, one row per committed batch that recorded events: a JSON
-- array of {"seq","org","kind","name","token","at_ms"} objects in seq order,
-- from first_seq to last_seq. One row per batch instead of one per event
-- keeps the write path to a single insert; json_each reads it back.
CREATE TABLE event_batches (
    first_seq INTEGER PRIMARY KEY,
    last_seq  INTEGER NOT NULL CHECK (last_seq >= first_seq),
    events    TEXT    NOT NULL
) STRICT;

INSERT INTO event_batches (first_seq, last_seq, events)
SELECT seq, seq, json_array(json_object('seq', seq, 'org', org, 'kind', kind, 'name', name,
                                        'token', fencing_token, 'at_ms', at_ms))
FROM events ORDER BY seq;

DROP TABLE events;

-- +goose Down
-- The change-log rows are changes not yet in the locks and sessions tables.
-- A cleanly closed database has none, and DB.MigrateDown folds them before
-- rolling this migration back; a bare goose down after a crash would lose
-- them, so open and close the database with this build first.
CREATE TABLE events (
    seq           INTEGER PRIMARY KEY,
    org           TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    name          TEXT    NOT NULL DEFAULT '',
    fencing_token INTEGER NOT NULL DEFAULT 0,
    at_ms         INTEGER NOT NULL
) STRICT;

INSERT INTO events (seq, org, kind, name, fencing_token, at_ms)
SELECT json_extract(e.value, '$.seq'), json_extract(e.value, '$.org'), json_extract(e.value, '$.kind'),
       json_extract(e.value, '$.name'), json_extract(e.value, '$.token'), json_extract(e.value, '$.at_ms')
FROM event_batches AS b, json_each(b.events) AS e
ORDER BY b.first_seq;

DROP TABLE event_batches;
DROP TABLE change_log;
