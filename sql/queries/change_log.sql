-- AppendChanges stores the lock and session changes of one batch as one
-- row and returns its seq. Folding deletes every row, so the seq of a new
-- row is the number of rows in the log.
-- name: AppendChanges :one
INSERT INTO change_log (payload) VALUES (@payload)
RETURNING seq;

-- name: ListChanges :many
SELECT seq, payload FROM change_log ORDER BY seq;

-- name: DeleteChangesThrough :exec
DELETE FROM change_log WHERE seq <= @through;
