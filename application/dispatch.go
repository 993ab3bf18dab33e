package application

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
)

// DispatchConfig tunes webhook delivery. The zero value is usable.
type DispatchConfig struct {
	// Workers caps the delivery attempts in flight across all webhooks;
	// the rest wait, in their webhook's order, with nothing dropped.
	Workers int
	// Attempts is how often one delivery is tried before it is given up
	// as failed (12 by default).
	Attempts int
	// Backoff is the wait before the first retry; each retry waits twice
	// as long as the one before (with ±20 % jitter), at most MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Timeout bounds one attempt (5 s by default).
	Timeout time.Duration
	// AdvanceEvery is how often a webhook's progress over events it does
	// not want is stored, so that storage may trim them.
	AdvanceEvery time.Duration
	Logger       *slog.Logger
}

// Dispatcher delivers events to webhooks, at least once and, per webhook,
// in seq order: each webhook has a lane that reads the event stream from
// its stored cursor, and a delivery that fails blocks its lane (not the
// others) until it succeeds or is given up. Every attempt's outcome and
// every advance of the cursor go through the writer, so deliveries
// survive a restart. Nothing here runs on the writer goroutine: a dead
// receiver never delays a commit.
type Dispatcher struct {
	e    *Engine
	send ports.WebhookSender
	cfg  DispatchConfig
	log  *slog.Logger
	sem  chan struct{}

	mu    sync.Mutex
	lanes map[domain.WebhookID]context.CancelFunc
	stop  chan struct{}
	done  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

// NewDispatcher returns a dispatcher that is not started yet.
func NewDispatcher(e *Engine, send ports.WebhookSender, cfg DispatchConfig) *Dispatcher {
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 12
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.AdvanceEvery <= 0 {
		cfg.AdvanceEvery = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{e: e, send: send, cfg: cfg, log: cfg.Logger, sem: make(chan struct{}, cfg.Workers),
		lanes: make(map[domain.WebhookID]context.CancelFunc), stop: make(chan struct{}), done: make(chan struct{})}
}

// Start runs a lane for every webhook, and for each one created later.
// Call it after the engine started.
func (d *Dispatcher) Start() { go d.loop() }

// Stop ends every lane; an attempt in flight is abandoned (it is tried
// again after the restart, under the same delivery id).
func (d *Dispatcher) Stop(ctx context.Context) error {
	d.once.Do(func() { close(d.stop) })
	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop webhook delivery: %w", ctx.Err())
	}
}

func (d *Dispatcher) loop() {
	defer close(d.done)
	for {
		changed := d.e.hooks.watch()
		d.sync()
		select {
		case <-changed:
		case <-d.stop:
			d.mu.Lock()
			for _, cancel := range d.lanes {
				cancel()
			}
			d.mu.Unlock()
			d.wg.Wait()
			return
		}
	}
}

// sync starts a lane for each new webhook and stops those of deleted ones.
func (d *Dispatcher) sync() {
	hooks := d.e.hooks.all()
	d.mu.Lock()
	defer d.mu.Unlock()
	live := make(map[domain.WebhookID]bool, len(hooks))
	for _, w := range hooks {
		live[w.ID] = true
		if _, ok := d.lanes[w.ID]; ok {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		d.lanes[w.ID] = cancel
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.run(ctx, w)
		}()
	}
	for id, cancel := range d.lanes {
		if !live[id] {
			cancel()
			delete(d.lanes, id)
		}
	}
}

// run is one webhook's lane.
func (d *Dispatcher) run(ctx context.Context, w domain.Webhook) {
	cursor, stored := w.Cursor, w.Cursor
	lastStore := time.Now()
	for ctx.Err() == nil {
		changed := d.e.hub.changed()
		evs, _, err := d.e.eventsAfter(ctx, cursor, 256)
		switch {
		case errors.Is(err, errHubClosed) || ctx.Err() != nil:
			return
		case errors.Is(err, errTrimmed):
			// Storage keeps what webhooks have not handled; only a
			// database replaced under the server gets here.
			_, floor := d.e.hub.position()
			d.log.Error("webhook events were trimmed before delivery; skipping them", "webhook", w.ID, "from", cursor+1, "through", floor)
			cursor = max(cursor, floor)
			continue
		case err != nil:
			d.log.Error("webhook lane cannot read events; retrying", "webhook", w.ID, "err", err)
			if !sleep(ctx, d.cfg.Backoff) {
				return
			}
			continue
		}
		if len(evs) == 0 {
			if !d.idle(ctx, w.ID, changed, &cursor, &stored, &lastStore) {
				return
			}
			continue
		}
		for _, ev := range evs {
			if !w.Wants(ev) || !d.e.observes(domain.Principal{Org: w.Org, User: w.Owner}, ev) {
				cursor = ev.Seq
				continue
			}
			if !d.deliver(ctx, w, ev) {
				return
			}
			cursor, stored, lastStore = ev.Seq, ev.Seq, time.Now()
		}
	}
}

// idle waits for new events while a lane has nothing to deliver; when the
// lane skipped events it does not want, their progress is stored at most
// every AdvanceEvery. Returns false when ctx ended.
func (d *Dispatcher) idle(ctx context.Context, id domain.WebhookID, changed <-chan struct{}, cursor, stored *uint64, lastStore *time.Time) bool {
	var due <-chan time.Time
	if *cursor > *stored {
		wait := d.cfg.AdvanceEvery - time.Since(*lastStore)
		if wait <= 0 {
			if d.advance(id, *cursor) == nil {
				*stored, *lastStore = *cursor, time.Now()
			}
			return ctx.Err() == nil
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		due = t.C
	}
	select {
	case <-changed:
	case <-due:
	case <-ctx.Done():
		return false
	}
	return true
}

// advance stores a lane's progress over events it does not want.
func (d *Dispatcher) advance(id domain.WebhookID, cursor uint64) error {
	return d.e.submit(context.Background(), func(x *txn) error {
		if _, ok := x.webhook(id); ok {
			x.add(domain.WebhookAdvanced{ID: id, Cursor: cursor})
		}
		return nil
	})
}

// deliver tries ev until the receiver takes it or the attempts run out,
// storing each attempt's outcome. It resumes a delivery that a restart
// interrupted, with its attempts so far. Returns false when ctx ended (the
// webhook was deleted or the server stops).
func (d *Dispatcher) deliver(ctx context.Context, w domain.Webhook, ev domain.Event) bool {
	rec, ok := d.e.hooks.delivery(w.ID, ev.Seq)
	if !ok {
		rec = domain.Delivery{Webhook: w.ID, Seq: ev.Seq, Kind: ev.Kind, State: domain.DeliveryPending}
	}
	for rec.State == domain.DeliveryPending {
		if rec.Attempts > 0 {
			if !sleep(ctx, rec.NextAt.Sub(d.e.now())) {
				return false
			}
		}
		select {
		case d.sem <- struct{}{}:
		case <-ctx.Done():
			return false
		}
		at := d.e.now()
		actx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
		status, err := d.send.Send(actx, ports.WebhookRequest{URL: w.URL, Secret: w.Secret, DeliveryID: rec.ID(), Event: ev, At: at})
		cancel()
		<-d.sem
		if ctx.Err() != nil {
			return false
		}
		rec.Attempts++
		rec.LastStatus, rec.LastError, rec.UpdatedAt, rec.NextAt = status, "", at, time.Time{}
		switch {
		case err == nil && status >= 200 && status < 300:
			rec.State = domain.DeliveryDelivered
		case err != nil:
			rec.LastError = err.Error()
		default:
			rec.LastError = fmt.Sprintf("the receiver answered %d", status)
		}
		if rec.State == domain.DeliveryPending {
			if rec.Attempts >= d.cfg.Attempts {
				rec.State = domain.DeliveryFailed
			} else {
				rec.NextAt = at.Add(d.backoff(rec.Attempts))
			}
		}
		if rec.State == domain.DeliveryFailed {
			d.log.Warn("webhook delivery failed; giving up", "webhook", w.ID, "seq", ev.Seq, "attempts", rec.Attempts, "last_error", rec.LastError)
		}
		if err := d.record(rec); err != nil {
			d.log.Error("cannot store a webhook delivery's outcome", "webhook", w.ID, "seq", ev.Seq, "err", err)
		}
	}
	return true
}

// record stores a delivery's outcome; a finished one also moves the
// webhook's cursor past its event, in the same commit.
func (d *Dispatcher) record(rec domain.Delivery) error {
	return d.e.submit(context.Background(), func(x *txn) error {
		if _, ok := x.webhook(rec.Webhook); !ok {
			return nil
		}
		x.add(domain.DeliveryRecorded{Delivery: rec})
		if rec.State != domain.DeliveryPending {
			x.add(domain.WebhookAdvanced{ID: rec.Webhook, Cursor: rec.Seq})
		}
		return nil
	})
}

// backoff is the wait after the n-th failed attempt: Backoff doubled n-1
// times, at most MaxBackoff, with ±20 % jitter so that receivers that
// fail together are not retried together.
func (d *Dispatcher) backoff(n int) time.Duration {
	b := d.cfg.Backoff
	for i := 1; i < n && b < d.cfg.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, d.cfg.MaxBackoff)
	return time.Duration(float64(b) * (0.8 + 0.4*rand.Float64()))
}

// sleep waits d or until ctx ends; it reports whether the wait ran out.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
