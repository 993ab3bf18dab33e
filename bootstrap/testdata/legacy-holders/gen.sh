#!/usr/bin/env bash
# gen.sh DIR SIGNAL: a database written by the release before the holder change.
set -euo pipefail
dir=$1; sig=$2; port=$3
export OCTOSTORE_STATIC_TOKENS="acme/alice:alice-token-0123456789,acme/bob:bob-token-0123456789ab"
/tmp/octostore-old serve --db "$dir/octostore.db" --addr 127.0.0.1:$port --log-level warn &
pid=$!
for i in $(seq 50); do curl -sf http://127.0.0.1:$port/health >/dev/null && break; sleep 0.1; done
A='Authorization: Bearer alice-token-0123456789'; B='Authorization: Bearer bob-token-0123456789ab'; J='Content-Type: application/json'
u=$(curl -s -X POST http://127.0.0.1:$port/locks/legacy%2Fuser/acquire -H "$A" -H "$J" -d '{"ttl_seconds":3600,"metadata":"old-user"}')
s=$(curl -s -X POST http://127.0.0.1:$port/sessions -H "$B" -H "$J" -d '{"ttl_seconds":300}')
sid=$(echo "$s" | sed -E 's/.*"session_id":"([^"]+)".*/\1/')
e=$(curl -s -X POST http://127.0.0.1:$port/locks/legacy%2Feph/acquire -H "$B" -H "$J" -d "{\"session_id\":\"$sid\",\"ephemeral\":true}")
p=$(curl -s -X POST http://127.0.0.1:$port/locks/legacy%2Fsess/acquire -H "$B" -H "$J" -d "{\"session_id\":\"$sid\",\"ttl_seconds\":3600}")
printf '{"user":%s,\n"session":%s,\n"ephemeral":%s,\n"session_lock":%s}\n' "$u" "$s" "$e" "$p" > "$dir/grants.json"
kill -$sig $pid; wait $pid || true
