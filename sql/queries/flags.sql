-- Feature flags. Commit runs these inside its transaction, one statement
-- per change: flag changes are rare.

-- name: UpsertFlag :exec
INSERT INTO flags (org, name, enabled, percentage, description, version, updated_at_ms, updated_by)
VALUES (@org, @name, @enabled, @percentage, @description, @version, @updated_at_ms, @updated_by)
ON CONFLICT (org, name) DO UPDATE SET
    enabled       = excluded.enabled,
    percentage    = excluded.percentage,
    description   = excluded.description,
    version       = excluded.version,
    updated_at_ms = excluded.updated_at_ms,
    updated_by    = excluded.updated_by;

-- name: DeleteFlag :exec
DELETE FROM flags WHERE org = @org AND name = @name;

-- ListFlags returns every flag by org and name.
-- name: ListFlags :many
SELECT org, name, enabled, percentage, description, version, updated_at_ms, updated_by
FROM flags
ORDER BY org, name;
