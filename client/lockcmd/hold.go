package lockcmd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/octostore/octostore/client"
)

// maxServerWait is the server's cap on one blocking acquire; a longer
// --wait queues again.
const maxServerWait = 60 * time.Second

type holdOpts struct {
	common
	ttl       time.Duration
	wait      time.Duration
	metadata  string
	killAfter time.Duration
}

func runHold(ctx context.Context, args []string, env Env) (int, error) {
	var o holdOpts
	fs := newFlags("hold", &o.common)
	fs.DurationVar(&o.ttl, "ttl", 30*time.Second, "session TTL (10s-300s): how long the lock outlives a silent holder")
	fs.DurationVar(&o.wait, "wait", 0, "how long to wait for the lock (0: fail at once if it is busy)")
	fs.StringVar(&o.metadata, "metadata", "", "text stored with the lock, shown to readers (e.g. the leader's address)")
	fs.DurationVar(&o.killAfter, "kill-after", 10*time.Second, "after SIGTERM, how long COMMAND has before SIGKILL")
	pos, err := parse(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	if len(pos) < 3 || pos[1] != "--" {
		return ExitUsage, usagef("usage: octostore lock hold NAME [flags] -- COMMAND [ARGS...]")
	}
	name, command := pos[0], pos[2:]
	switch {
	case o.ttl < 10*time.Second || o.ttl > 300*time.Second || o.ttl%time.Second != 0:
		return ExitUsage, usagef("--ttl must be whole seconds from 10s to 300s, got %s", o.ttl)
	case o.wait < 0:
		return ExitUsage, usagef("--wait must not be negative, got %s", o.wait)
	case o.killAfter < 0:
		return ExitUsage, usagef("--kill-after must not be negative, got %s", o.killAfter)
	}
	c, err := o.client(env)
	if err != nil {
		return ExitUsage, err
	}
	h := &holder{c: c, o: o, name: name, env: env}
	return h.run(ctx, command)
}

// holder runs one `lock hold`.
type holder struct {
	c    *client.Client
	o    holdOpts
	name string
	env  Env
	sigs chan os.Signal
}

func (h *holder) logf(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if h.o.json {
		_ = printJSON(h.env.Stderr, map[string]any{"event": "warning", "name": h.name, "message": msg})
		return
	}
	fmt.Fprintf(h.env.Stderr, "octostore lock hold %s: %s\n", h.name, msg)
}

// note prints one of hold's milestones as a JSON line on stderr with
// --json (nothing without: the command's own output is what matters).
func (h *holder) note(event string, fields map[string]any) {
	if !h.o.json {
		return
	}
	line := map[string]any{"event": event, "name": h.name}
	for k, v := range fields {
		line[k] = v
	}
	_ = printJSON(h.env.Stderr, line)
}

func (h *holder) run(ctx context.Context, command []string) (int, error) {
	h.sigs = make(chan os.Signal, 4)
	signal.Notify(h.sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(h.sigs)

	began := time.Now()
	sess, err := h.c.OpenSession(ctx, h.o.ttl)
	if err != nil {
		return h.interrupted(ctx, ExitFailure), fmt.Errorf("open a session: %w", err)
	}
	k := newKeeper(h.c, sess, h.o.ttl, began)
	defer k.stop()

	lease, code, err := h.acquire(ctx, sess, k)
	if err != nil || code != ExitOK {
		h.cleanup(sess.ID, "")
		return code, err
	}
	return h.supervise(command, sess, lease, k)
}

// acquire queues for the lock (again and again for a --wait longer than
// the server allows one request to wait), keeping the session alive
// meanwhile.
func (h *holder) acquire(ctx context.Context, sess client.Session, k *keeper) (client.Lease, int, error) {
	until := time.Now().Add(h.o.wait)
	meta := h.o.metadata
	var shown progress
	defer shown.done(h.env)
	for {
		wait := min(time.Until(until), maxServerWait).Round(time.Second)
		if wait < 0 {
			wait = 0
		}
		actx, cancel := context.WithCancel(ctx)
		type result struct {
			l   client.Lease
			err error
		}
		res := make(chan result, 1)
		go func() {
			l, err := h.c.Acquire(actx, h.name, client.AcquireOptions{SessionID: sess.ID, Ephemeral: true, Metadata: &meta, Wait: wait})
			res <- result{l, err}
		}()
		var r result
		tick := time.NewTicker(3 * time.Second)
		if h.env.Terminal && wait > 0 {
			shown.show(ctx, h)
		}
	waiting:
		for {
			select {
			case r = <-res:
				break waiting
			case <-tick.C:
				if h.env.Terminal {
					shown.show(ctx, h)
				}
			case sig := <-h.sigs:
				cancel()
				<-res
				tick.Stop()
				return client.Lease{}, signalStatus(sig), nil
			case <-k.lost:
				cancel()
				<-res
				tick.Stop()
				return client.Lease{}, ExitFailure, errors.New("the session expired while waiting for the lock")
			case <-ctx.Done():
				cancel()
				<-res
				tick.Stop()
				return client.Lease{}, 130, nil
			}
		}
		tick.Stop()
		cancel()
		switch {
		case r.err == nil:
			return r.l, ExitOK, nil
		case client.IsCode(r.err, "lock_held") || client.IsCode(r.err, "lock_delayed"):
			if time.Until(until) > 0 {
				continue
			}
			return client.Lease{}, ExitWaitExhausted, fmt.Errorf("did not get the lock within --wait %s: %w", h.o.wait, r.err)
		default:
			return client.Lease{}, ExitFailure, fmt.Errorf("acquire: %w", r.err)
		}
	}
}

// supervise runs COMMAND while the lock is held.
func (h *holder) supervise(command []string, sess client.Session, lease client.Lease, k *keeper) (int, error) {
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(append([]string{}, h.env.Environ...),
		"OCTOSTORE_LOCK_NAME="+h.name, "OCTOSTORE_FENCING_TOKEN="+strconv.FormatUint(lease.FencingToken, 10))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group: signals reach its children too
	if err := cmd.Start(); err != nil {
		h.cleanup(sess.ID, lease.LeaseID)
		return ExitFailure, fmt.Errorf("start %s: %w", command[0], err)
	}
	h.note("acquired", map[string]any{"fencing_token": lease.FencingToken, "session_id": sess.ID, "pid": cmd.Process.Pid})
	exited := make(chan int, 1)
	go func() {
		err := cmd.Wait()
		exited <- exitStatus(cmd.ProcessState, err)
	}()
	select {
	case code := <-exited:
		k.stop()
		h.cleanup(sess.ID, lease.LeaseID)
		h.note("released", map[string]any{"exit_status": code})
		return code, nil
	case <-k.lost:
		h.logf("lost the lock (%s); stopping %s", k.why(), command[0])
		h.stop(cmd, exited, syscall.SIGTERM)
		h.cleanup(sess.ID, "")
		h.note("lost", map[string]any{"reason": k.why(), "exit_status": ExitLost})
		return ExitLost, nil
	case sig := <-h.sigs:
		h.stop(cmd, exited, sig.(syscall.Signal))
		k.stop()
		h.cleanup(sess.ID, lease.LeaseID)
		h.note("released", map[string]any{"signal": sig.String(), "exit_status": signalStatus(sig)})
		return signalStatus(sig), nil
	}
}

// stop sends sig to COMMAND's process group and SIGKILL after --kill-after.
func (h *holder) stop(cmd *exec.Cmd, exited <-chan int, sig syscall.Signal) {
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	t := time.NewTimer(h.o.killAfter)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
}

// cleanup releases the lease (when there is one) and closes the session,
// within a bound: the server frees the lock by itself when the session
// expires, so a failure here costs only time.
func (h *holder) cleanup(session, lease string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if lease != "" {
		if err := h.c.Release(ctx, h.name, lease); err != nil && !client.IsCode(err, "lease_not_current") {
			h.logf("release: %v", err)
		}
	}
	if err := h.c.CloseSession(ctx, session); err != nil && !client.IsCode(err, "session_expired") && !client.IsCode(err, "session_not_found") {
		h.logf("close the session: %v", err)
	}
}

// interrupted turns an ended ctx (a signal) into its status.
func (h *holder) interrupted(ctx context.Context, otherwise int) int {
	select {
	case sig := <-h.sigs:
		return signalStatus(sig)
	default:
	}
	if ctx.Err() != nil {
		return 130
	}
	return otherwise
}

func signalStatus(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 130
}

// exitStatus is COMMAND's status as a shell reports it.
func exitStatus(ps *os.ProcessState, err error) int {
	if ps == nil {
		return ExitFailure
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if c := ps.ExitCode(); c >= 0 {
		return c
	}
	_ = err
	return ExitFailure
}

// keeper keeps a session alive and closes lost when it can no longer
// confirm it: the server says it ended, or the deadline passed without a
// confirmed keepalive. The deadline is measured on the local monotonic
// clock from the start of the request that set it, so a slow network
// shortens it, never lengthens it.
type keeper struct {
	lost   chan struct{}
	quit   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	reason string
}

func newKeeper(c *client.Client, s client.Session, ttl time.Duration, began time.Time) *keeper {
	k := &keeper{lost: make(chan struct{}), quit: make(chan struct{})}
	go k.run(c, s, ttl, began.Add(ttl))
	return k
}

func (k *keeper) stop() { k.once.Do(func() { close(k.quit) }) }

func (k *keeper) why() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.reason
}

func (k *keeper) lose(reason string) {
	k.mu.Lock()
	k.reason = reason
	k.mu.Unlock()
	close(k.lost)
}

func (k *keeper) run(c *client.Client, s client.Session, ttl time.Duration, deadline time.Time) {
	interval := time.Duration(max(s.KeepaliveInterval, 1)) * time.Second
	next := interval
	for {
		// Jitter, so that many holders do not keep alive in step.
		wait := time.Duration(float64(next) * (0.9 + 0.2*rand.Float64()))
		wait = min(wait, time.Until(deadline))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-k.quit:
			t.Stop()
			return
		}
		if !time.Now().Before(deadline) {
			k.lose("no keepalive was confirmed before the session's deadline")
			return
		}
		began := time.Now()
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		_, err := c.KeepAlive(ctx, s.ID)
		cancel()
		switch {
		case err == nil:
			deadline, next = began.Add(ttl), interval
		case client.IsCode(err, "session_expired") || client.IsCode(err, "session_not_found"):
			k.lose("the server ended the session: " + err.Error())
			return
		default:
			next = time.Second // retry soon; the deadline decides
		}
	}
}
