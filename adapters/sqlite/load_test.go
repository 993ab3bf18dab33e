package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/sqlite"
	"github.com/octostore/octostore/domain"
)

// TestLoadRefusesDoctoredDatabase edits a valid database behind the
// adapter's back and requires Load to fail, with an internal error, instead
// of returning a snapshot the application would trust.
func TestLoadRefusesDoctoredDatabase(t *testing.T) {
	for _, tc := range []struct {
		name, sql, want string
		inLog           bool // doctor the batch while it is still in the change log, not folded
	}{
		{"token above counter", `UPDATE locks SET fencing_token = 5, lease_id = 'L5-x'`, "above the fencing counter", false},
		{"counter lowered", `UPDATE meta SET value = 1 WHERE key = 'fencing_counter'`, "above the fencing counter", false},
		{"negative counter", `UPDATE meta SET value = -1 WHERE key = 'fencing_counter'`, "negative", false},
		{"counter row missing", `DELETE FROM meta`, "fencing_counter row is missing", false},
		{"event seq lowered", `UPDATE meta SET value = 2 WHERE key = 'event_seq'`, "above the event_seq", false},
		{"event seq row missing", `DELETE FROM meta WHERE key = 'event_seq'`, "event_seq row is missing", false},
		{"negative alive time", `UPDATE meta SET value = -5 WHERE key = 'alive_ms'`, "negative", false},
		{"alive row missing", `DELETE FROM meta WHERE key = 'alive_ms'`, "alive_ms row is missing", false},
		{"negative lock delay", `UPDATE locks SET lock_delay_ms = -1`, "lock delay", false},
		{"lock delay too long", `UPDATE locks SET lock_delay_ms = 60001`, "lock delay", false},
		{"ephemeral without session", `UPDATE locks SET ephemeral = 1, holder = 'user:alice'`, "not a session", false},
		{"session id", `UPDATE sessions SET id = ''`, "session id is empty", false},
		{"session org", `UPDATE sessions SET org = 'a/b'`, "session org", false},
		{"session owner", `UPDATE sessions SET owner = ''`, "owner is empty", false},
		{"session ttl", `UPDATE sessions SET ttl_ms = 0`, "ttl", false},
		{"session ttl overflow", `UPDATE sessions SET ttl_ms = 9223372036854775807`, "ttl", false},
		{"sessions table dropped", `DROP TABLE sessions`, "no such table", false},
		{"event table dropped", `DROP TABLE event_batches`, "no such table", false},
		{"change log dropped", `DROP TABLE change_log`, "no such table", false},
		{"change log format", `UPDATE change_log SET payload = x'09'`, "unknown payload format", true},
		{"change log truncated", `UPDATE change_log SET payload = substr(payload, 1, 20)`, "the row says", true},
		{"change log flipped bit", `UPDATE change_log SET payload = CAST(substr(payload, 1, 9) || x'00' || substr(payload, 11) AS BLOB)`, "checksum mismatch", true},
		{"change log format 1 from this build", `UPDATE change_log SET payload = CAST(x'01' || substr(payload, 6, length(payload) - 9) AS BLOB)`, "must be format 2", true},
		{"change log earlier build truncated", `UPDATE change_log SET seq = 1, payload = CAST(x'01' || substr(payload, 6, 15) AS BLOB)`, "truncated or malformed", true},
		{"change log earlier build unknown op", `UPDATE change_log SET seq = 1, payload = x'017a'`, "unknown op", true},
		{"change log checksummed invalid name", fmt.Sprintf(`UPDATE change_log SET payload = x'%x'`,
			sqlite.LogPayload(domain.LockSaved{Lock: testLock("acme", "a//b", 2)})), "invalid", true},
		{"change log checksummed empty holder", fmt.Sprintf(`UPDATE change_log SET payload = x'%x'`,
			sqlite.LogPayload(domain.LockSaved{Lock: domain.Lock{Key: domain.LockKey{Org: "acme", Name: "x"}, Lease: domain.NewLeaseID(2, "x"), Token: 2}})), "holder is empty", true},
		{"logged token above counter", `UPDATE meta SET value = 1 WHERE key = 'fencing_counter'`, "above the fencing counter", true},
		{"invalid name", `UPDATE locks SET name = 'a//b'`, "invalid", false},
		{"invalid org", `UPDATE locks SET org = 'ac me'`, "org", false},
		{"lease of another token", `UPDATE locks SET lease_id = 'L3-x'`, "does not embed", false},
		{"lease not ours", `UPDATE locks SET lease_id = 'lease-7'`, "does not embed", false},
		{"empty holder", `UPDATE locks SET holder = ''`, "holder is empty", false},
		{"credential org", `UPDATE credentials SET org = 'a/b'`, "credential", false},
		{"credential user", `UPDATE credentials SET user = ''`, "user is empty", false},
		{"locks table dropped", `DROP TABLE locks`, "no such table", false},
		{"webhook org", `UPDATE webhooks SET org = 'a/b'`, "webhook", false},
		{"webhook url", `UPDATE webhooks SET url = ''`, "url is empty", false},
		{"webhook events not JSON", `UPDATE webhooks SET events = 'lock.*'`, "events", false},
		{"webhook events empty", `UPDATE webhooks SET events = '[]'`, "no event patterns", false},
		{"webhook prefix", `UPDATE webhooks SET prefix = 'a//b'`, "prefix", false},
		{"webhooks table dropped", `DROP TABLE webhooks`, "no such table", false},
		{"delivery state", `UPDATE webhook_deliveries SET state = 'lost'`, "state", false},
		{"delivery of unknown webhook", `UPDATE webhook_deliveries SET webhook_id = 'wh_gone'`, "not stored", false},
		{"deliveries table dropped", `DROP TABLE webhook_deliveries`, "no such table", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db, j := openMigrated(t, filepath.Join(t.TempDir(), "db"))
			now := time.Now()
			sess := domain.Session{ID: "s1", Org: "acme", Owner: "alice", TTL: time.Minute, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
			l := testLock("acme", "db/primary", 2)
			l.Holder, l.Ephemeral, l.LockDelay = sess.Holder(), true, time.Second
			b := domain.Batch{Counter: 2, AliveAt: now, Changes: []domain.Change{
				domain.SessionSaved{Session: sess},
				domain.LockSaved{Lock: l},
				domain.EventRecorded{Event: domain.Event{Seq: 3, Org: "acme", Kind: domain.EventLockAcquired, Name: l.Key.Name, Token: 2, At: now}},
				domain.CredentialAdded{Credential: domain.Credential{
					Hash:      domain.HashToken("0123456789abcdef"),
					Principal: domain.Principal{Org: "acme", User: "alice"},
				}},
				domain.WebhookSaved{Webhook: domain.Webhook{ID: "wh_1", Org: "acme", URL: "https://example.com/", Events: []string{"*"}, CreatedAt: now}},
				domain.DeliveryRecorded{Delivery: domain.Delivery{Webhook: "wh_1", Seq: 3, Kind: domain.EventLockAcquired, State: domain.DeliveryPending}},
			}}
			if err := j.Commit(ctx, b); err != nil {
				t.Fatal(err)
			}
			if _, err := j.Load(ctx); err != nil {
				t.Fatalf("Load before doctoring: %v", err)
			}
			if !tc.inLog {
				if err := db.Fold(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.Writer.ExecContext(ctx, tc.sql); err != nil {
				t.Fatalf("doctor: %v", err)
			}
			s, err := j.Load(ctx)
			if err == nil {
				t.Fatalf("Load of a doctored database = %+v, want an error", s)
			}
			t.Logf("Load: %v", err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load error = %q, want it to mention %q", err, tc.want)
			}
			if k := domain.KindOf(err); k != domain.KindInternal {
				t.Errorf("Load error kind = %v, want KindInternal", k)
			}
			if len(s.Locks) != 0 || len(s.Sessions) != 0 || len(s.Credentials) != 0 || s.Counter != 0 ||
				s.EventSeq != 0 || !s.AliveAt.IsZero() || len(s.Webhooks) != 0 || len(s.Deliveries) != 0 {
				t.Errorf("Load returned a partial snapshot with its error: %+v", s)
			}
		})
	}
}
