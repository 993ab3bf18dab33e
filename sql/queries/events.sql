-- name: InsertEvent :exec
INSERT INTO events (seq, org, kind, name, fencing_token, at_ms)
VALUES (@seq, @org, @kind, @name, @fencing_token, @at_ms);

-- name: DeleteEventsThrough :exec
DELETE FROM events WHERE seq <= @through;

-- MaxEventSeq returns the highest seq still stored (0 if none); Load checks
-- it against the 'event_seq' meta row.
-- name: MaxEventSeq :one
SELECT CAST(COALESCE(MAX(seq), 0) AS INTEGER) FROM events;
