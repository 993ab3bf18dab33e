package application

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
)

// EngineConfig tunes the engine. The zero value is usable.
type EngineConfig struct {
	// MaxBatch caps the number of requests decided and committed together.
	MaxBatch int
	// MaxBatchBytes caps the bytes of large config values a batch commits
	// (a batch takes at least one, however large; 256 KiB by default, so
	// one value of the largest size): a burst of large values is spread
	// over several commits that take turns with the other requests, so a
	// lock request waits for at most one bounded commit of them.
	MaxBatchBytes int
	// ConfigHistory is how many versions of each config key are kept
	// (the newest ones, deletions included).
	ConfigHistory int
	// SweepInterval is how often expired locks are looked for; the sweep
	// frees them within one interval of their expiry.
	SweepInterval time.Duration
	// Heartbeat is how often an idle server records that it is alive, so
	// that start-up can tell what expired while it was down.
	Heartbeat time.Duration
	// RestoreGrace is the fresh lease a lock gets at start-up when its
	// expiry passed while the server was down (sessions get their own TTL).
	RestoreGrace time.Duration
	// KeepEvents is how many recorded events are kept in storage (more
	// while a webhook has not handled them).
	KeepEvents uint64
	// EventBuffer is how many of the newest events readers find in
	// memory; older ones are read from storage.
	EventBuffer int
	// Quotas are the server-wide per-org limits; a quota missing here
	// gets its DefaultQuotas value. Admins override them per org.
	Quotas domain.Limits
	Logger *slog.Logger
	// Observer is told about every commit (batch size, latency); nil
	// when nobody measures.
	Observer ports.CommitObserver
}

// Engine owns the live state and the single writer that changes it. Every
// mutation goes through the writer as an intent: intents that arrive
// together are decided in arrival order against the committed state plus the
// effects of the earlier intents of the same batch, committed to the
// Journal in one transaction, and only then folded into the state readers
// see and answered. A lone request commits at once; under load the batch
// grows by itself while the previous one commits.
type Engine struct {
	journal ports.Journal
	clock   ports.Clock
	cfg     EngineConfig
	log     *slog.Logger

	st      *state
	creds   *credTable
	sweep   *sweeper
	waiters *waitRegistry
	hub     *hub
	hooks   *webhookTable
	orgs    *orgTable
	// onRevoke are told, after the commit, which credentials were
	// revoked (set up before Start; the writer calls them).
	onRevoke []func([]domain.TokenHash)
	quotas   *quotaTable
	configs  *configTable
	flags    *flagTable
	limits   *limitTable
	access   *accessTable
	// lastCommit is the wall time of the last successful commit (writer
	// goroutine only); trimmed is the highest event seq trimmed away.
	lastCommit time.Time
	trimmed    uint64
	// failedAt is when the last commit failed, nil after a good one.
	failedAt atomic.Pointer[time.Time]
	// restoreTook is how long Start took to restore the state
	// (nanoseconds), for metrics.
	restoreTook atomic.Int64

	queue   chan *intent
	stop    chan struct{}
	exited  chan struct{}
	started atomic.Bool
	once    sync.Once

	stats engineStats
}

// NewEngine returns an engine that is not started yet.
func NewEngine(j ports.Journal, clk ports.Clock, cfg EngineConfig) *Engine {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1024
	}
	if cfg.MaxBatchBytes <= 0 {
		cfg.MaxBatchBytes = 256 << 10
	}
	if cfg.ConfigHistory <= 0 {
		cfg.ConfigHistory = domain.DefaultConfigHistory
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = 250 * time.Millisecond
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = time.Second
	}
	if cfg.RestoreGrace <= 0 {
		cfg.RestoreGrace = 10 * time.Second
	}
	if cfg.KeepEvents == 0 {
		cfg.KeepEvents = 100_000
	}
	if cfg.EventBuffer <= 0 {
		cfg.EventBuffer = 16384
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		journal: j,
		clock:   clk,
		cfg:     cfg,
		log:     cfg.Logger,
		st:      newState(),
		creds:   newCredTable(),
		waiters: newWaitRegistry(),
		hub:     newHub(cfg.EventBuffer),
		hooks:   newWebhookTable(),
		orgs:    newOrgTable(),
		quotas:  newQuotaTable(cfg.Quotas),
		configs: newConfigTable(),
		flags:   newFlagTable(),
		limits:  &limitTable{},
		access:  newAccessTable(),
		queue:   make(chan *intent, 4*cfg.MaxBatch),
		stop:    make(chan struct{}),
		exited:  make(chan struct{}),
	}
	e.sweep = newSweeper(e)
	return e
}

