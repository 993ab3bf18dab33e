package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"time"
)

// Kind is the operation a client performed.
type Kind string

// The operations of the lock API the harness drives.
const (
	Acquire Kind = "acquire"
	Renew   Kind = "renew"
	Release Kind = "release"
	Get     Kind = "get"
)

// Outcome classifies what a client learned from one request.
type Outcome string

const (
	// Ok is a 2xx answer: the operation happened.
	Ok Outcome = "ok"
	// Failed is a definite error answer (409, 404, 503): per the API
	// nothing changed.
	Failed Outcome = "failed"
	// Unknown means no usable answer (connection reset, timeout, an
	// unexpected status): the operation may or may not have happened.
	Unknown Outcome = "unknown"
	// Refused means the connection could not even be opened, so the
	// request never reached a server and had no effect.
	Refused Outcome = "refused"
)

// Never is the return time of an operation whose outcome is unknown: it may
// take effect at any point after its call.
const Never = math.MaxInt64

// Op is one recorded client operation: its input, its output and the
// monotonic times (nanoseconds since the run started) at which it was called
// and returned.
type Op struct {
	ID     int    `json:"id"`
	Epoch  int    `json:"epoch"`  // server instance the request was sent to
	Client int    `json:"client"` // index; the observer is Config.Clients
	Holder string `json:"holder"` // the principal as the server names it, e.g. acme/c3
	Kind   Kind   `json:"kind"`
	Name   string `json:"name"`
	// Lease is the lease id sent with renew and release; LeaseToken the
	// fencing token the client believes it carries (0 for a made-up id),
	// and Issued whether the server handed it out.
	Lease      string `json:"lease,omitempty"`
	LeaseToken uint64 `json:"lease_token,omitempty"`
	Issued     bool   `json:"issued,omitempty"`
	// Restart marks the observer's reads made right after a (re)start,
	// before any client runs: they show what survived the previous kill.
	Restart bool `json:"restart,omitempty"`

	Call   int64 `json:"call"`
	Return int64 `json:"return"` // Never when the outcome is unknown

	Outcome  Outcome   `json:"outcome"`
	Status   int       `json:"status,omitempty"`
	Code     string    `json:"code,omitempty"`
	OutLease string    `json:"out_lease,omitempty"`
	Token    uint64    `json:"token,omitempty"`
	Held     bool      `json:"held,omitempty"`       // get: the lock is held
	OutHold  string    `json:"out_holder,omitempty"` // get: who holds it
	Expires  time.Time `json:"expires,omitzero"`
	Err      string    `json:"err,omitempty"`
}

// Acked reports whether the server acknowledged the operation as done.
func (o *Op) Acked() bool { return o.Outcome == Ok }

// Definite reports whether the client got a definite answer, success or
// failure.
func (o *Op) Definite() bool { return o.Outcome == Ok || o.Outcome == Failed }

// String describes the operation for violation reports.
func (o *Op) String() string {
	in := o.Name
	if o.Lease != "" {
		in += " " + o.Lease
	}
	var out string
	switch {
	case o.Outcome == Unknown:
		out = "unknown (" + o.Err + ")"
	case o.Outcome == Refused:
		out = "refused"
	case o.Outcome == Failed:
		out = fmt.Sprintf("%d %s", o.Status, o.Code)
	case o.Kind == Get && o.Held:
		out = fmt.Sprintf("held by %s token %d", o.OutHold, o.Token)
	case o.Kind == Get:
		out = "free"
	case o.Kind == Release:
		out = "released"
	default:
		out = fmt.Sprintf("%s token %d", o.OutLease, o.Token)
	}
	who := o.Holder
	if o.Restart {
		who = "observer after restart"
	}
	ret := "∞"
	if o.Return != Never {
		ret = fmtNanos(o.Return)
	}
	return fmt.Sprintf("op#%d [epoch %d, %s..%s] %s %s(%s) -> %s", o.ID, o.Epoch, fmtNanos(o.Call), ret, who, o.Kind, in, out)
}

func fmtNanos(ns int64) string {
	return time.Duration(ns).Round(time.Microsecond).String()
}

// History is every operation of a run.
type History struct {
	Seed    uint64   `json:"seed"`
	Clients int      `json:"clients"`
	Names   []string `json:"names"`
	Epochs  int      `json:"epochs"` // server instances, the last one only read
	Ops     []*Op    `json:"ops,omitempty"`
}

// sortOps orders ops by call time and numbers them.
func (h *History) sortOps() {
	sort.SliceStable(h.Ops, func(i, j int) bool { return h.Ops[i].Call < h.Ops[j].Call })
	for i, o := range h.Ops {
		o.ID = i
	}
}

// WriteFile saves the history as JSON lines: a header with the clients,
// names and epochs, then one operation per line.
func (h *History) WriteFile(path string) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	if err := enc.Encode(History{Seed: h.Seed, Clients: h.Clients, Names: h.Names, Epochs: h.Epochs}); err != nil {
		return fmt.Errorf("encode history: %w", err)
	}
	for _, o := range h.Ops {
		if err := enc.Encode(o); err != nil {
			return fmt.Errorf("encode history: %w", err)
		}
	}
	return w.Flush()
}

// ReadHistory loads a history written by WriteFile.
func ReadHistory(path string) (*History, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReader(f))
	var h History
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("decode history %s: %w", path, err)
	}
	for {
		o := new(Op)
		if err := dec.Decode(o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decode history %s: %w", path, err)
		}
		h.Ops = append(h.Ops, o)
	}
	return &h, nil
}
