-- name: GetCounter :one
SELECT value FROM meta WHERE key = 'fencing_counter';

-- RaiseCounter never lowers the counter and returns the stored value, so the
-- caller can check every token it saved against it.
-- name: RaiseCounter :one
UPDATE meta SET value = MAX(value, CAST(@v AS INTEGER))
WHERE key = 'fencing_counter'
RETURNING value;

-- Ping reads a real table, so a health check also fails when the schema is
-- missing.
-- name: Ping :one
SELECT CAST(1 AS INTEGER) AS ok FROM meta WHERE key = 'fencing_counter';