// Start restores the committed state from the journal in one pass, applies
// the restart grace, commits what start-up decided, and starts the writer
// and the expiry sweep. It returns an error, and starts nothing, when the
// journal cannot be read or the start-up batch cannot be committed.
func (e *Engine) Start(ctx context.Context) error {
	began := time.Now()
	snap, err := e.journal.Load(ctx)
	if err != nil {
		return fmt.Errorf("restore state: %w", err)
	}
	e.sweep.track(e.st.restore(snap))
	creds := make([]domain.Change, 0, len(snap.Credentials))
	for _, c := range snap.Credentials {
		creds = append(creds, domain.CredentialAdded{Credential: c})
	}
	e.creds.apply(creds)
	e.hooks.restore(snap.Webhooks, snap.Deliveries)
	e.orgs.restore(snap.Orgs, snap.Members)
	e.access.restore(snap.Teams, snap.ACLs)
	for _, q := range snap.Quotas {
		e.quotas.set(q)
	}
	if err := e.configs.restore(snap); err != nil {
		return fmt.Errorf("restore state: %w", err)
	}
	e.flags.restore(snap.Flags)
	e.trimmed = snap.EventSeq - min(snap.EventSeq, e.cfg.KeepEvents)
	e.hub.reset(snap.EventSeq, e.trimmed)
	graced, ended, err := e.startupBatch(snap)
	if err != nil {
		return err
	}
	took := time.Since(began)
	e.restoreTook.Store(int64(took))
	e.log.Info("state restored", "locks", len(snap.Locks), "sessions", len(snap.Sessions),
		"fencing_counter", uint64(snap.Counter), "credentials", len(snap.Credentials),
		"graced", graced, "sessions_ended", ended,
		"took", took.Round(time.Microsecond).String())
	e.started.Store(true)
	go e.run()
	e.sweep.start()
	return nil
}

// startupBatch gives what expired while the server was down a fresh grace
// (Chubby's grace period after a fail-over: an outage must not cost clients
// their locks), ends sessions that had already expired while it was up, and
// commits all of it before anyone can read the state.
func (e *Engine) startupBatch(snap domain.Snapshot) (graced, ended int, err error) {
	ready := e.clock.Now()
	downSince := snap.AliveAt
	it := &intent{ctx: context.Background(), done: make(chan struct{}), decide: func(x *txn) error {
		for _, s := range snap.Sessions {
			switch {
			case s.AliveAt(ready):
			case s.ExpiresAt.After(downSince):
				s.ExpiresAt = ready.Add(s.TTL)
				x.saveSession(s)
				graced++
			default:
				x.endSession(s, true)
				ended++
			}
		}
		for _, l := range snap.Locks {
			if l.Ephemeral || l.HeldAt(ready) || !l.ExpiresAt.After(downSince) {
				continue
			}
			l.ExpiresAt = ready.Add(e.cfg.RestoreGrace)
			x.save(l)
			graced++
		}
		return nil
	}}
	e.process([]*intent{it}, ready)
	if it.err != nil {
		return 0, 0, fmt.Errorf("commit start-up batch: %w", it.err)
	}
	return graced, ended, nil
}

