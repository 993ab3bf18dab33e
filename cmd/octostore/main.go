// Command octostore runs the OctoStore lock service and its operator tools.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/octostore/octostore/bootstrap"
)

// version is stamped at build time: -ldflags "-X main.version=…".
var version = "dev"

func main() {
	cmd, args := "serve", os.Args[1:]
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	if cmd == "version" || slices.Contains(args, "--version") || slices.Contains(args, "-version") {
		fmt.Println(version)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() { <-ctx.Done(); stop() }() // a second signal then kills at once
	var err error
	switch cmd {
	case "serve":
		err = bootstrap.Serve(ctx, args, os.Environ(), version, os.Stderr)
	case "migrate":
		action := ""
		if len(args) > 0 {
			action, args = args[0], args[1:]
		}
		err = bootstrap.Migrate(ctx, action, args, os.Environ(), os.Stdout)
	case "backup", "restore":
		file := ""
		if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
			file, args = args[0], args[1:]
		}
		if cmd == "backup" {
			err = bootstrap.Backup(ctx, file, args, os.Environ(), os.Stdout)
		} else {
			err = bootstrap.Restore(ctx, file, args, os.Environ(), os.Stdout)
		}
	case "openapi":
		var spec []byte
		if spec, err = bootstrap.OpenAPI(); err == nil {
			_, err = os.Stdout.Write(spec)
		}
	case "help":
		err = flag.ErrHelp
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(os.Stderr, bootstrap.Usage())
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "octostore:", err)
		os.Exit(1)
	}
}
