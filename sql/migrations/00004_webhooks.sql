-- +goose Up
-- Webhook subscriptions. events is a JSON array of event patterns
-- ("lock.acquired", "lock.*", "*"); prefix is the string form that
-- domain.ParsePrefix reads ('' selects every name, a trailing '/' only the
-- names below it); secret signs deliveries ('' for none). cursor is the
-- event seq through which every event has been handled for the webhook;
-- it only grows, except when the webhook is saved again. Times are Unix
-- milliseconds, as everywhere. Webhook changes are rare, so Commit writes
-- them with plain statements, not through the change log.
CREATE TABLE webhooks (
    id            TEXT    NOT NULL PRIMARY KEY,
    org           TEXT    NOT NULL,
    url           TEXT    NOT NULL,
    events        TEXT    NOT NULL,
    prefix        TEXT    NOT NULL DEFAULT '',
    secret        TEXT    NOT NULL DEFAULT '',
    created_at_ms INTEGER NOT NULL,
    cursor        INTEGER NOT NULL DEFAULT 0 CHECK (cursor >= 0)
) STRICT;

-- The record of one event's delivery to one webhook, replaced after each
-- attempt. The adapter keeps the newest 100 (by seq) per webhook and
-- deletes a webhook's records with it; no foreign key ties them, because a
-- record for a webhook deleted earlier in the same batch is dropped, not
-- refused.
CREATE TABLE webhook_deliveries (
    webhook_id    TEXT    NOT NULL,
    seq           INTEGER NOT NULL CHECK (seq > 0),
    kind          TEXT    NOT NULL,
    attempts      INTEGER NOT NULL,
    state         TEXT    NOT NULL,
    last_status   INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT    NOT NULL DEFAULT '',
    next_at_ms    INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (webhook_id, seq)
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
