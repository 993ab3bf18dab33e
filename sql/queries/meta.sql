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

-- name: GetEventSeq :one
SELECT value FROM meta WHERE key = 'event_seq';

-- ClaimEventSeqs checks and raises in one statement: it sets the highest
-- event seq ever stored to @last only if it is below @first, the lowest seq
-- of the batch, and returns no row otherwise (or if the row is missing).
-- The value only grows, so it survives the trimming of the events.
-- name: ClaimEventSeqs :one
UPDATE meta SET value = CAST(@last AS INTEGER)
WHERE key = 'event_seq' AND value < CAST(@first AS INTEGER)
RETURNING value;

-- name: GetAliveAt :one
SELECT value FROM meta WHERE key = 'alive_ms';

-- RaiseAliveAt never moves the last-known-alive time backwards and returns
-- the stored value.
-- name: RaiseAliveAt :one
UPDATE meta SET value = MAX(value, CAST(@v AS INTEGER))
WHERE key = 'alive_ms'
RETURNING value;
