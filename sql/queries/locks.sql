-- name: UpsertLock :exec
INSERT INTO locks (org, name, holder, lease_id, fencing_token, acquired_at_ms, expires_at_ms, metadata, ephemeral, lock_delay_ms)
VALUES (@org, @name, @holder, @lease_id, @fencing_token, @acquired_at_ms, @expires_at_ms, @metadata, @ephemeral, @lock_delay_ms)
ON CONFLICT (org, name) DO UPDATE SET
    holder         = excluded.holder,
    lease_id       = excluded.lease_id,
    fencing_token  = excluded.fencing_token,
    acquired_at_ms = excluded.acquired_at_ms,
    expires_at_ms  = excluded.expires_at_ms,
    metadata       = excluded.metadata,
    ephemeral      = excluded.ephemeral,
    lock_delay_ms  = excluded.lock_delay_ms;

-- name: DeleteLock :exec
DELETE FROM locks WHERE org = @org AND name = @name;

-- name: ListLocksRange :many
-- The locks after one key up to and including another, in key order. Load
-- runs the exported query text itself, one statement per part of the table,
-- converting each row as it is scanned instead of materialising []Lock.
-- Keep the row values free of CAST: with (CAST(@x AS TEXT), ...) SQLite
-- 3.54 seeks on org alone and filters the rest, so a range inside a large
-- org scans that org from its start (sqlc types the bare parameters as
-- strings already).
SELECT org, name, holder, lease_id, fencing_token, acquired_at_ms, expires_at_ms, metadata, ephemeral, lock_delay_ms
FROM locks
WHERE (org, name) > (@after_org, @after_name)
  AND (org, name) <= (@to_org, @to_name)
ORDER BY org, name;

-- name: LockKeyAfter :one
-- The key skip rows past the first one after a key. Load splits the table
-- into parts of exact sizes with it; SQLite steps over the skipped rows
-- without reading their other columns.
SELECT org, name
FROM locks
WHERE (org, name) > (@after_org, @after_name)
ORDER BY org, name
LIMIT 1 OFFSET @skip;

-- name: LastLockKey :one
SELECT org, name FROM locks ORDER BY org DESC, name DESC LIMIT 1;

-- name: CountLocks :one
SELECT CAST(COUNT(*) AS INTEGER) FROM locks;
