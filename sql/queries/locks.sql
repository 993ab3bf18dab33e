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

-- name: ListLocksPage :many
-- Keyset pagination keeps start-up memory bounded: Load reads the table a
-- page at a time instead of materialising every row twice.
SELECT org, name, holder, lease_id, fencing_token, acquired_at_ms, expires_at_ms, metadata, ephemeral, lock_delay_ms
FROM locks
WHERE (org, name) > (CAST(@after_org AS TEXT), CAST(@after_name AS TEXT))
ORDER BY org, name
LIMIT @page_size;

-- name: CountLocks :one
SELECT CAST(COUNT(*) AS INTEGER) FROM locks;
