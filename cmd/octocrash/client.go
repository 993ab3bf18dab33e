package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// api sends lock requests as one principal and records each as an Op.
type api struct {
	base   string
	token  string
	holder string
	client int
	epoch  int
	http   *http.Client
	clock  func() int64
}

type leaseResponse struct {
	LeaseID      string    `json:"lease_id"`
	FencingToken uint64    `json:"fencing_token"`
	ExpiresAt    time.Time `json:"expires_at"`
}

type lockResponse struct {
	Status       string    `json:"status"`
	FencingToken uint64    `json:"fencing_token"`
	ExpiresAt    time.Time `json:"expires_at"`
	Holder       string    `json:"holder"`
}

type problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
}

// do performs op (whose Kind, Name and Lease are set) and fills in its
// times and output.
func (a *api) do(ctx context.Context, op *Op, ttlSeconds int) {
	op.Epoch, op.Client, op.Holder = a.epoch, a.client, a.holder
	path := "/locks/" + url.PathEscape(op.Name)
	method, body := http.MethodPost, map[string]any{}
	switch op.Kind {
	case Acquire:
		path += "/acquire"
		// Each client is one principal with one owner id, so that a retry
		// whose answer was lost is the idempotent re-acquire.
		body["ttl_seconds"], body["owner"] = ttlSeconds, clientOwner
	case Renew:
		path += "/renew"
		body["lease_id"], body["ttl_seconds"] = op.Lease, ttlSeconds
	case Release:
		path += "/release"
		body["lease_id"] = op.Lease
	case Get:
		method, body = http.MethodGet, nil
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body) // a map of strings and ints always encodes
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		panic(err) // the URL is built here from valid parts
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	op.Call = a.clock()
	resp, err := a.http.Do(req)
	var raw []byte
	if err == nil {
		raw, err = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
	}
	if err != nil {
		op.Err = err.Error()
		if notSent(err) {
			op.Return, op.Outcome = a.clock(), Refused
		} else {
			op.Return, op.Outcome = Never, Unknown
		}
		return
	}
	op.Return = a.clock()
	op.Status = resp.StatusCode
	if resp.StatusCode != http.StatusOK {
		var p problem
		_ = json.Unmarshal(raw, &p)
		op.Code = p.Code
		if expectedFailure(op.Kind, resp.StatusCode, p.Code) {
			op.Outcome = Failed
		} else {
			// Not an answer the API documents for this request: count it
			// as an anomaly and let it have happened or not.
			op.Outcome, op.Return = Unknown, Never
			op.Err = fmt.Sprintf("unexpected %d %s: %.200s", resp.StatusCode, p.Code, raw)
		}
		return
	}
	op.Outcome = Ok
	switch op.Kind {
	case Acquire, Renew:
		var r leaseResponse
		if err := json.Unmarshal(raw, &r); err != nil || r.LeaseID == "" || r.FencingToken == 0 {
			op.Outcome, op.Return = Unknown, Never
			op.Err = fmt.Sprintf("bad 200 body: %.200s", raw)
			return
		}
		op.OutLease, op.Token, op.Expires = r.LeaseID, r.FencingToken, r.ExpiresAt
	case Get:
		var r lockResponse
		if err := json.Unmarshal(raw, &r); err != nil || (r.Status != "held" && r.Status != "free") {
			op.Outcome, op.Return = Unknown, Never
			op.Err = fmt.Sprintf("bad 200 body: %.200s", raw)
			return
		}
		op.Held = r.Status == "held"
		if op.Held {
			op.Token, op.OutHold, op.Expires = r.FencingToken, r.Holder, r.ExpiresAt
		}
	}
}

// expectedFailure reports whether a non-200 answer is one the API documents
// as a refusal that changed nothing.
func expectedFailure(k Kind, status int, code string) bool {
	switch {
	case status == http.StatusServiceUnavailable && code == "unavailable":
		return k != Get
	case k == Acquire:
		return status == http.StatusConflict && code == "lock_held"
	case k == Renew || k == Release:
		return (status == http.StatusConflict && code == "lease_not_current") ||
			(status == http.StatusNotFound && code == "lock_not_found")
	}
	return false
}

// notSent reports whether err means the request never reached a server:
// the TCP connection could not be opened. (The transport retries a request
// on a new connection only if nothing of it was written on the old one.)
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// lease is one lease a client was granted.
type lease struct {
	name  string
	id    string
	token uint64
}

// worker is one client: a principal with its own view of the leases it
// holds, choosing sensible operations and, now and then, stale ones.
type worker struct {
	api
	names []string
	ttl   int
	think time.Duration
	rng   *rand.Rand
	held  map[string]lease // leases the client believes it holds
	ended []lease          // leases released or lost, for stale requests
	// unsure names had an acquire whose answer was lost: the client may
	// hold them without knowing the lease, so it asks again.
	unsure map[string]bool
	ops    []*Op
}

func newWorker(i int, names []string, ttl int, think time.Duration, seed uint64) *worker {
	return &worker{
		api:    api{token: principalToken(i), holder: fmt.Sprintf("acme/c%d", i), client: i},
		names:  names,
		ttl:    ttl,
		think:  think,
		rng:    rand.New(rand.NewPCG(seed, uint64(i))),
		held:   map[string]lease{},
		unsure: map[string]bool{},
	}
}

