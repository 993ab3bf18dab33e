package bootstrap_test

import (
	"net"
	"net/http"
	"path/filepath"
	"testing"
)

func TestPprofListenerIsOptIn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := e2eConfig(filepath.Join(t.TempDir(), "db"))
	cfg.PprofAddr = addr
	s := startServer(t, cfg, nil, nil)
	resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("pprof status %d", resp.StatusCode)
	}
	// The API listener does not serve profiles.
	s.call(t, http.MethodGet, "/debug/pprof/cmdline", "", nil).problem(t, http.StatusNotFound, "not_found")
}
