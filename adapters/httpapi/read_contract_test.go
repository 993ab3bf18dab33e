package httpapi_test

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The contract of GET /locks/{name} and GET /locks: what anyone of the org
// may see of a lock (never its lease id), and listing with prefixes and
// cursors.

func TestGetLock(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	held := []string{"name", "status", "fencing_token", "expires_at", "holder", "waiters"}

	l := a.acquire(t, aliceTok, "get/plain", nil)
	for _, tok := range []string{aliceTok, bobTok} { // anyone of the org
		a.wantHeld(t, tok, l, "acme/alice", nil).keys(t, held...)
	}
	o := a.acquire(t, aliceTok, "db/primary", map[string]any{"metadata": "10.0.0.1:5432", "owner": "host-a:4711"})
	r := a.wantHeld(t, bobTok, o, "acme/alice", map[string]string{"owner": "host-a:4711"}).keys(t, append(held, "metadata", "owner")...)
	if r.str("name") != "db/primary" || r.str("metadata") != "10.0.0.1:5432" {
		t.Errorf("%v: want db/primary with its metadata", r)
	}
	s := a.openSession(t, aliceTok, 30)
	e := a.acquire(t, aliceTok, "get/eph", withSession(s, map[string]any{"ephemeral": true}))
	if r := a.wantHeld(t, bobTok, e, "acme/alice", map[string]string{"session_id": s.id}); r.keys(t, append(held, "session_id", "ephemeral")...).obj["ephemeral"] != true {
		t.Errorf("%v: want ephemeral", r)
	}

	// A free lock, never taken or run out: only its name, status and waiters.
	a.wantFree(t, aliceTok, "get/never")
	a.wantFree(t, carolTok, l.name) // another org's lock is not there
	x := a.acquire(t, aliceTok, "get/exp", map[string]any{"ttl_seconds": 1})
	a.clock.Advance(time.Second)
	a.wantFree(t, aliceTok, x.name)
}

// TestGetLockWaiters: waiters counts the blocking acquires queued for the
// lock now, and drops as they are served.
func TestGetLockWaiters(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	l := a.acquire(t, aliceTok, "get/busy", nil)
	first := a.goSend(request{method: http.MethodPost, path: lockPath(l.name, "/acquire"), token: bobTok, body: map[string]any{"wait_seconds": 30}})
	a.waitWaiters(t, l.name, 1)
	second := a.goSend(request{method: http.MethodPost, path: lockPath(l.name, "/acquire"), token: carolTok, body: map[string]any{"wait_seconds": 30}})
	// carol waits in globex: acme's count does not move.
	a.waitWaiters(t, l.name, 1)
	third := a.goSend(request{method: http.MethodPost, path: lockPath(l.name, "/acquire"), token: aliceTok, body: map[string]any{"wait_seconds": 30, "owner": "w"}})
	a.waitWaiters(t, l.name, 2)
	if r := a.wantHeld(t, bobTok, l, "acme/alice", nil); r.num(t, "waiters") != 2 {
		t.Errorf("%v: want 2 waiters", r)
	}
	if r := a.get("/locks", aliceTok).ok(t, http.StatusOK); !strings.Contains(string(r.raw), `"waiters":2`) {
		t.Errorf("%v: the listing does not show 2 waiters", r)
	}
	answer(t, "carol's acquire of globex's free lock", second).ok(t, http.StatusOK)

	a.release(t, aliceTok, l)
	b := leaseOf(t, l.name, answer(t, "bob's wait", first).ok(t, http.StatusOK))
	if r := a.wantHeld(t, aliceTok, b, "acme/bob", nil); r.num(t, "waiters") != 1 {
		t.Errorf("%v: want 1 waiter", r)
	}
	a.release(t, bobTok, b)
	answer(t, "alice's wait", third).ok(t, http.StatusOK)
	if r := a.status(t, aliceTok, l.name); r.num(t, "waiters") != 0 {
		t.Errorf("%v: want no waiter", r)
	}
}

