-- AppendChanges stores the lock and session changes of one batch as one
-- row and returns its seq: one above the last row's, and at least base
-- (rows written by earlier builds are numbered below it; see
-- adapters/sqlite/changelog.go). A subquery in VALUES, because INSERT ...
-- SELECT from the table it inserts into copies the result through a
-- temporary table first (about 1.5 us more per commit).
-- name: AppendChanges :one
INSERT INTO change_log (seq, payload)
VALUES ((SELECT max(COALESCE(MAX(seq), 0) + 1, CAST(@base AS INTEGER)) FROM change_log), CAST(@payload AS BLOB))
RETURNING seq;

-- name: ListChanges :many
SELECT seq, payload FROM change_log ORDER BY seq;

-- name: DeleteChangesThrough :exec
DELETE FROM change_log WHERE seq <= @through;
