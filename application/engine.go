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
	// SweepInterval is how often expired locks are looked for; the sweep
	// frees them within one interval of their expiry.
	SweepInterval time.Duration
	Logger        *slog.Logger
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

	locks *lockTable
	creds *credTable
	sweep *sweeper

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
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = 250 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		journal: j,
		clock:   clk,
		cfg:     cfg,
		log:     cfg.Logger,
		locks:   newLockTable(),
		creds:   newCredTable(),
		queue:   make(chan *intent, 4*cfg.MaxBatch),
		stop:    make(chan struct{}),
		exited:  make(chan struct{}),
	}
	e.sweep = newSweeper(e)
	return e
}

// Start restores the committed state from the journal in one pass and
// starts the writer and the expiry sweep. It returns an error, and starts
// nothing, when the journal cannot be read.
func (e *Engine) Start(ctx context.Context) error {
	began := time.Now()
	snap, err := e.journal.Load(ctx)
	if err != nil {
		return fmt.Errorf("restore state: %w", err)
	}
	e.sweep.track(e.locks.restore(snap.Locks, snap.Counter))
	creds := make([]domain.Change, 0, len(snap.Credentials))
	for _, c := range snap.Credentials {
		creds = append(creds, domain.CredentialAdded{Credential: c})
	}
	e.creds.apply(creds)
	e.log.Info("state restored", "locks", len(snap.Locks), "fencing_counter", uint64(snap.Counter),
		"credentials", len(snap.Credentials), "took", time.Since(began).Round(time.Microsecond).String())
	e.started.Store(true)
	go e.run()
	e.sweep.start()
	return nil
}

// Stop stops the sweep and the writer. Intents still queued are failed
// with ErrUnavailable; callers should stop sending requests first.
func (e *Engine) Stop(ctx context.Context) error {
	if !e.started.Load() {
		return nil
	}
	e.once.Do(func() {
		e.sweep.stop()
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

// intent is one request waiting for the writer.
type intent struct {
	decide func(x *txn) (any, error)
	result any
	err    error
	done   chan struct{}
}

// txn is the working copy a batch is decided against: the committed state
// plus the effects of the batch's earlier intents. An intent's decide
// function must make every check before its first mutation, so a refused
// intent leaves no trace.
type txn struct {
	locks   *lockTable
	overlay map[domain.LockKey]domain.Lock
	counter domain.FencingToken
	changes []domain.Change
	now     time.Time
}

// lock returns the current record of key (the zero Lock if free).
func (x *txn) lock(key domain.LockKey) domain.Lock {
	if l, ok := x.overlay[key]; ok {
		return l
	}
	return x.locks.get(key)
}

// save records l as the new state of its lock and raises the counter.
func (x *txn) save(l domain.Lock) {
	x.overlay[l.Key] = l
	if x.counter < l.Token {
		x.counter = l.Token
	}
	x.changes = append(x.changes, domain.LockSaved{Lock: l})
}

// remove deletes the record of key.
func (x *txn) remove(key domain.LockKey) {
	x.overlay[key] = domain.Lock{}
	x.changes = append(x.changes, domain.LockDeleted{Key: key})
}

// add records a change that has no working-copy state of its own.
func (x *txn) add(c domain.Change) { x.changes = append(x.changes, c) }

// submit hands decide to the writer and waits for the committed outcome.
// When ctx ends first the caller gets ctx's error, although the intent may
// still be committed; a client that gave up cannot tell either way, which
// is why clients retry with their lease id rather than assume.
func (e *Engine) submit(ctx context.Context, decide func(x *txn) (any, error)) (any, error) {
	if !e.started.Load() {
		return nil, domain.ErrUnavailable
	}
	it := &intent{decide: decide, done: make(chan struct{})}
	select {
	case e.queue <- it:
	case <-e.stop:
		return nil, domain.ErrUnavailable
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-it.done:
		return it.result, it.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-e.exited:
		select {
		case <-it.done:
			return it.result, it.err
		default:
			return nil, domain.ErrUnavailable
		}
	}
}

// run is the writer loop: take whatever has arrived (never wait for more),
// decide, commit once, publish, answer.
func (e *Engine) run() {
	defer close(e.exited)
	batch := make([]*intent, 0, e.cfg.MaxBatch)
	for {
		batch = batch[:0]
		select {
		case it := <-e.queue:
			batch = append(batch, it)
		case <-e.stop:
			e.failQueued()
			return
		}
	drain:
		for len(batch) < e.cfg.MaxBatch {
			select {
			case it := <-e.queue:
				batch = append(batch, it)
			default:
				break drain
			}
		}
		e.process(batch)
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

// process decides and commits one batch.
func (e *Engine) process(batch []*intent) {
	x := &txn{
		locks:   e.locks,
		overlay: make(map[domain.LockKey]domain.Lock, len(batch)),
		counter: e.locks.lastToken(),
		now:     e.clock.Now(),
	}
	for _, it := range batch {
		it.result, it.err = it.decide(x)
	}
	if len(x.changes) > 0 {
		began := time.Now()
		err := e.journal.Commit(context.Background(), domain.Batch{Changes: x.changes, Counter: x.counter})
		e.stats.record(len(batch), len(x.changes), time.Since(began))
		if err != nil {
			e.log.Error("commit failed; batch refused", "requests", len(batch), "changes", len(x.changes), "err", err)
			// The tokens of a refused batch are never handed out again,
			// even if the failed commit reached the disk after all.
			e.locks.raiseCounter(x.counter)
			failed := fmt.Errorf("commit: %w", errors.Join(domain.ErrUnavailable, err))
			for _, it := range batch {
				it.result, it.err = nil, failed
			}
		} else {
			e.fold(x.changes, x.counter)
		}
	}
	for _, it := range batch {
		close(it.done)
	}
}

// fold publishes committed changes to readers and the sweep.
func (e *Engine) fold(changes []domain.Change, counter domain.FencingToken) {
	e.sweep.track(e.locks.apply(changes, counter))
	e.creds.apply(changes)
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
		LockRecords: e.locks.size(),
	}
}