// listNames lists with query as token, checks every entry, and returns the
// names and the next cursor.
func listNames(t *testing.T, a *api, token, query string) ([]string, string) {
	t.Helper()
	r := a.get("/locks"+query, token).ok(t, http.StatusOK)
	items, ok := r.obj["locks"].([]any)
	if !ok {
		t.Fatalf("%v: locks is not an array", r)
	}
	if _, ok := r.obj["next_cursor"]; ok {
		r.keys(t, "locks", "next_cursor")
	} else {
		r.keys(t, "locks")
	}
	names := make([]string, 0, len(items))
	for _, it := range items {
		m := it.(map[string]any)
		if _, ok := m["lease_id"]; ok || m["status"] != "held" || m["holder"] == nil || m["fencing_token"] == nil || m["expires_at"] == nil {
			t.Errorf("%v: entry %v", r, m)
		}
		names = append(names, m["name"].(string))
	}
	next, _ := r.obj["next_cursor"].(string)
	return names, next
}

func TestListLocks(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for _, n := range []string{"db", "db/x", "db/x/y", "dbx", "db-x", "other"} {
		a.acquire(t, aliceTok, n, map[string]any{"metadata": "list"})
	}
	a.release(t, aliceTok, a.acquire(t, aliceTok, "db/gone", nil))
	a.acquire(t, aliceTok, "db/expired", map[string]any{"ttl_seconds": 1})
	a.acquire(t, carolTok, "db/globex", nil)
	a.clock.Advance(time.Second) // db/expired runs out, unswept

	for _, c := range []struct {
		prefix string
		want   []string
	}{
		{"", []string{"db", "db-x", "db/x", "db/x/y", "dbx", "other"}},
		{"db", []string{"db", "db/x", "db/x/y"}},
		{"db/", []string{"db/x", "db/x/y"}},
		{"db%2Fx", []string{"db/x", "db/x/y"}},
		{"db/x/", []string{"db/x/y"}},
		{"dbx", []string{"dbx"}},
		{"d", []string{}},
		{"nothing", []string{}},
	} {
		q := ""
		if c.prefix != "" {
			q = "?prefix=" + c.prefix
		}
		if got, next := listNames(t, a, aliceTok, q); !slices.Equal(got, c.want) || next != "" {
			t.Errorf("prefix %q: %v next %q, want %v and no cursor", c.prefix, got, next, c.want)
		}
	}
	if got, _ := listNames(t, a, carolTok, ""); !slices.Equal(got, []string{"db/globex"}) {
		t.Errorf("globex lists %v", got)
	}
	if r := a.get("/locks?prefix=x", bobTok).ok(t, http.StatusOK); !strings.Contains(string(r.raw), `"locks":[]`) {
		t.Errorf("%v: an empty page is not an empty array", r)
	}

	// Pages in name order; the last has no cursor.
	var want []string
	leases := map[string]lease{}
	for i := range 7 {
		n := "page/p" + strconv.Itoa(i)
		want = append(want, n)
		leases[n] = a.acquire(t, aliceTok, n, nil)
	}
	var got []string
	cursor, pages := "", 0
	for ; pages < 10; pages++ {
		q := "?prefix=page&limit=3"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		names, next := listNames(t, a, aliceTok, q)
		if len(names) > 3 {
			t.Errorf("page %d has %d entries", pages, len(names))
		}
		got = append(got, names...)
		if cursor = next; cursor == "" {
			pages++
			break
		}
	}
	if !slices.Equal(got, want) || pages != 3 {
		t.Errorf("pages = %v in %d pages, want %v in 3", got, pages, want)
	}
	// A cursor stays valid when the lock it names is released meanwhile.
	first, next := listNames(t, a, aliceTok, "?prefix=page&limit=2")
	a.release(t, aliceTok, leases[first[1]])
	if rest, _ := listNames(t, a, aliceTok, "?prefix=page&limit=2&cursor="+next); !slices.Equal(rest, want[2:4]) {
		t.Errorf("page after a released cursor lock = %v, want %v", rest, want[2:4])
	}
	// Exactly one full page: no cursor.
	if names, next := listNames(t, a, aliceTok, "?prefix=page&limit=6"); len(names) != 6 || next != "" {
		t.Errorf("limit 6: %v next %q", names, next)
	}
	// A cursor carries no authority: in globex it pages globex.
	if names, _ := listNames(t, a, carolTok, "?cursor="+base64.RawURLEncoding.EncodeToString([]byte("a"))); !slices.Equal(names, []string{"db/globex"}) {
		t.Errorf("globex after cursor a: %v", names)
	}
}
