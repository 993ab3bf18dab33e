package ports

import "time"

// CommitObserver is told about every commit the single writer attempts,
// for metrics. The writer calls it on its own goroutine, between a commit
// and the answers to that commit's requests, so an implementation must be
// fast and must not block (an atomic add or two); it must be safe for use
// by the writer while other goroutines read what it recorded.
type CommitObserver interface {
	// ObserveCommit records one commit of a batch of requests (intents)
	// that took took (including fsync); ok is false when it failed.
	ObserveCommit(requests int, took time.Duration, ok bool)
}
