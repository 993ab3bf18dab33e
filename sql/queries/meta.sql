-- name: GetCounter :one
SELECT value FROM meta WHERE key = 'fencing_counter';

-- Ping reads a real table, so a health check also fails when the schema is
-- missing.
-- name: Ping :one
SELECT CAST(1 AS INTEGER) AS ok FROM meta WHERE key = 'fencing_counter';

-- name: GetEventSeq :one
SELECT value FROM meta WHERE key = 'event_seq';

-- name: GetAliveAt :one
SELECT value FROM meta WHERE key = 'alive_ms';

-- RaiseMeta updates the single values of a batch in one statement (one
-- statement each cost a noticeable share of the write path). It raises the
-- fencing counter to @counter and alive_ms to @alive_ms, never lowering
-- either; and when @last_event is not 0 it claims the event seqs
-- @first_event..@last_event: event_seq becomes @last_event if it is below
-- @first_event, and NULL otherwise, which the NOT NULL constraint refuses,
-- failing the statement. event_seq only grows, so it survives the trimming
-- of the events. It returns the three stored values (fewer rows when one is
-- missing).
-- name: RaiseMeta :many
UPDATE meta SET value = CASE key
    WHEN 'fencing_counter' THEN MAX(value, CAST(@counter AS INTEGER))
    WHEN 'alive_ms' THEN MAX(value, CAST(@alive_ms AS INTEGER))
    ELSE CASE
        WHEN CAST(@last_event AS INTEGER) = 0 THEN value
        WHEN value < CAST(@first_event AS INTEGER) THEN CAST(@last_event AS INTEGER)
    END
END
WHERE key IN ('fencing_counter', 'alive_ms', 'event_seq')
RETURNING key, value;
