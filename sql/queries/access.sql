-- Teams and ACL rules. Commit runs these inside its transaction, one
-- statement per change: access changes are rare.

-- name: UpsertTeam :exec
INSERT INTO teams (org, name, members, updated_at_ms) VALUES (@org, @name, @members, @updated_at_ms)
ON CONFLICT (org, name) DO UPDATE SET members = excluded.members, updated_at_ms = excluded.updated_at_ms;

-- name: DeleteTeam :exec
DELETE FROM teams WHERE org = @org AND name = @name;

-- name: ListTeams :many
SELECT org, name, members, updated_at_ms FROM teams ORDER BY org, name;

-- name: UpsertACL :exec
INSERT INTO acls (org, prefix, acquire, observe, updated_at_ms, updated_by)
VALUES (@org, @prefix, @acquire, @observe, @updated_at_ms, @updated_by)
ON CONFLICT (org, prefix) DO UPDATE SET
    acquire       = excluded.acquire,
    observe       = excluded.observe,
    updated_at_ms = excluded.updated_at_ms,
    updated_by    = excluded.updated_by;

-- name: DeleteACL :exec
DELETE FROM acls WHERE org = @org AND prefix = @prefix;

-- name: ListACLs :many
SELECT org, prefix, acquire, observe, updated_at_ms, updated_by FROM acls ORDER BY org, prefix;
