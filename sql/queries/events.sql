-- InsertEventBatch stores every event of a batch as one row: one row per
-- event would cost a large share of the write path.
-- name: InsertEventBatch :exec
INSERT INTO event_batches (first_seq, last_seq, events) VALUES (@first_seq, @last_seq, @events);

-- DeleteEventsThrough trims the outbox: a batch row goes once every event
-- in it is at or below @through. The first_seq bound lets SQLite walk the
-- primary key instead of scanning the table.
-- name: DeleteEventsThrough :exec
DELETE FROM event_batches WHERE first_seq <= @through AND last_seq <= @through;

-- MaxEventSeq returns the highest seq still stored (0 if none); Load checks
-- it against the 'event_seq' meta row.
-- name: MaxEventSeq :one
SELECT CAST(COALESCE(MAX(last_seq), 0) AS INTEGER) FROM event_batches;
