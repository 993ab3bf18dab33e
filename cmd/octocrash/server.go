package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Launcher starts and kills the server under test. Every Start must serve
// the same durable state (the same database file).
type Launcher interface {
	// Start starts the server and returns its base URL once it answers
	// /health.
	Start(ctx context.Context) (string, error)
	// Kill stops the server abruptly (SIGKILL) and waits until it is gone.
	Kill() error
}

// Process runs the octostore binary on one database file, each start on a
// fresh free loopback port.
type Process struct {
	Bin      string
	DB       string
	Env      []string  // added to the environment, whose OCTOSTORE_* variables are dropped
	Log      io.Writer // server stdout and stderr
	LogLevel string

	cmd    *exec.Cmd
	exited chan struct{}
	starts int
}

// startAttempts bounds the retries when the chosen port was taken between
// probing and binding.
const startAttempts = 5

// healthWait bounds how long a start may take.
const healthWait = 20 * time.Second

// Start implements Launcher.
func (p *Process) Start(ctx context.Context) (string, error) {
	if p.cmd != nil {
		return "", errors.New("server already running")
	}
	var errs []error
	for range startAttempts {
		base, err := p.try(ctx)
		if err == nil {
			return base, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return "", fmt.Errorf("start %s: %w", p.Bin, errors.Join(errs...))
}

func (p *Process) try(ctx context.Context) (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	level := p.LogLevel
	if level == "" {
		level = "warn"
	}
	cmd := exec.Command(p.Bin, "serve", "--addr", addr, "--db", p.DB, "--log-level", level)
	cmd.Env = append(environWithout("OCTOSTORE_"), p.Env...)
	p.starts++
	if p.Log != nil {
		fmt.Fprintf(p.Log, "=== octocrash: start %d on %s\n", p.starts, addr)
		cmd.Stdout, cmd.Stderr = p.Log, p.Log
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("exec: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit status of a killed server says nothing
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited
	base := "http://" + addr
	if err := waitHealthy(ctx, base, exited); err != nil {
		_ = p.Kill()
		return "", err
	}
	return base, nil
}

// Kill implements Launcher.
func (p *Process) Kill() error {
	if p.cmd == nil {
		return nil
	}
	select {
	case <-p.exited:
		// Nobody killed it: the server died by itself, which is a
		// finding, not a crash test.
		state := p.cmd.ProcessState
		p.cmd, p.exited = nil, nil
		return fmt.Errorf("server exited by itself before the kill (%v); see the server log", state)
	default:
	}
	err := p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	p.cmd, p.exited = nil, nil
	if err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill: %w", err)
	}
	return nil
}

// waitHealthy polls /health until it answers 200, the process exits, or
// healthWait passes.
func waitHealthy(ctx context.Context, base string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, healthWait)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/health", nil)
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("server on %s exited before it was healthy (port taken? see the server log)", base)
		case <-ctx.Done():
			return fmt.Errorf("server on %s not healthy after %s: %w", base, healthWait, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before the server binds it; Start then retries.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func environWithout(prefix string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			env = append(env, kv)
		}
	}
	return env
}

// BuildServer builds the octostore binary (without the race detector, for
// speed) into dir and returns its path.
func BuildServer(ctx context.Context, dir string) (string, error) {
	bin := dir + "/octostore"
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/octostore/octostore/cmd/octostore")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build octostore: %w\n%s", err, out)
	}
	return bin, nil
}
