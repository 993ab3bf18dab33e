package lockcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/octostore/octostore/client"
)

// wireTime is how the server writes times: UTC with milliseconds.
const wireTime = "2006-01-02T15:04:05.000Z07:00"

// progress is the one line hold keeps up to date on a terminal while it
// waits: who holds the lock, until when, how many are queued.
type progress struct{ shown bool }

func (p *progress) show(ctx context.Context, h *holder) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	l, err := h.c.Get(ctx, h.name)
	if err != nil {
		return
	}
	fmt.Fprintf(h.env.Stderr, "\r\033[Kwaiting for %s: %s", h.name, describe(l))
	p.shown = true
}

func (p *progress) done(env Env) {
	if p.shown {
		fmt.Fprint(env.Stderr, "\r\033[K")
	}
}

// describe says in words what l's state is.
func describe(l client.Lock) string {
	switch l.Status {
	case "held":
		who := l.Holder
		if l.Owner != "" {
			who += " (owner " + l.Owner + ")"
		}
		s := fmt.Sprintf("held by %s, fencing token %d", who, l.FencingToken)
		if l.ExpiresAt != nil {
			s += ", until " + l.ExpiresAt.UTC().Format(wireTime)
		}
		if l.Metadata != "" {
			s += fmt.Sprintf(", metadata %q", l.Metadata)
		}
		return s + fmt.Sprintf(", %d queued", l.Waiters)
	case "delayed":
		s := "in its lock delay"
		if l.AvailableAt != nil {
			s += " until " + l.AvailableAt.UTC().Format(wireTime)
		}
		return s + fmt.Sprintf(", %d queued", l.Waiters)
	}
	return fmt.Sprintf("free, %d queued", l.Waiters)
}

func printJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func runStatus(ctx context.Context, args []string, env Env) (int, error) {
	var c common
	fs := newFlags("status", &c)
	pos, err := parse(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	name, err := one(pos, "lock NAME")
	if err != nil {
		return ExitUsage, err
	}
	cl, err := c.client(env)
	if err != nil {
		return ExitUsage, err
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	l, err := cl.Get(ctx, name)
	if err != nil {
		return ExitFailure, err
	}
	if c.json {
		return ExitOK, printJSON(env.Stdout, l)
	}
	_, err = fmt.Fprintf(env.Stdout, "%s: %s\n", l.Name, describe(l))
	return ExitOK, err
}

func runList(ctx context.Context, args []string, env Env) (int, error) {
	var c common
	fs := newFlags("list", &c)
	prefix := fs.String("prefix", "", "only locks equal to or below this path (component by component)")
	pos, err := parse(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	if len(pos) != 0 {
		return ExitUsage, usagef("list takes no arguments (did you mean --prefix %s?)", pos[0])
	}
	cl, err := c.client(env)
	if err != nil {
		return ExitUsage, err
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	locks, err := cl.List(ctx, *prefix)
	if err != nil {
		return ExitFailure, err
	}
	if c.json {
		for _, l := range locks {
			if err := printJSON(env.Stdout, l); err != nil {
				return ExitFailure, err
			}
		}
		return ExitOK, nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tHOLDER\tTOKEN\tEXPIRES\tMETADATA")
	for _, l := range locks {
		exp := ""
		if l.ExpiresAt != nil {
			exp = l.ExpiresAt.UTC().Format(wireTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", l.Name, l.Holder, l.FencingToken, exp, l.Metadata)
	}
	return ExitOK, tw.Flush()
}

func runRelease(ctx context.Context, args []string, env Env) (int, error) {
	var c common
	fs := newFlags("release", &c)
	lease := fs.String("lease", "", "the lease id to release")
	pos, err := parse(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	name, err := one(pos, "lock NAME")
	if err != nil {
		return ExitUsage, err
	}
	if *lease == "" {
		return ExitUsage, usagef("--lease ID is required")
	}
	cl, err := c.client(env)
	if err != nil {
		return ExitUsage, err
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	if err := cl.Release(ctx, name, *lease); err != nil {
		return ExitFailure, err
	}
	if c.json {
		return ExitOK, printJSON(env.Stdout, map[string]string{"status": "released", "name": name})
	}
	_, err = fmt.Fprintf(env.Stdout, "released %s\n", name)
	return ExitOK, err
}

// runWatch prints every frame of the stream as one JSON object per line:
// events as the server sends them, the snapshot and reset with a "type".
// It resumes by itself across reconnects and server restarts.
func runWatch(ctx context.Context, args []string, env Env) (int, error) {
	var c common
	fs := newFlags("watch", &c)
	asPrefix := fs.Bool("prefix", false, "watch every lock below NAME (component by component), not NAME itself")
	from := fs.String("after", "", "resume after this event id (the last one printed) instead of starting with a snapshot")
	count := fs.Int("count", 0, "exit after printing this many lines (0: never); --count 1 --after ID waits for the next change")
	pos, err := parse(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	target := client.WatchTarget{}
	switch {
	case *asPrefix && len(pos) == 0:
	case *asPrefix && len(pos) == 1:
		target.Prefix = pos[0]
	default:
		name, err := one(pos, "lock NAME (or --prefix [PREFIX])")
		if err != nil {
			return ExitUsage, err
		}
		target.Name = name
	}
	cl, err := c.client(env)
	if err != nil {
		return ExitUsage, err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan os.Signal, 1)
	go func() {
		select {
		case s := <-sigs:
			got <- s
			cancel()
		case <-ctx.Done():
		}
	}()
	printed := 0
	err = cl.Watch(ctx, target, *from, func(f client.Frame) error {
		if *count > 0 && printed >= *count {
			return errEnough
		}
		printed++
		defer func() {
			if *count > 0 && printed >= *count {
				cancel()
			}
		}()
		switch f.Event {
		case "lagged":
			printed--
			return nil // resumed at once, nothing missed
		case "snapshot", "reset":
			var body map[string]any
			_ = json.Unmarshal(f.Data, &body)
			if body == nil {
				body = map[string]any{}
			}
			delete(body, "message")
			body["type"] = f.Event
			return printJSON(env.Stdout, body)
		}
		_, err := fmt.Fprintf(env.Stdout, "%s\n", f.Data)
		return err
	})
	select {
	case s := <-got:
		return signalStatus(s), nil
	default:
	}
	if errors.Is(err, errEnough) || *count > 0 && printed >= *count {
		return ExitOK, nil
	}
	if ctx.Err() != nil {
		return 130, nil
	}
	return ExitFailure, err
}

// errEnough ends a watch that printed its --count lines.
var errEnough = errors.New("printed enough")
