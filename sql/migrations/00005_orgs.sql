-- +goose Up
-- Orgs an admin registered, and the users an admin added to them with their
-- role (owners manage the org's teams and ACLs). Tokens stay in credentials.
CREATE TABLE orgs (
    id            TEXT    NOT NULL PRIMARY KEY,
    created_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE members (
    org         TEXT    NOT NULL,
    user        TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('member', 'owner')),
    added_at_ms INTEGER NOT NULL,
    PRIMARY KEY (org, user)
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE members;
DROP TABLE orgs;
