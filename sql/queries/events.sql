-- name: DeleteEventsThrough :exec
DELETE FROM events WHERE seq <= @through;

-- MaxEventSeq returns the highest seq still stored (0 if none); Load checks
-- it against the 'event_seq' meta row.
-- name: MaxEventSeq :one
SELECT CAST(COALESCE(MAX(seq), 0) AS INTEGER) FROM events;

-- InsertEvents stores every event of a batch in one statement: one
-- statement per event would cost a quarter of the write path's throughput.
-- @events is a JSON array of {"seq","org","kind","name","token","at_ms"}.
-- name: InsertEvents :exec
INSERT INTO events (seq, org, kind, name, fencing_token, at_ms)
SELECT json_extract(e.value, '$.seq'), json_extract(e.value, '$.org'), json_extract(e.value, '$.kind'),
       json_extract(e.value, '$.name'), json_extract(e.value, '$.token'), json_extract(e.value, '$.at_ms')
FROM json_each(CAST(@events AS TEXT)) AS e;
