package main

import (
	"fmt"
	"hash/fnv"

	"github.com/anishathalye/porcupine"
)

// lockState is the model's state of one lock: free (Holder == "") or held
// by Holder under Lease with fencing token Token. A grant made by a request
// whose answer was lost has an unknown lease ("") and token (0) until a
// later answer reveals them. Max is the highest token known to have been
// granted for this name, so a fresh grant must exceed it.
type lockState struct {
	Holder string
	Lease  string
	Token  uint64
	Max    uint64
}

func (s lockState) held() bool { return s.Holder != "" }

func (s lockState) String() string {
	if !s.held() {
		return fmt.Sprintf("free (max %d)", s.Max)
	}
	lease, token := s.Lease, fmt.Sprint(s.Token)
	if lease == "" {
		lease = "?"
	}
	if s.Token == 0 {
		token = "?"
	}
	return fmt.Sprintf("%s %s token %s", s.Holder, lease, token)
}

// restoreKind marks the synthetic operation that starts each epoch's
// partition: the state the observer read right after the restart.
const restoreKind Kind = "restore"

// lockModel is the sequential specification of one lock as the README
// describes it, with TTLs long enough that nothing ever expires. It is
// nondeterministic only for operations of unknown outcome, which may or may
// not have happened.
func lockModel(partition func([]porcupine.Operation) [][]porcupine.Operation) porcupine.Model {
	nm := porcupine.NondeterministicModel{
		Partition: partition,
		Init:      func() []any { return []any{lockState{}} },
		Step: func(state, input, _ any) []any {
			return step(state.(lockState), input.(*Op))
		},
		Hash: func(state any) uint64 {
			s := state.(lockState)
			h := fnv.New64a()
			fmt.Fprintf(h, "%s\x00%s\x00%d\x00%d", s.Holder, s.Lease, s.Token, s.Max)
			return h.Sum64()
		},
		DescribeOperation: func(input, _ any) string { return input.(*Op).String() },
		DescribeState:     func(state any) string { return state.(lockState).String() },
	}
	return nm.ToModel()
}

// step returns the states the lock can be in after op, given it was in s;
// none if op's observed output is impossible in s.
func step(s lockState, op *Op) []any {
	one := func(n lockState) []any { return []any{n} }
	switch op.Outcome {
	case Unknown:
		// It may not have happened at all, or have succeeded.
		out := []any{s}
		if n, ok := effect(s, op); ok && n != s {
			out = append(out, n)
		}
		return out
	case Refused:
		return one(s)
	}
	switch op.Kind {
	case restoreKind:
		// The epoch starts from what the observer read after the restart.
		return one(lockState{Holder: op.OutHold, Lease: op.OutLease, Token: op.Token, Max: max(s.Max, op.Token)})
	case Get:
		if op.Outcome != Ok {
			return one(s)
		}
		if !op.Held {
			if s.held() {
				return nil
			}
			return one(s)
		}
		if s.Holder != op.OutHold || (s.Token != 0 && s.Token != op.Token) {
			return nil
		}
		s.Token, s.Max = op.Token, max(s.Max, op.Token)
		return one(s)
	case Acquire:
		switch {
		case op.Outcome == Ok:
			switch {
			case !s.held():
				if op.Token <= s.Max || op.OutLease == "" {
					return nil
				}
				return one(lockState{Holder: op.Holder, Lease: op.OutLease, Token: op.Token, Max: op.Token})
			case s.Holder == op.Holder:
				// A re-acquire returns the holder's lease and token.
				if (s.Lease != "" && s.Lease != op.OutLease) || (s.Token != 0 && s.Token != op.Token) {
					return nil
				}
				if s.Token == 0 && op.Token <= s.Max {
					return nil
				}
				return one(lockState{Holder: s.Holder, Lease: op.OutLease, Token: op.Token, Max: max(s.Max, op.Token)})
			default:
				return nil
			}
		case op.Code == "lock_held":
			if s.held() && s.Holder != op.Holder {
				return one(s)
			}
			return nil
		default:
			return failedNoop(s, op)
		}
	case Renew, Release:
		current := s.held() && s.Lease != "" && s.Lease == op.Lease
		if op.Outcome == Ok {
			if !current || (s.Token != 0 && op.Kind == Renew && s.Token != op.Token) {
				return nil
			}
			if op.Kind == Release {
				return one(lockState{Max: s.Max})
			}
			if op.OutLease != op.Lease {
				return nil
			}
			s.Token, s.Max = op.Token, max(s.Max, op.Token)
			return one(s)
		}
		switch op.Code {
		case "lease_not_current":
			// Not the current lease: the lock is held by another lease,
			// or the id is one the server issued.
			if current || (!s.held() && !op.Issued) {
				return nil
			}
			return one(s)
		case "lock_not_found":
			// The lock is not held and the id was never issued.
			if s.held() || op.Issued {
				return nil
			}
			return one(s)
		default:
			return failedNoop(s, op)
		}
	}
	return nil
}

// failedNoop handles a definite failure other than the lock errors: the
// README promises that 503 unavailable changes nothing. The client records
// any other status as unknown, so nothing else arrives here.
func failedNoop(s lockState, op *Op) []any {
	if op.Code == "unavailable" {
		return []any{s}
	}
	return nil
}

// effect is the state after op succeeded in s, for an op whose answer was
// lost; false if it could not have succeeded.
func effect(s lockState, op *Op) (lockState, bool) {
	switch op.Kind {
	case Acquire:
		if !s.held() {
			// The grant's lease and token are unknown until revealed.
			return lockState{Holder: op.Holder, Max: s.Max}, true
		}
		return s, s.Holder == op.Holder
	case Release:
		// A lease the model does not know yet can only be one the client
		// never saw, so the client cannot have sent it.
		if s.held() && s.Lease != "" && s.Lease == op.Lease {
			return lockState{Max: s.Max}, true
		}
	case Renew:
		return s, s.held() && s.Lease != "" && s.Lease == op.Lease
	}
	return s, false
}
