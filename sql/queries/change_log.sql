-- AppendChanges stores the lock and session changes of one batch as one
-- row and returns its seq: one above the last row's, and at least base
-- (rows written by earlier builds are numbered below it; see
-- adapters/sqlite/changelog.go).
-- name: AppendChanges :one
INSERT INTO change_log (seq, payload)
SELECT max(COALESCE(MAX(seq), 0) + 1, CAST(@base AS INTEGER)), CAST(@payload AS BLOB) FROM change_log
RETURNING seq;

-- name: ListChanges :many
SELECT seq, payload FROM change_log ORDER BY seq;

-- name: DeleteChangesThrough :exec
DELETE FROM change_log WHERE seq <= @through;
