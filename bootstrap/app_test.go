package bootstrap_test

import (
	"log/slog"
	"path/filepath"
	"testing"

	"go.uber.org/fx"

	"github.com/octostore/octostore/bootstrap"
)

// TestOptionsValidate catches missing providers without starting anything.
func TestOptionsValidate(t *testing.T) {
	cfg := bootstrap.DefaultConfig()
	cfg.DB = filepath.Join(t.TempDir(), "db")
	env := bootstrap.Env{Version: "test", Logger: slog.New(slog.DiscardHandler)}
	if err := fx.ValidateApp(bootstrap.Options(cfg, env)); err != nil {
		t.Fatal(err)
	}
}
