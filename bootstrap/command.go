package bootstrap

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/octostore/octostore/client/lockcmd"
)

// CLI runs the command lines of the octostore binary; cmd/octostore only
// builds it from the process and exits with what Run returns.
type CLI struct {
	// Version is the build version (see BuildVersion).
	Version string
	// Environ is the environment, in os.Environ format.
	Environ []string
	// Stdout gets command output and help; Stderr gets logs, the
	// first-start banner and error lines.
	Stdout, Stderr io.Writer
	// Terminal says whether Stderr is a terminal (lock hold then shows
	// who holds the lock while it waits).
	Terminal bool
}

// Run runs one command line (args without the program name) until it is
// done or ctx is cancelled, and returns the process exit code: 0 on success
// and for help (-h, --help or help, printed to Stdout), 1 after writing one
// line "octostore: <what>: <why>" to Stderr.
func (c CLI) Run(ctx context.Context, args []string) int {
	cmd, rest := "serve", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, rest = args[0], args[1:]
	}
	if (cmd == "token" || cmd == "org" || cmd == "user") && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		cmd, rest = cmd+" "+rest[0], rest[1:]
	}
	if cmd == "lock" || cmd == "help" && len(rest) > 0 && rest[0] == "lock" {
		if cmd == "help" {
			rest = []string{"--help"}
		}
		// The client commands have exit statuses of their own.
		return lockcmd.Run(ctx, rest, lockcmd.Env{Environ: c.Environ, Stdout: c.Stdout, Stderr: c.Stderr, Terminal: c.Terminal})
	}
	if cmd == "help" {
		cmd, rest = strings.Join(rest, " "), []string{"--help"}
		if cmd == "" {
			cmd = "serve"
		}
	}
	if cmd == "version" || slices.Contains(rest, "--version") || slices.Contains(rest, "-version") {
		if wantsHelp(rest) {
			fmt.Fprint(c.Stdout, usage("version"))
			return 0
		}
		fmt.Fprintln(c.Stdout, c.Version)
		return 0
	}
	text := usage(cmd)
	if text == "" {
		fmt.Fprintf(c.Stderr, "octostore: unknown command %q (octostore --help lists the commands)\n", cmd)
		return 1
	}
	// Checked before anything runs, so that help never opens or creates
	// a database.
	if wantsHelp(rest) {
		fmt.Fprint(c.Stdout, text)
		return 0
	}
	err := c.run(ctx, cmd, rest)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(c.Stdout, text)
		return 0
	}
	if err != nil {
		fmt.Fprintln(c.Stderr, "octostore: "+oneLine(err).Error())
		return 1
	}
	return 0
}

func (c CLI) run(ctx context.Context, cmd string, args []string) error {
	switch cmd {
	case "serve":
		return Serve(ctx, args, c.Environ, c.Version, c.Stderr)
	case "migrate":
		action := ""
		if len(args) > 0 {
			action, args = args[0], args[1:]
		}
		return Migrate(ctx, action, args, c.Environ, c.Stdout)
	case "backup", "restore":
		file := ""
		if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
			file, args = args[0], args[1:]
		}
		if cmd == "backup" {
			return Backup(ctx, file, args, c.Environ, c.Stdout)
		}
		return Restore(ctx, file, args, c.Environ, c.Stdout)
	case "token":
		return errors.New("token: give a subcommand: octostore token create|list|revoke (octostore token --help)")
	case "token create":
		return TokenCreate(ctx, args, c.Environ, c.Stdout, c.Stderr)
	case "token list":
		return TokenList(ctx, args, c.Environ, c.Stdout)
	case "org create":
		return OrgCreate(ctx, args, c.Environ, c.Stderr)
	case "user add":
		return UserAdd(ctx, args, c.Environ, c.Stdout, c.Stderr)
	case "org", "user":
		return fmt.Errorf("%s: give a subcommand: octostore org create ORG, octostore user add --org ORG --user USER", cmd)
	case "token revoke":
		return TokenRevoke(ctx, args, c.Environ, c.Stderr)
	case "openapi":
		if len(args) > 0 {
			return fmt.Errorf("openapi: unexpected argument %q", args[0])
		}
		spec, err := OpenAPI(c.Version)
		if err != nil {
			return err
		}
		_, err = c.Stdout.Write(spec)
		return err
	}
	return fmt.Errorf("unknown command %q", cmd)
}

// wantsHelp reports whether args ask for help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help":
			return true
		case "--":
			return false
		}
	}
	return false
}

// dbSettings are the settings that matter to the commands that work on
// the database file without serving it.
var dbSettings = []string{"db", "storage.sync"}

