package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// fakeServer is an in-memory imitation of the lock API with a chosen
// durability bug, to show the harness catches broken servers end to end.
type fakeServer struct {
	bug string // "volatile": a kill loses everything; "snapshot": a kill rolls back to the last start

	mu      sync.Mutex
	gen     int // bumped by Kill; requests of an older generation do nothing
	locks   map[string]fakeLock
	counter uint64
	saved   struct {
		locks   map[string]fakeLock
		counter uint64
	}
	srv *http.Server
}

type fakeLock struct {
	holder, lease string
	token         uint64
	expires       time.Time
}

func newFakeServer(bug string) *fakeServer {
	return &fakeServer{bug: bug, locks: map[string]fakeLock{}}
}

func (f *fakeServer) Start(context.Context) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	f.saved.locks, f.saved.counter = clone(f.locks), f.counter
	gen := f.gen
	f.mu.Unlock()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /locks/{name}/{op}", func(w http.ResponseWriter, r *http.Request) { f.post(w, r, gen) })
	mux.HandleFunc("GET /locks/{name}", func(w http.ResponseWriter, r *http.Request) { f.get(w, r, gen) })
	f.srv = &http.Server{Handler: mux}
	go func() { _ = f.srv.Serve(l) }()
	return "http://" + l.Addr().String(), nil
}

func (f *fakeServer) Kill() error {
	if f.srv == nil {
		return nil
	}
	_ = f.srv.Close()
	f.srv = nil
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gen++
	switch f.bug {
	case "volatile":
		f.locks, f.counter = map[string]fakeLock{}, 0
	case "snapshot":
		f.locks, f.counter = clone(f.saved.locks), f.saved.counter
	}
	return nil
}

func clone(m map[string]fakeLock) map[string]fakeLock {
	c := make(map[string]fakeLock, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func principal(r *http.Request) string {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if tok == observerToken {
		return "acme/observer"
	}
	return "acme/" + strings.TrimPrefix(tok, "octocrash-secret-token-")
}

func reply(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func problemReply(w http.ResponseWriter, status int, code string) {
	reply(w, status, map[string]any{"status": status, "code": code})
}

func leaseBody(status string, l fakeLock) map[string]any {
	return map[string]any{"status": status, "lease_id": l.lease, "fencing_token": l.token, "expires_at": l.expires}
}

func (f *fakeServer) post(w http.ResponseWriter, r *http.Request, gen int) {
	name, who := r.PathValue("name"), principal(r)
	var in struct {
		LeaseID    string `json:"lease_id"`
		TTLSeconds int    `json:"ttl_seconds"`
	}
	_ = json.NewDecoder(r.Body).Decode(&in)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gen != gen {
		panic(http.ErrAbortHandler) // killed: no answer
	}
	cur, held := f.locks[name]
	ttl := time.Duration(in.TTLSeconds) * time.Second
	switch r.PathValue("op") {
	case "acquire":
		switch {
		case held && cur.holder != who:
			problemReply(w, http.StatusConflict, "lock_held")
		case held:
			reply(w, http.StatusOK, leaseBody("acquired", cur))
		default:
			f.counter++
			l := fakeLock{holder: who, lease: fmt.Sprintf("L%d-%x", f.counter, time.Now().UnixNano()), token: f.counter, expires: time.Now().Add(ttl)}
			f.locks[name] = l
			reply(w, http.StatusOK, leaseBody("acquired", l))
		}
	case "renew", "release":
		switch {
		case held && cur.lease == in.LeaseID:
			if r.PathValue("op") == "release" {
				delete(f.locks, name)
				reply(w, http.StatusOK, map[string]any{"status": "released"})
				return
			}
			cur.expires = time.Now().Add(ttl)
			f.locks[name] = cur
			reply(w, http.StatusOK, leaseBody("renewed", cur))
		case held || strings.HasPrefix(in.LeaseID, "L"):
			problemReply(w, http.StatusConflict, "lease_not_current")
		default:
			problemReply(w, http.StatusNotFound, "lock_not_found")
		}
	default:
		problemReply(w, http.StatusNotFound, "not_found")
	}
}

func (f *fakeServer) get(w http.ResponseWriter, r *http.Request, gen int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gen != gen {
		panic(http.ErrAbortHandler)
	}
	l, held := f.locks[r.PathValue("name")]
	if !held {
		reply(w, http.StatusOK, map[string]any{"status": "free"})
		return
	}
	reply(w, http.StatusOK, map[string]any{"status": "held", "fencing_token": l.token, "expires_at": l.expires, "holder": l.holder})
}
