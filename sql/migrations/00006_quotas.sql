-- +goose Up
-- Per-org quota overrides: one row per org and quota that does not follow
-- the server-wide default (set by PUT /admin/orgs/{org}/quotas). quota is
-- one of locks, sessions, waiters, webhooks, watch_streams. Overrides are
-- rare, so Commit writes them with plain statements, not through the
-- change log.
CREATE TABLE quotas (
    org         TEXT    NOT NULL,
    quota       TEXT    NOT NULL,
    quota_limit INTEGER NOT NULL CHECK (quota_limit >= 0),
    PRIMARY KEY (org, quota)
) STRICT;

-- +goose Down
DROP TABLE quotas;
