// Package lockcmd is `octostore lock`: client commands that make the common
// uses of the lock service one line of shell — run a command only while
// holding a lock, elect a leader, look at and follow locks. They speak the
// public HTTP API through package client and nothing else.
package lockcmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/octostore/octostore/client"
)

// Exit statuses of the lock commands (sysexits.h where one fits).
const (
	ExitOK            = 0
	ExitWaitExhausted = 11 // hold: the lock did not come within --wait; COMMAND did not run
	ExitLost          = 20 // hold: the lock was lost (or could not be confirmed) while COMMAND ran
	ExitUsage         = 64 // bad usage, a bad token file, an insecure URL
	ExitFailure       = 70 // anything else: the server refused, the network failed
)

// Env is what the commands get from the process.
type Env struct {
	Environ []string
	Stdout  io.Writer
	Stderr  io.Writer
	// Terminal says whether Stderr is a terminal: hold then shows who
	// holds the lock while it waits.
	Terminal bool
}

func (e Env) getenv(key string) string {
	for _, kv := range e.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// Usage is the help of `octostore lock`.
const Usage = `Usage:
  octostore lock hold NAME [--ttl 30s] [--wait 60s] [--metadata TEXT] [--kill-after 10s] -- COMMAND [ARGS...]
        open a session, take NAME as an ephemeral lock (waiting up to --wait), run COMMAND
        with OCTOSTORE_LOCK_NAME and OCTOSTORE_FENCING_TOKEN set while keeping the session
        alive, then release. If the lock is lost, or cannot be confirmed before the session's
        deadline, COMMAND's process group gets SIGTERM, then SIGKILL after --kill-after.
  octostore lock status NAME              who holds NAME, its fencing token, metadata and expiry
  octostore lock list [--prefix P]        the held locks (below P)
  octostore lock watch NAME [--prefix]    print every change of NAME (or of every lock below
                                          NAME with --prefix) as one JSON object per line,
                                          resuming across reconnects and server restarts
  octostore lock release NAME --lease ID  release a lease

Every command takes --json (machine-readable lines), --url URL (default $OCTOSTORE_URL, else
http://127.0.0.1:3000), --token-file FILE (a file only its owner can read; default: the token
in $OCTOSTORE_TOKEN; a token is never taken from a flag) and --insecure (allow sending the
token over plain http:// to a host other than loopback).

Leader election: every candidate runs
  octostore lock hold service/leader --metadata "$(hostname):8080" -- ./serve-as-leader
and anyone can ask "octostore lock status service/leader" or follow "octostore lock watch service/leader".

Exit status:
   0   done (hold: COMMAND's own status, 128+N if a signal N ended it)
  11   hold: the lock did not come within --wait; COMMAND was not started
  20   hold: the lock was lost while COMMAND ran; COMMAND was stopped
  64   usage error (bad flags, a token file others can read, a token sent in clear text)
  70   any other failure (the server refused, the network failed)
 130   interrupted by SIGINT (143 for SIGTERM); hold forwards the signal to COMMAND first
`

// usageError is a mistake in how the command was called.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// Run runs `octostore lock` with args (after "lock") and returns the exit
// status.
func Run(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, Usage)
		return ExitUsage
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(env.Stdout, Usage)
		return ExitOK
	}
	cmd, rest := args[0], args[1:]
	var code int
	var err error
	switch cmd {
	case "hold":
		code, err = runHold(ctx, rest, env)
	case "status":
		code, err = runStatus(ctx, rest, env)
	case "list":
		code, err = runList(ctx, rest, env)
	case "watch":
		code, err = runWatch(ctx, rest, env)
	case "release":
		code, err = runRelease(ctx, rest, env)
	default:
		err = usagef("unknown command %q (octostore lock --help lists them)", cmd)
	}
	var ue usageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(env.Stdout, Usage)
		return ExitOK
	case errors.As(err, &ue) || errors.Is(err, client.ErrInsecure):
		code = ExitUsage
	case err != nil && code == ExitOK:
		code = ExitFailure
	}
	if err != nil {
		report(env, cmd, args, code, err)
	}
	return code
}

// report prints a command's error on stderr: one line of text, or with
// --json one JSON object with the exit status and, for a server
// refusal, its code.
func report(env Env, cmd string, args []string, code int, err error) {
	asJSON := false
	for _, a := range args {
		if a == "--" {
			break
		}
		asJSON = asJSON || a == "--json" || a == "-json"
	}
	if !asJSON {
		fmt.Fprintln(env.Stderr, "octostore lock "+cmd+": "+err.Error())
		return
	}
	line := map[string]any{"event": "error", "command": cmd, "exit_status": code, "message": err.Error()}
	var se *client.Error
	if errors.As(err, &se) {
		line["code"], line["status"] = se.Code, se.Status
	}
	_ = printJSON(env.Stderr, line)
}

// common are the flags every command takes.
type common struct {
	json      bool
	url       string
	tokenFile string
	insecure  bool
}

func newFlags(name string, c *common) *flag.FlagSet {
	fs := flag.NewFlagSet("octostore lock "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&c.json, "json", false, "print machine-readable lines")
	fs.StringVar(&c.url, "url", "", "server URL (default $OCTOSTORE_URL, else "+client.DefaultURL+")")
	fs.StringVar(&c.tokenFile, "token-file", "", "read the token from this file (readable by its owner only)")
	fs.BoolVar(&c.insecure, "insecure", false, "allow sending the token over plain http:// to a host other than loopback")
	return fs
}

// parse parses args, allowing flags after the positional arguments, up to
// a "--"; it returns the positional arguments, then "--" and everything
// after it when there is one.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for i, a := range args {
		if a == "--" {
			args, rest = args[:i], args[i:]
			break
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// client builds the API client from the flags and the environment.
func (c common) client(env Env) (*client.Client, error) {
	token, err := c.token(env)
	if err != nil {
		return nil, err
	}
	url := c.url
	if url == "" {
		url = env.getenv("OCTOSTORE_URL")
	}
	return client.New(client.Config{URL: url, Token: token, Insecure: c.insecure, UserAgent: "octostore-lock"})
}

// token reads the token: from --token-file, which others must not be able
// to read, else from OCTOSTORE_TOKEN. A token is never a flag: flags show
// in ps.
func (c common) token(env Env) (string, error) {
	if c.tokenFile == "" {
		t := strings.TrimSpace(env.getenv("OCTOSTORE_TOKEN"))
		if t == "" {
			return "", usagef("no token: set OCTOSTORE_TOKEN or pass --token-file FILE")
		}
		return t, nil
	}
	fi, err := os.Stat(c.tokenFile)
	if err != nil {
		return "", usagef("token file: %v", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", usagef("token file %s can be read by others (mode %04o); run chmod 600 %s", c.tokenFile, fi.Mode().Perm(), c.tokenFile)
	}
	b, err := os.ReadFile(c.tokenFile)
	if err != nil {
		return "", usagef("token file: %v", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", usagef("token file %s is empty", c.tokenFile)
	}
	return t, nil
}

// requestTimeout bounds one request of the short commands.
const requestTimeout = 30 * time.Second

func one(args []string, what string) (string, error) {
	if len(args) != 1 || args[0] == "--" {
		return "", usagef("want exactly one %s", what)
	}
	return args[0], nil
}