// Stop stops the sweep and the writer. Intents still queued are failed
// with ErrUnavailable; callers should stop sending requests first.
func (e *Engine) Stop(ctx context.Context) error {
	if !e.started.Load() {
		return nil
	}
	e.once.Do(func() {
		e.sweep.stop()
		e.hub.close()
		close(e.stop)
	})
	select {
	case <-e.exited:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop writer: %w", ctx.Err())
	}
}

// Ping checks that the storage can be read.
func (e *Engine) Ping(ctx context.Context) error { return e.journal.Ping(ctx) }

// intent is one request waiting for the writer. ctx is the requester's:
// the writer refuses an intent whose ctx has ended instead of deciding it,
// so a client that has gone is never granted or queued.
type intent struct {
	ctx    context.Context
	decide func(x *txn) error
	err    error
	done   chan struct{}
	// size is how many bytes the intent may commit beyond its records (a
	// config value), counted against MaxBatchBytes.
	size int
}

// submit hands decide to the writer and waits for the committed outcome.
// A ctx that has ended before the writer decides makes the writer refuse
// the intent with ctx's error, with no effect. Once decided, submit waits
// for the commit (at most one batch) even if ctx ends meanwhile, so that
// the caller always knows whether its change was made: a grant made for a
// client that left during the commit is then revoked by the caller.
func (e *Engine) submit(ctx context.Context, decide func(x *txn) error) error {
	return e.submitSized(ctx, 0, decide)
}

