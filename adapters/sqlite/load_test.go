package sqlite_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/octostore/octostore/domain"
)

// TestLoadRefusesDoctoredDatabase edits a valid database behind the
// adapter's back and requires Load to fail, with an internal error, instead
// of returning a snapshot the application would trust.
func TestLoadRefusesDoctoredDatabase(t *testing.T) {
	for _, tc := range []struct{ name, sql, want string }{
		{"token above counter", `UPDATE locks SET fencing_token = 5, lease_id = 'L5-x'`, "above the fencing counter"},
		{"counter lowered", `UPDATE meta SET value = 1`, "above the fencing counter"},
		{"negative counter", `UPDATE meta SET value = -1`, "negative"},
		{"counter row missing", `DELETE FROM meta`, "fencing_counter row is missing"},
		{"invalid name", `UPDATE locks SET name = 'a//b'`, "invalid"},
		{"invalid org", `UPDATE locks SET org = 'ac me'`, "org"},
		{"lease of another token", `UPDATE locks SET lease_id = 'L3-x'`, "does not embed"},
		{"lease not ours", `UPDATE locks SET lease_id = 'lease-7'`, "does not embed"},
		{"empty holder", `UPDATE locks SET holder = ''`, "holder is empty"},
		{"credential org", `UPDATE credentials SET org = 'a/b'`, "credential"},
		{"credential user", `UPDATE credentials SET user = ''`, "user is empty"},
		{"locks table dropped", `DROP TABLE locks`, "no such table"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db, j := openMigrated(t, filepath.Join(t.TempDir(), "db"))
			b := domain.Batch{Counter: 2, Changes: []domain.Change{
				domain.LockSaved{Lock: testLock("acme", "db/primary", 2)},
				domain.CredentialAdded{Credential: domain.Credential{
					Hash:      domain.HashToken("0123456789abcdef"),
					Principal: domain.Principal{Org: "acme", User: "alice"},
				}},
			}}
			if err := j.Commit(ctx, b); err != nil {
				t.Fatal(err)
			}
			if _, err := j.Load(ctx); err != nil {
				t.Fatalf("Load before doctoring: %v", err)
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
			if len(s.Locks) != 0 || len(s.Credentials) != 0 || s.Counter != 0 {
				t.Errorf("Load returned a partial snapshot with its error: %+v", s)
			}
		})
	}
}
