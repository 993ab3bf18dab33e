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

-- EventBatchesAfter returns the batch rows holding events above @after, in
-- seq order: the one that contains @after+1 (found through the primary key)
-- and those after it.
-- name: EventBatchesAfter :many
SELECT first_seq, last_seq, events FROM event_batches
WHERE first_seq >= COALESCE((SELECT MAX(b.first_seq) FROM event_batches AS b WHERE b.first_seq <= @after), 0)
  AND last_seq > @after
ORDER BY first_seq
LIMIT @max_rows;
