-- Config versions. Commit inserts one row per version and trims the
-- key's older rows; Load reads the newest row of every key.

-- name: InsertConfigVersion :exec
INSERT INTO config_versions (org, name, version, value, description, deleted, updated_at_ms, updated_by)
VALUES (@org, @name, @version, @value, @description, @deleted, @updated_at_ms, @updated_by);

-- name: NewestConfigVersion :one
SELECT CAST(COALESCE(MAX(version), 0) AS INTEGER) AS version
FROM config_versions WHERE org = @org AND name = @name;

-- name: TrimConfigVersions :exec
DELETE FROM config_versions WHERE org = @org AND name = @name AND version <= @through;

-- name: CurrentConfigs :many
SELECT c.org, c.name, c.version, c.value, c.description, c.deleted, c.updated_at_ms, c.updated_by
FROM config_versions c
WHERE c.version = (SELECT MAX(v.version) FROM config_versions v WHERE v.org = c.org AND v.name = c.name)
ORDER BY c.org, c.name;

-- name: ConfigHistory :many
SELECT org, name, version, value, description, deleted, updated_at_ms, updated_by
FROM config_versions
WHERE org = @org AND name = @name AND version < @before
ORDER BY version DESC
LIMIT @max_rows;
