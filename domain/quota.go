package domain

import (
	"fmt"
	"strconv"
)

// Quota names one per-org limit. One tenant must not exhaust the server, so
// each org may have at most so many of each thing at once.
type Quota string

// The quotas, in the order they are shown.
const (
	QuotaLocks        Quota = "locks"         // lock records: held, or in their lock delay
	QuotaSessions     Quota = "sessions"      // open sessions
	QuotaWaiters      Quota = "waiters"       // blocking acquires queued on a busy lock
	QuotaWebhooks     Quota = "webhooks"      // webhook subscriptions
	QuotaWatchStreams Quota = "watch_streams" // open watch streams
	QuotaConfigKeys   Quota = "config_keys"   // config keys with a value (deleted ones do not count); also bounds the deleted keys kept
	QuotaConfigBytes  Quota = "config_bytes"  // bytes of the current values of those keys; also bounds, separately, the history's bytes
	QuotaFlags        Quota = "flags"         // feature flags
	QuotaLimits       Quota = "limits"        // rate-limit names with a counter in memory
)

// Quotas lists every quota.
var Quotas = []Quota{QuotaLocks, QuotaSessions, QuotaWaiters, QuotaWebhooks, QuotaWatchStreams,
	QuotaConfigKeys, QuotaConfigBytes, QuotaFlags, QuotaLimits}

// MaxQuotaLimit is the highest limit a quota may be given.
const MaxQuotaLimit = 1_000_000_000

// Limits maps quotas to their limits. In an org's overrides a missing
// quota follows the server-wide default.
type Limits map[Quota]int

// CheckLimit reports whether n is a valid limit for q: from 0 (nothing of
// it allowed) to MaxQuotaLimit. Returns a KindInvalid error coded
// invalid_quota.
func CheckLimit(q Quota, n int) error {
	if n < 0 || n > MaxQuotaLimit {
		return Invalid("invalid_quota", fmt.Sprintf("quota %s must be from 0 to %d", q, MaxQuotaLimit))
	}
	return nil
}

// Validate reports the first quota of l that is unknown or out of range.
func (l Limits) Validate() error {
	for q, n := range l {
		if !q.known() {
			return Invalid("invalid_quota", fmt.Sprintf("unknown quota %q", string(q)))
		}
		if err := CheckLimit(q, n); err != nil {
			return err
		}
	}
	return nil
}

func (q Quota) known() bool {
	for _, k := range Quotas {
		if k == q {
			return true
		}
	}
	return false
}

// ErrQuotaExceeded is what a request gets that would take its org past one
// of its quotas; the request changes nothing.
var ErrQuotaExceeded = &Error{Kind: KindTooMany, Code: "quota_exceeded",
	Msg: "the org has reached one of its quotas"}

// QuotaExceededError names the quota a request would exceed and its limit.
// It matches ErrQuotaExceeded.
type QuotaExceededError struct {
	Quota Quota
	Limit int
}

// Error returns a message naming the quota and its limit.
func (e *QuotaExceededError) Error() string {
	return "the org's " + string(e.Quota) + " quota is reached (limit " + strconv.Itoa(e.Limit) + ")"
}

// Unwrap makes QuotaExceededError match ErrQuotaExceeded.
func (e *QuotaExceededError) Unwrap() error { return ErrQuotaExceeded }

// QuotaSet replaces the quota overrides of Org with Limits (an empty Limits
// removes them: every quota follows the server-wide default).
type QuotaSet struct {
	Org    OrgID
	Limits Limits
}

func (QuotaSet) isChange() {}

// Validate reports the first rule that s breaks: its org must parse and
// each limit must be a known quota in range. Storage adapters check every
// QuotaSet they store or load with it; the error has no Kind.
func (s QuotaSet) Validate() error {
	if _, err := ParseOrgID(string(s.Org)); err != nil {
		return kindless(err)
	}
	if err := s.Limits.Validate(); err != nil {
		return kindless(err)
	}
	return nil
}
