-- name: InsertCredential :exec
INSERT INTO credentials (hash, org, user, admin, created_at_ms)
VALUES (@hash, @org, @user, @admin, @created_at_ms);

-- ListCredentials returns credentials in the order they were added.
-- name: ListCredentials :many
SELECT hash, org, user, admin, created_at_ms
FROM credentials
ORDER BY rowid;

-- DeleteCredential revokes a stored token.
-- name: DeleteCredential :exec
DELETE FROM credentials WHERE hash = @hash;
