// Package octostore_test enforces the design card's dependency rule:
// domain ← application ← adapters ← bootstrap ← cmd.
package octostore_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/octostore/octostore"

// pureLibraries may be used by application code: data structures without
// I/O, which do not make the application talk to the world.
var pureLibraries = []string{"github.com/google/btree"}

func TestDependencyRule(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := strings.TrimPrefix(fields[0], module), fields[1:]
		for _, imp := range imports {
			if msg := violation(pkg, imp); msg != "" {
				t.Errorf("%s imports %s: %s", fields[0], imp, msg)
			}
		}
	}
}

func violation(pkg, imp string) string {
	own := strings.HasPrefix(imp, module)
	rel := strings.TrimPrefix(imp, module)
	std := !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".")
	layer := func(p string) string { return strings.SplitN(strings.TrimPrefix(p, "/"), "/", 2)[0] }
	switch {
	case (strings.HasPrefix(imp, "go.uber.org/fx") || strings.HasPrefix(imp, "github.com/knadh/koanf")) && layer(pkg) != "bootstrap":
		return "fx and koanf belong in bootstrap only"
	case strings.HasSuffix(rel, "/sqlitedb") && pkg != "/adapters/sqlite":
		return "sqlc output is private to adapters/sqlite"
	}
	switch layer(pkg) {
	case "domain":
		if !std {
			return "domain may import the standard library only"
		}
	case "ports":
		if !std && rel != "/domain" && rel != "/ports" {
			return "ports (and its contract suites) may import domain and the standard library only"
		}
	case "application":
		if !std && rel != "/domain" && rel != "/ports" && !isPure(imp) {
			return "application may import domain, ports, the standard library and pure data structures"
		}
		if imp == "net/http" || imp == "database/sql" {
			return "application talks to the world only through ports"
		}
	case "adapters":
		if own && layer(rel) == "adapters" && !sameAdapter(pkg, rel) {
			return "adapters must not import each other; share through domain and ports"
		}
		if own && (layer(rel) == "bootstrap" || layer(rel) == "cmd") {
			return "adapters must not import bootstrap or cmd"
		}
	case "client":
		// Go programs import the client; it must not pull in the server.
		if own && layer(rel) != "client" || !own && !std {
			return "client (and its commands) may import the standard library and itself only"
		}
	case "cmd":
		if own && rel != "/bootstrap" {
			return "cmd may import bootstrap only"
		}
	}
	if own && layer(rel) == "adapters" && layer(pkg) != "adapters" && layer(pkg) != "bootstrap" && pkg != "" {
		return "only bootstrap and tests import adapters"
	}
	return ""
}

// sameAdapter allows an adapter to use its own subpackages.
func sameAdapter(pkg, imp string) bool {
	adapter := func(p string) string {
		parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 3)
		if len(parts) < 2 {
			return p
		}
		return parts[1]
	}
	return adapter(pkg) == adapter(imp)
}

func isPure(imp string) bool {
	for _, p := range pureLibraries {
		if imp == p || strings.HasPrefix(imp, p+"/") {
			return true
		}
	}
	return false
}

// TestViolation shows the rule can fail.
func TestViolation(t *testing.T) {
	bad := [][2]string{
		{"/domain", "github.com/danielgtaylor/huma/v2"},
		{"/application", module + "/adapters/sqlite"},
		{"/application", "net/http"},
		{"/adapters/httpapi", module + "/adapters/sqlite"},
		{"/adapters/httpapi", "go.uber.org/fx"},
		{"/adapters/memstore", module + "/adapters/sqlite/sqlitedb"},
		{"/cmd/octostore", module + "/adapters/httpapi"},
	}
	for _, c := range bad {
		if violation(c[0], c[1]) == "" {
			t.Errorf("%s importing %s should violate the rule", c[0], c[1])
		}
	}
	good := [][2]string{
		{"/domain", "time"},
		{"/application", module + "/ports"},
		{"/adapters/sqlite", module + "/adapters/sqlite/sqlitedb"},
		{"/bootstrap", module + "/adapters/sqlite"},
		{"/cmd/octostore", module + "/bootstrap"},
	}
	for _, c := range good {
		if msg := violation(c[0], c[1]); msg != "" {
			t.Errorf("%s importing %s should be allowed: %s", c[0], c[1], msg)
		}
	}
}