// submitSized is submit for an intent that may commit size bytes of
// values, which the writer spreads over batches of MaxBatchBytes.
func (e *Engine) submitSized(ctx context.Context, size int, decide func(x *txn) error) error {
	if !e.started.Load() {
		return domain.ErrUnavailable
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	it := &intent{ctx: ctx, decide: decide, done: make(chan struct{}), size: size}
	select {
	case e.queue <- it:
	case <-e.stop:
		return domain.ErrUnavailable
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-it.done:
		return it.err
	case <-e.exited:
		select {
		case <-it.done:
			return it.err
		default:
			return domain.ErrUnavailable
		}
	}
}

// do is submit with a typed result: decide's value is returned once its
// batch has committed, and the zero T with the error otherwise.
func do[T any](ctx context.Context, e *Engine, decide func(x *txn) (T, error)) (T, error) {
	var out T
	err := e.submit(ctx, func(x *txn) error {
		v, err := decide(x)
		out = v
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// heavyValue is the size from which a value waits in the writer's heavy
// lane: large config values are written in batches of their own.
const heavyValue = 16 << 10

// run is the writer loop: take whatever has arrived (never wait for more),
// decide, commit once, publish, answer. Requests with a large value
// (heavyValue or more) wait in a lane of their own and join a batch only
// when the batch before carried none, or nothing else waits, and then only
// up to MaxBatchBytes (at least one). So a lock request never waits for
// more than one commit of large values, however many clients write them:
// their writes take turns with everything else.
func (e *Engine) run() {
	defer close(e.exited)
	batch := make([]*intent, 0, e.cfg.MaxBatch)
	var heavy []*intent // oldest first
	lastHeavy := false
	take := func(it *intent) {
		if it.size >= heavyValue {
			heavy = append(heavy, it)
		} else {
			batch = append(batch, it)
		}
	}
	for {
		batch = batch[:0]
		if len(heavy) == 0 {
			select {
			case it := <-e.queue:
				take(it)
			case <-e.stop:
				e.fail(heavy)
				e.failQueued()
				return
			}
		}
	drain:
		for len(batch) < e.cfg.MaxBatch {
			select {
			case it := <-e.queue:
				take(it)
			default:
				break drain
			}
		}
		size := 0
		if !lastHeavy || len(batch) == 0 {
			for len(heavy) > 0 && len(batch) < e.cfg.MaxBatch && (size == 0 || size+heavy[0].size <= e.cfg.MaxBatchBytes) {
				size += heavy[0].size
				batch = append(batch, heavy[0])
				heavy[0] = nil
				heavy = heavy[1:]
			}
		}
		lastHeavy = size > 0
		e.process(batch, e.clock.Now())
	}
}

// fail answers intents the writer holds with ErrUnavailable.
func (e *Engine) fail(its []*intent) {
	for _, it := range its {
		it.err = domain.ErrUnavailable
		close(it.done)
	}
}

func (e *Engine) failQueued() {
	for {
		select {
		case it := <-e.queue:
			it.err = domain.ErrUnavailable
			close(it.done)
		default:
			return
		}
	}
}

// process decides and commits one batch. An intent whose requester has
// gone (its ctx ended) is refused before it is decided.
func (e *Engine) process(batch []*intent, now time.Time) {
	x := newTxn(e, now)
	for _, it := range batch {
		if err := it.ctx.Err(); err != nil {
			it.err = err
			continue
		}
		it.err = it.decide(x)
	}
	for i := 0; i < len(x.freed); i++ { // serving a waiter may free more
		e.serveWaiters(x, x.freed[i])
	}
	if x.eventSeq > e.trimmed+e.cfg.KeepEvents+e.cfg.KeepEvents/10 {
		// Never trim what a webhook has not handled yet: its deliveries
		// would be lost.
		through := x.eventSeq - e.cfg.KeepEvents
		if c, ok := e.hooks.minCursor(); ok {
			through = min(through, c)
		}
		if through > e.trimmed {
			x.add(domain.EventsTrimmed{Through: through})
		}
	}
	if err := e.commit(x, len(batch)); err != nil {
		for _, it := range batch {
			it.err = err
		}
		// Waiters queued by this batch were never acknowledged: take
		// them out again, so none is left queued for a client that got
		// an error.
		for _, w := range x.queued {
			e.waiters.remove(w)
		}
		for _, w := range x.answered {
			w.finish(domain.Lock{}, err)
		}
	} else {
		for _, w := range x.answered {
			w.finish(w.grant, w.err)
		}
	}
	for _, it := range batch {
		close(it.done)
	}
}

// commit makes the batch durable and publishes it; a batch without changes
// commits only when the heartbeat is due. Returns the error to give every
// request of the batch when the commit failed; memory is then unchanged.
func (e *Engine) commit(x *txn, requests int) error {
	if len(x.changes) == 0 && x.now.Sub(e.lastCommit) < e.cfg.Heartbeat {
		return nil
	}
	began := time.Now()
	err := e.journal.Commit(context.Background(), domain.Batch{Changes: x.changes, Counter: x.counter, AliveAt: x.now})
	took := time.Since(began)
	e.stats.record(requests, len(x.changes), took)
	if e.cfg.Observer != nil {
		e.cfg.Observer.ObserveCommit(requests, took, err == nil)
	}
	if err != nil {
		e.failedAt.Store(&x.now)
		e.log.Error("commit failed; batch refused", "requests", requests, "changes", len(x.changes), "err", err)
		// The tokens of a refused batch are never handed out again, even
		// if the failed commit reached the disk after all.
		e.st.raiseCounter(x.counter)
		return fmt.Errorf("commit: %w", errors.Join(domain.ErrUnavailable, err))
	}
	e.lastCommit = x.now
	e.failedAt.Store(nil)
	if t, ok := lastTrim(x.changes); ok {
		e.trimmed = t
	}
	e.fold(x)
	return nil
}

func lastTrim(changes []domain.Change) (uint64, bool) {
	for i := len(changes) - 1; i >= 0; i-- {
		if t, ok := changes[i].(domain.EventsTrimmed); ok {
			return t.Through, true
		}
	}
	return 0, false
}

// fold publishes a committed batch to readers and the sweep, and then its
// events to watchers and webhooks.
func (e *Engine) fold(x *txn) {
	e.sweep.track(e.st.apply(x.changes, x.counter, x.eventSeq))
	e.st.addEnded(x.expired)
	if revoked := e.creds.apply(x.changes); len(revoked) > 0 {
		for _, fn := range e.onRevoke {
			fn(revoked)
		}
	}
	e.hooks.apply(x.changes)
	e.orgs.apply(x.changes)
	e.quotas.apply(x.changes)
	e.configs.apply(x.changes, x.eventSeq)
	e.flags.apply(x.changes)
	e.access.apply(x.changes)
	e.hub.publish(x.changes, e.trimmed)
}

// lastIssued is the highest event seq committed: the state's, which runs a
// moment ahead of what the hub has published.
func (e *Engine) lastIssued() uint64 {
	head, _ := e.hub.position()
	return max(head, e.st.lastEvent())
}

// Stats is a snapshot of the writer's counters, for metrics.
type Stats struct {
	Batches     uint64        // committed or failed batches that had changes
	Requests    uint64        // intents in those batches
	Changes     uint64        // changes in those batches
	CommitTime  time.Duration // total time spent in Journal.Commit
	LastBatch   int           // requests in the most recent batch
	LockRecords int           // lock records in memory (held or awaiting sweep)
}

type engineStats struct {
	batches, requests, changes, commitNanos atomic.Uint64
	last                                    atomic.Int64
}

func (s *engineStats) record(requests, changes int, took time.Duration) {
	s.batches.Add(1)
	s.requests.Add(uint64(requests))
	s.changes.Add(uint64(changes))
	s.commitNanos.Add(uint64(took))
	s.last.Store(int64(requests))
}

// Stats returns the writer's counters.
func (e *Engine) Stats() Stats {
	return Stats{
		Batches:     e.stats.batches.Load(),
		Requests:    e.stats.requests.Load(),
		Changes:     e.stats.changes.Load(),
		CommitTime:  time.Duration(e.stats.commitNanos.Load()),
		LastBatch:   int(e.stats.last.Load()),
		LockRecords: e.st.size(),
	}
}

// The read side. Services read committed state through these methods only;
// none touches storage.

// lock returns the committed record of key, with an ephemeral lock's
// expiry following its session (the zero Lock if there is none).
func (e *Engine) lock(key domain.LockKey) domain.Lock { return e.st.lock(key) }

// held returns up to limit locks of org held now whose names match p and
// sort after 'after', in name order, plus whether more may follow.
func (e *Engine) held(org domain.OrgID, p domain.Prefix, after domain.LockName, limit int) ([]domain.Lock, bool) {
	return e.st.held(org, p, after, limit, e.clock.Now())
}

// session returns the committed session with that id (zero if none) and
// the lock records it holds.
func (e *Engine) session(id domain.SessionID) (domain.Session, []domain.Lock) {
	s := e.st.session(id)
	if !s.Exists() {
		return s, nil
	}
	keys := e.st.sessionLocks(id)
	locks := make([]domain.Lock, 0, len(keys))
	for _, k := range keys {
		locks = append(locks, e.st.lock(k))
	}
	return s, locks
}

// endedSession returns a session that expired recently, so that its owner
// is told "expired" rather than "not found".
func (e *Engine) endedSession(id domain.SessionID) (domain.Session, bool) {
	return e.st.endedSession(id)
}

// credential returns the stored credential with hash h.
func (e *Engine) credential(h domain.TokenHash) (domain.Credential, bool) { return e.creds.lookup(h) }

// hasCredentials reports whether any credential is stored.
func (e *Engine) hasCredentials() bool { return e.creds.len() > 0 }

// now is the engine's clock.
func (e *Engine) now() time.Time { return e.clock.Now() }

// Pending returns how many requests wait for the writer to take them into
// a batch (for tests and metrics).
func (e *Engine) Pending() int { return len(e.queue) }

// Health is what /health reports about the writer.
type Health struct {
	// CommitFailedAt is when the last commit failed; zero when the last
	// commit succeeded (or none was attempted yet).
	CommitFailedAt time.Time
}

// Health reports whether the last commit failed. The writer commits at
// least once a second (the heartbeat), so a recovered disk shows within
// about a second.
func (e *Engine) Health() Health {
	if t := e.failedAt.Load(); t != nil {
		return Health{CommitFailedAt: *t}
	}
	return Health{}
}
