-- Webhooks and their delivery records. Commit runs these inside its
-- transaction, one statement per change: webhook changes are rare.

-- name: UpsertWebhook :exec
INSERT INTO webhooks (id, org, url, events, prefix, secret, created_at_ms, cursor, owner)
VALUES (@id, @org, @url, @events, @prefix, @secret, @created_at_ms, @cursor, @owner)
ON CONFLICT (id) DO UPDATE SET
    org           = excluded.org,
    url           = excluded.url,
    events        = excluded.events,
    prefix        = excluded.prefix,
    secret        = excluded.secret,
    created_at_ms = excluded.created_at_ms,
    cursor        = excluded.cursor,
    owner         = excluded.owner;

-- name: DeleteWebhook :exec
DELETE FROM webhooks WHERE id = @id;

-- name: DeleteWebhookDeliveries :exec
DELETE FROM webhook_deliveries WHERE webhook_id = @webhook_id;

-- AdvanceWebhook raises the cursor of webhook @id to @cursor, never
-- lowering it; an unknown id changes nothing.
-- name: AdvanceWebhook :exec
UPDATE webhooks SET cursor = @cursor WHERE id = @id AND cursor < @cursor;

-- CountWebhook returns 1 if webhook @id is stored, 0 if not.
-- name: CountWebhook :one
SELECT count(*) FROM webhooks WHERE id = @id;

-- name: UpsertDelivery :exec
INSERT INTO webhook_deliveries (webhook_id, seq, kind, attempts, state, last_status, last_error, next_at_ms, updated_at_ms)
VALUES (@webhook_id, @seq, @kind, @attempts, @state, @last_status, @last_error, @next_at_ms, @updated_at_ms)
ON CONFLICT (webhook_id, seq) DO UPDATE SET
    kind          = excluded.kind,
    attempts      = excluded.attempts,
    state         = excluded.state,
    last_status   = excluded.last_status,
    last_error    = excluded.last_error,
    next_at_ms    = excluded.next_at_ms,
    updated_at_ms = excluded.updated_at_ms;

-- TrimDeliveries keeps the @keep newest records (by seq) of webhook
-- @webhook_id: it deletes those at or below the seq of the (@keep+1)th
-- newest, if there is one. Both scans walk the primary key.
-- name: TrimDeliveries :exec
DELETE FROM webhook_deliveries
WHERE webhook_deliveries.webhook_id = @webhook_id
  AND webhook_deliveries.seq <= (SELECT d.seq FROM webhook_deliveries AS d
              WHERE d.webhook_id = @webhook_id
              ORDER BY d.seq DESC
              LIMIT 1 OFFSET @keep);

-- ListWebhooks returns every webhook in the order Load returns them.
-- name: ListWebhooks :many
SELECT id, org, url, events, prefix, secret, created_at_ms, cursor, owner
FROM webhooks
ORDER BY org, created_at_ms, id;

-- ListDeliveries returns every delivery record by webhook and seq.
-- name: ListDeliveries :many
SELECT webhook_id, seq, kind, attempts, state, last_status, last_error, next_at_ms, updated_at_ms
FROM webhook_deliveries
ORDER BY webhook_id, seq;
