// Command octostore runs the OctoStore lock service and its operator tools.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/octostore/octostore/bootstrap"
)

// version is stamped at build time: -ldflags "-X main.version=…" (the
// Makefile does). When it is empty, bootstrap.BuildVersion falls back to
// what go build recorded.
var version string

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() { <-ctx.Done(); stop() }() // a second signal then kills at once
	cli := bootstrap.CLI{
		Version: bootstrap.BuildVersion(version),
		Environ: os.Environ(),
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
	}
	if fi, err := os.Stderr.Stat(); err == nil {
		cli.Terminal = fi.Mode()&os.ModeCharDevice != 0
	}
	os.Exit(cli.Run(ctx, os.Args[1:]))
}
