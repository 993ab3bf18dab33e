-- Config versions. Commit inserts one row per version and trims the
-- key's older rows (the writer decides through which version), and a
-- purge drops every row of a deleted key and raises its org's floor;
-- Load reads the newest row of every key, the size of every kept version
-- and the floors.

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

-- name: PurgeConfigKey :exec
DELETE FROM config_versions WHERE org = @org AND name = @name;

-- name: RaiseConfigFloor :exec
INSERT INTO config_floors (org, version) VALUES (@org, @version)
ON CONFLICT (org) DO UPDATE SET version = MAX(version, excluded.version);

-- name: ConfigFloors :many
SELECT org, version FROM config_floors ORDER BY org;

-- name: ConfigVersionSizes :many
-- The size of a version is its value's bytes: length() of TEXT would
-- count characters. octet_length() reads them off the record's header,
-- not from the value's pages (a cast to BLOB would read every value:
-- 0.1 s per 150 MB at start-up).
SELECT org, name, version, CAST(COALESCE(octet_length(value), 0) AS INTEGER) AS size
FROM config_versions
ORDER BY org, name, version;
