-- name: InsertOrg :exec
INSERT INTO orgs (id, created_at_ms) VALUES (@id, @created_at_ms);

-- name: ListOrgs :many
SELECT id, created_at_ms FROM orgs ORDER BY id;

-- name: UpsertMember :exec
INSERT INTO members (org, user, role, added_at_ms) VALUES (@org, @user, @role, @added_at_ms)
ON CONFLICT (org, user) DO UPDATE SET role = excluded.role;

-- name: ListMembers :many
SELECT org, user, role, added_at_ms FROM members ORDER BY org, user;