// usage returns the help of cmd, or "" for an unknown command.
func usage(cmd string) string {
	switch cmd {
	case "serve":
		return `Usage:
  octostore [serve] [settings]           run the server (the default command)
  octostore migrate status|up|down [settings]
                                         show or apply schema migrations by hand
  octostore backup FILE [settings]       write a consistent copy of the database while the server runs
  octostore restore FILE [settings]      replace the database with a backup (server stopped)
  octostore token create --org ORG --user USER [settings]
                                         mint a token for a user (server stopped)
  octostore token list|revoke ... [settings]
                                         list or revoke stored tokens (server stopped)
  octostore org create ORG [settings]    register an org (server stopped)
  octostore user add --org ORG --user USER [--role owner] [settings]
                                         add a user to an org and print its first token (server stopped)
  octostore openapi                      print the OpenAPI description (YAML)
  octostore lock hold|status|list|watch|release ...
                                         client commands: run a command while holding a lock,
                                         elect a leader, look at and follow locks (octostore lock --help)
  octostore version | --version          print the version
  octostore help [COMMAND] | -h | --help print this help, or a command's

The server refuses to start, with one line saying what and why, on a database it cannot
serve: a missing directory, a file it cannot read and write, a file that is not an
OctoStore database, a schema newer than this build, a file another octostore process
serves (it holds FILE.lock), or a missing or empty file whose -wal file exists.

Settings, in rising priority: defaults, the YAML file of --config, OCTOSTORE_* environment
variables, flags. Each is listed as key: flag, environment variable (default).
` + settingsHelp()
	case "migrate":
		return `Usage: octostore migrate status|up|down [settings]

Show the schema migrations (status), apply the pending ones (up) or roll back the latest
(down). The server applies pending migrations itself at start. up and down are refused
while another octostore process serves the database.

Settings (octostore --help lists all):
` + settingsHelp(dbSettings...)
	case "backup":
		return `Usage: octostore backup FILE [settings]

Write a consistent copy of the database to FILE (which must not exist) while the server
keeps serving, then check that the copy loads.

Settings (octostore --help lists all):
` + settingsHelp(dbSettings...)
	case "restore":
		return `Usage: octostore restore FILE [settings]

Replace the database with the backup FILE. Refused while a server runs on the database.
The fencing counter becomes the higher of the backup's and the replaced database's.

Settings (octostore --help lists all):
` + settingsHelp(dbSettings...)
	case "token":
		return `Usage: octostore token create|list|revoke ... [settings]

Commands, on the database file while no server runs on it (a running server has the same
operations as admin routes: POST /admin/orgs/{org}/users/{user}/tokens, GET /admin/tokens,
DELETE /admin/tokens/{token_id}):
  create    mint a new token for a user (see octostore token create --help)
  list      list the stored tokens: id, org/user, creation time (never the tokens)
  revoke    revoke a stored token by its id: octostore token revoke TOKEN_ID
`
	case "org", "org create":
		return `Usage: octostore org create ORG [settings]

Register org ORG in the database while no server runs on it (refused otherwise; a running
server has POST /admin/orgs). Users are then added with octostore user add.

Settings (octostore --help lists all):
` + settingsHelp(dbSettings...)
	case "user", "user add":
		return `Usage: octostore user add --org ORG --user USER [--role member|owner] [settings]

Add user USER to the registered org ORG with a role (owners manage the org's teams and
ACLs) while no server runs on the database (refused otherwise; a running server has
POST /admin/orgs/{org}/users). The user's first token is printed once on standard output;
only its hash is stored.

Settings (octostore --help lists all):
` + settingsHelp(dbSettings...)
	case "token list":
		return `Usage: octostore token list [--org ORG] [--user USER] [settings]

List the tokens stored in the database while no server runs on it: id, org/user and
creation time, never the token. Configured tokens (static_tokens, admin_token) are not
stored and not listed.

Settings (octostore --help lists all):
` + settingsHelp(dbSettings...)
	case "token revoke":
		return `Usage: octostore token revoke TOKEN_ID [settings]

Revoke a stored token (its id from octostore token list) while no server runs on the
database; it stops working at the next start.

Settings (octostore --help lists all):
` + settingsHelp(dbSettings...)
	case "token create":
		return `Usage: octostore token create --org ORG --user USER [settings]

Mint a new token for user USER of org ORG, for an operator who lost one, while no server
runs on the database (refused otherwise). The token is printed once on standard output;
only its SHA-256 hash is stored. A missing database is created, as the first start would.

  --org ORG
        org of the user
  --user USER
        user the token authenticates (its locks are held as user:USER)

Settings (octostore --help lists all):
` + settingsHelp(dbSettings...)
	case "openapi":
		return "Usage: octostore openapi\n\nPrint the OpenAPI 3.1 description of the HTTP API (YAML) on standard output.\n"
	case "version":
		return "Usage: octostore version | octostore --version\n\nPrint the build version: the one stamped with -ldflags \"-X main.version=…\", else the\nmodule version or VCS revision recorded by go build, else dev.\n"
	}
	return ""
}
