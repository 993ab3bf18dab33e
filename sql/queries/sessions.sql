-- name: UpsertSession :exec
INSERT INTO sessions (id, org, owner, ttl_ms, created_at_ms, expires_at_ms)
VALUES (@id, @org, @owner, @ttl_ms, @created_at_ms, @expires_at_ms)
ON CONFLICT (id) DO UPDATE SET
    org           = excluded.org,
    owner         = excluded.owner,
    ttl_ms        = excluded.ttl_ms,
    created_at_ms = excluded.created_at_ms,
    expires_at_ms = excluded.expires_at_ms;

-- name: DeleteSession :exec
DELETE FROM sessions WHERE id = @id;

-- name: ListSessions :many
SELECT id, org, owner, ttl_ms, created_at_ms, expires_at_ms
FROM sessions
ORDER BY id;
