package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// wholeLimit is the largest number of operations on one name for which the
// "auto" mode also checks the whole history at once (the search keeps a
// bitset per step, so its memory grows with the square of the length).
// The search time grows exponentially with the number of clients that
// contend for one lock at once, which is why the default workload spreads
// 8 clients over 3 names.
const wholeLimit = 20000

// checkLinearizable checks with porcupine that the history is linearizable
// with respect to lockModel, per lock name.
//
// In "epochs" mode the history is cut at every kill. A killed server cannot
// apply a request after it is dead, and the observer reads every lock right
// after the restart, before any client runs; so the history is linearizable
// if and only if every epoch is, starting from the state read after its
// restart (a synthetic "restore" operation) and ending with the reads after
// the next restart. Within an epoch an operation without an answer returns
// at +∞: it may have happened at any point after its call, or not at all.
// In "whole" mode the entire history is one porcupine history per name,
// starting from free, with every unanswered operation open until +∞.
func checkLinearizable(h *History, f *facts, opts CheckOptions, r *Report) {
	r.Porcupine = map[string]string{}
	began := time.Now()
	defer func() { r.PorcupineTime = time.Since(began) }()
	mode := opts.Porcupine
	if mode == "" {
		mode = "auto"
	}
	if mode == "epochs" || mode == "auto" || mode == "both" {
		r.Porcupine["epochs"] = runPorcupine("epochs", epochOperations(h, f), opts, r)
	}
	switch mode {
	case "whole", "both":
		r.Porcupine["whole"] = runPorcupine("whole", [][]porcupine.Operation{wholeOperations(h, f)}, opts, r)
	case "auto":
		perName := map[string]int{}
		largest := 0
		for _, o := range h.Ops {
			perName[o.Name]++
			largest = max(largest, perName[o.Name])
		}
		switch {
		case largest > wholeLimit:
			r.Porcupine["whole"] = fmt.Sprintf("skipped (%d operations on one name > %d)", largest, wholeLimit)
		case h.Clients > 4*len(h.Names):
			r.Porcupine["whole"] = fmt.Sprintf("skipped (%d clients on %d names: too much contention for one search)", h.Clients, len(h.Names))
		default:
			opts.Timeout = min(opts.Timeout, autoWholeTimeout)
			res := runPorcupine("whole", [][]porcupine.Operation{wholeOperations(h, f)}, opts, r)
			if res == string(porcupine.Unknown) {
				res = fmt.Sprintf("timed out after %s (not counted in auto mode)", opts.Timeout)
			}
			r.Porcupine["whole"] = res
		}
	}
}

// autoWholeTimeout bounds the optional whole-history search of "auto" mode.
const autoWholeTimeout = 30 * time.Second

// byMetadata partitions operations by the key stored in their Metadata:
// the lock name, or name@epoch.
func byMetadata(history []porcupine.Operation) [][]porcupine.Operation {
	groups := map[string][]porcupine.Operation{}
	var keys []string
	for _, op := range history {
		k := op.Metadata.(string)
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], op)
	}
	sort.Strings(keys)
	out := make([][]porcupine.Operation, len(keys))
	for i, k := range keys {
		out[i] = groups[k]
	}
	return out
}

// relevant reports whether o can matter to the model. Leaving out the
// others is sound and keeps the search small: porcupine explores subsets of
// concurrent operations that can always be linearized, and requests cut
// off by a kill come in bunches. An unanswered get or renew changes no
// modeled state (expiry is not modeled), nor does an unanswered release
// with an id the server never issued or a lease of another lock; a refused
// request never reached a server.
func relevant(o *Op, f *facts) bool {
	switch {
	case o.Outcome == Refused:
		return false
	case o.Outcome != Unknown:
		return true
	case o.Kind == Get || o.Kind == Renew:
		return false
	case o.Kind == Release:
		name, known := f.leaseName[o.Lease]
		return o.Issued && (!known || name == o.Name)
	}
	return true
}

func operation(o *Op, key string) porcupine.Operation {
	return porcupine.Operation{ClientId: o.Client, Input: o, Output: o, Call: o.Call, Return: o.Return, Metadata: key}
}

// epochOperations returns one batch of operations per epoch, partitioned by
// (name, epoch); the reads after each restart close one epoch and open the
// next.
func epochOperations(h *History, f *facts) [][]porcupine.Operation {
	batches := make([][]porcupine.Operation, max(h.Epochs-1, 1))
	add := func(epoch int, o *Op) {
		if epoch < len(batches) {
			batches[epoch] = append(batches[epoch], operation(o, fmt.Sprintf("%s@epoch%04d", o.Name, epoch)))
		}
	}
	for _, o := range h.Ops {
		if !relevant(o, f) {
			continue
		}
		if o.Restart {
			if o.Epoch > 0 {
				add(o.Epoch-1, o)
			}
			restore := &Op{ID: -1, Epoch: o.Epoch, Client: o.Client, Holder: o.Holder, Kind: restoreKind, Name: o.Name,
				Call: o.Call - 1, Return: o.Call - 1, Outcome: Ok, Held: o.Held, OutHold: o.OutHold, Token: o.Token}
			if o.Held {
				restore.OutLease = f.tokenLease[o.Token] // "" if no answer ever showed it
			}
			add(o.Epoch, restore) // the last instance only closes the last epoch
		}
		add(o.Epoch, o)
	}
	return batches
}

