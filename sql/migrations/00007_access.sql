-- +goose Up
-- Teams and ACL rules (issue 11). members, acquire and observe are JSON
-- arrays of strings: a team's users, and a rule's principals ("org",
-- "user:<name>", "team:<name>"). prefix is a lock name; the rule covers it
-- and every name below it. Access changes are rare, so Commit writes them
-- with plain statements, not through the change log.
CREATE TABLE teams (
    org           TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    members       TEXT    NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (org, name)
) STRICT;

CREATE TABLE acls (
    org           TEXT    NOT NULL,
    prefix        TEXT    NOT NULL,
    acquire       TEXT    NOT NULL,
    observe       TEXT    NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    updated_by    TEXT    NOT NULL,
    PRIMARY KEY (org, prefix)
) STRICT;

-- The user who created a webhook: its deliveries follow what that user may
-- observe. Webhooks created before have none and see only names every
-- member may observe.
ALTER TABLE webhooks ADD COLUMN owner TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE webhooks DROP COLUMN owner;
DROP TABLE acls;
DROP TABLE teams;
