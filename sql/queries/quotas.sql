-- Per-org quota overrides. Commit replaces an org's rows as a whole.

-- name: DeleteOrgQuotas :exec
DELETE FROM quotas WHERE org = @org;

-- name: InsertQuota :exec
INSERT INTO quotas (org, quota, quota_limit) VALUES (@org, @quota, @quota_limit);

-- name: ListQuotas :many
SELECT org, quota, quota_limit FROM quotas ORDER BY org, quota;