// wholeOperations partitions the history by name only.
func wholeOperations(h *History, f *facts) []porcupine.Operation {
	var ops []porcupine.Operation
	for _, o := range h.Ops {
		if relevant(o, f) {
			ops = append(ops, operation(o, o.Name))
		}
	}
	return ops
}

// runPorcupine checks the batches one after the other, each with its
// partitions in parallel, which bounds the memory of the search. It
// reports the partitions that fail and returns the overall result.
//
// The search is exponential in the number of concurrent operations that
// leave the state unchanged (refusals, reads) around a change, so with many
// clients on one lock an epoch can take very long. An epoch whose full
// history is not decided within opts.FullTimeout is checked again without
// its refusals and clients' reads (grants, renewals, releases, lost
// requests and the reads after restarts remain), and the result says so.
func runPorcupine(mode string, batches [][]porcupine.Operation, opts CheckOptions, r *Report) string {
	model := lockModel(byMetadata)
	result := porcupine.Ok
	var illegal [][]porcupine.Operation
	reduced := 0
	for _, b := range batches {
		res := porcupine.Unknown
		if len(batches) > 1 && opts.FullTimeout > 0 && opts.FullTimeout < opts.Timeout {
			if res = porcupine.CheckOperationsTimeout(model, b, opts.FullTimeout); res == porcupine.Unknown {
				b = withoutReads(b)
				reduced++
			}
		}
		if res == porcupine.Unknown {
			res = porcupine.CheckOperationsTimeout(model, b, opts.Timeout)
		}
		switch res {
		case porcupine.Illegal:
			result = porcupine.Illegal
			illegal = append(illegal, b)
		case porcupine.Unknown:
			if result == porcupine.Ok {
				result = porcupine.Unknown
			}
		}
	}
	// Find the partitions that fail, to say where.
	single := lockModel(nil)
	reported := 0
	for _, b := range illegal {
		for _, part := range byMetadata(b) {
			if porcupine.CheckOperationsTimeout(single, part, opts.Timeout) != porcupine.Illegal {
				continue
			}
			key := part[0].Metadata.(string)
			msg := fmt.Sprintf("%s history of %s (%d operations) is not linearizable", mode, key, len(part))
			if reported < 3 {
				_, info := porcupine.CheckOperationsVerbose(single, part, opts.Timeout)
				msg += explain(part, info)
				if opts.Dir != "" {
					path := filepath.Join(opts.Dir, "porcupine-"+strings.NewReplacer("/", "_", "@", "-").Replace(key)+".html")
					if err := porcupine.VisualizePath(single, info, path); err == nil {
						msg += "; visualization: " + path
					}
				}
			}
			reported++
			r.add(CheckLinear, "%s", msg)
		}
	}
	if result == porcupine.Illegal && reported == 0 {
		r.add(CheckLinear, "%s history is not linearizable, but no partition fails on its own", mode)
	}
	if reduced > 0 {
		return fmt.Sprintf("%s (%d of %d epochs checked without refusals and reads after %s)", result, reduced, len(batches), opts.FullTimeout)
	}
	return string(result)
}

// withoutReads leaves out the operations that cannot change the state:
// refused requests and the clients' reads.
func withoutReads(ops []porcupine.Operation) []porcupine.Operation {
	var out []porcupine.Operation
	for _, op := range ops {
		o := op.Input.(*Op)
		if o.Outcome == Failed || (o.Kind == Get && !o.Restart) {
			continue
		}
		out = append(out, op)
	}
	return out
}

// explain names the end of the longest linearizable prefix and the
// operations that could not follow it.
func explain(part []porcupine.Operation, info porcupine.LinearizationInfo) string {
	partials := info.PartialLinearizations()
	if len(partials) == 0 || len(partials[0]) == 0 {
		return ""
	}
	longest := partials[0][0]
	for _, p := range partials[0] {
		if len(p) > len(longest) {
			longest = p
		}
	}
	in := map[int]bool{}
	for _, i := range longest {
		in[i] = true
	}
	var b strings.Builder
	fmt.Fprintf(&b, "; longest linearizable prefix: %d operations", len(longest))
	if len(longest) > 0 {
		last := part[longest[len(longest)-1]].Input.(*Op)
		fmt.Fprintf(&b, ", ending with %s", last)
	}
	// The earliest-returning operation left out is the one that cannot
	// be placed.
	stuck := -1
	for i, op := range part {
		if !in[i] && (stuck < 0 || op.Return < part[stuck].Return) {
			stuck = i
		}
	}
	if stuck >= 0 {
		fmt.Fprintf(&b, "; cannot place %s", part[stuck].Input.(*Op))
	}
	return b.String()
}