// run issues operations against base until ctx ends. After a failed
// request it waits for the end of the epoch (the server is probably dead)
// before trying again, so a kill costs each client one unknown operation.
func (w *worker) run(ctx context.Context, base string, epoch int, clock func() int64) {
	w.base, w.epoch, w.clock = base, epoch, clock
	tr := &http.Transport{MaxIdleConnsPerHost: 2, DisableCompression: true}
	defer tr.CloseIdleConnections()
	w.http = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for ctx.Err() == nil {
		op := w.next()
		w.do(ctx, op, w.ttl)
		w.ops = append(w.ops, op)
		w.learn(op)
		pause := time.Duration(0)
		if w.think > 0 {
			pause = time.Duration(w.rng.Int64N(int64(w.think)))
		}
		if !op.Definite() {
			pause = 100 * time.Millisecond
		}
		if pause > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(pause):
			}
		}
	}
}

// next picks the client's next operation.
func (w *worker) next() *Op {
	r := w.rng.Float64()
	name := w.names[w.rng.IntN(len(w.names))]
	switch {
	case r < 0.08:
		return &Op{Kind: Get, Name: name}
	case r < 0.15:
		return w.stale(name)
	}
	if len(w.held) > 0 && w.rng.Float64() < 0.6 {
		l := w.pickHeld()
		switch r := w.rng.Float64(); {
		case r < 0.45:
			return &Op{Kind: Release, Name: l.name, Lease: l.id, LeaseToken: l.token, Issued: true}
		case r < 0.9:
			return &Op{Kind: Renew, Name: l.name, Lease: l.id, LeaseToken: l.token, Issued: true}
		default:
			return &Op{Kind: Acquire, Name: l.name}
		}
	}
	if len(w.unsure) > 0 && w.rng.Float64() < 0.5 {
		for _, n := range w.names {
			if w.unsure[n] {
				return &Op{Kind: Acquire, Name: n}
			}
		}
	}
	return &Op{Kind: Acquire, Name: name}
}

// stale builds a renew or release that should be refused: an ended lease,
// a lease of another lock, or an id the server never issued.
func (w *worker) stale(name string) *Op {
	kind := Renew
	if w.rng.IntN(2) == 0 {
		kind = Release
	}
	switch r := w.rng.IntN(3); {
	case r == 0 && len(w.ended) > 0:
		l := w.ended[w.rng.IntN(len(w.ended))]
		return &Op{Kind: kind, Name: l.name, Lease: l.id, LeaseToken: l.token, Issued: true}
	case r == 1 && len(w.held) > 0:
		l := w.pickHeld()
		for _, n := range w.names {
			if n != l.name {
				return &Op{Kind: kind, Name: n, Lease: l.id, LeaseToken: l.token, Issued: true}
			}
		}
	}
	var b [6]byte
	for i := range b {
		b[i] = byte(w.rng.UintN(256))
	}
	return &Op{Kind: kind, Name: name, Lease: "bogus-" + hex.EncodeToString(b[:])}
}

func (w *worker) pickHeld() lease {
	i := w.rng.IntN(len(w.held))
	for _, n := range w.names {
		if l, ok := w.held[n]; ok {
			if i == 0 {
				return l
			}
			i--
		}
	}
	panic("unreachable")
}

// learn updates the client's view of its leases from op's answer.
func (w *worker) learn(op *Op) {
	cur, holds := w.held[op.Name]
	mine := holds && cur.id == op.Lease
	switch {
	case op.Kind == Acquire && op.Outcome == Ok:
		if holds && cur.id != op.OutLease {
			w.end(cur)
		}
		w.held[op.Name] = lease{name: op.Name, id: op.OutLease, token: op.Token}
		delete(w.unsure, op.Name)
	case op.Kind == Acquire && op.Outcome == Failed && op.Code == "lock_held":
		if holds {
			w.end(cur)
		}
		delete(w.unsure, op.Name)
	case op.Kind == Acquire && op.Outcome == Unknown:
		w.unsure[op.Name] = true
	case op.Kind == Release && op.Outcome == Ok && mine:
		w.end(cur)
	case (op.Kind == Release || op.Kind == Renew) && op.Outcome == Failed && op.Code != "unavailable" && mine:
		w.end(cur)
	}
}

func (w *worker) end(l lease) {
	delete(w.held, l.name)
	if len(w.ended) < 16 {
		w.ended = append(w.ended, l)
	} else {
		w.ended[w.rng.IntN(len(w.ended))] = l
	}
}

// clientOwner is the owner id every client sends with its acquires.
const clientOwner = "octocrash"

// principalToken is client i's bearer token (at least 16 characters).
func principalToken(i int) string {
	return fmt.Sprintf("octocrash-secret-token-c%d", i)
}

// observerToken is the bearer token of the principal that reads the locks
// after each restart; it never takes a lock.
const observerToken = "octocrash-secret-token-observer"

// staticTokens is the OCTOSTORE_STATIC_TOKENS value for n clients.
func staticTokens(n int) string {
	parts := []string{"acme/observer:" + observerToken}
	for i := range n {
		parts = append(parts, fmt.Sprintf("acme/c%d:%s", i, principalToken(i)))
	}
	return strings.Join(parts, ",")
}
