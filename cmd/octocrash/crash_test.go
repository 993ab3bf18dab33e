package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"testing"
	"time"
)

var (
	crashBin    = flag.String("octocrash.bin", os.Getenv("OCTOCRASH_BIN"), "octostore binary for TestCrashHarnessShort (default: $OCTOCRASH_BIN, else build it)")
	crashSeed   = flag.Uint64("octocrash.seed", 0, "seed for TestCrashHarnessShort (default: from the clock)")
	crashCycles = flag.Int("octocrash.cycles", 12, "kill cycles for TestCrashHarnessShort")
)

// TestCrashHarnessShort builds the real server (without -race), kills it
// with SIGKILL at least ten times under concurrent clients, and fails on any
// broken promise. The seed is logged; rerun with -octocrash.seed to replay
// the same choices and kill moments. With a cold build cache the build of
// the server dominates (about a minute on two cores); set OCTOCRASH_BIN to
// a prebuilt binary to skip it.
func TestCrashHarnessShort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := *crashBin
	if bin == "" {
		began := time.Now()
		var err error
		if bin, err = BuildServer(ctx, dir); err != nil {
			t.Fatal(err)
		}
		t.Logf("built octostore in %s", time.Since(began).Round(time.Millisecond))
	}
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	var progress bytes.Buffer
	report, err := Run(ctx, Config{
		Bin: bin, Dir: dir, Seed: seed,
		Cycles: *crashCycles, Clients: 8, Names: 3, CycleTime: 250 * time.Millisecond, Think: time.Millisecond,
		Porcupine: "auto", CheckTimeout: time.Minute, FullCheckTimeout: 20 * time.Second, Log: &progress,
	})
	t.Log("\n" + progress.String())
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	var summary bytes.Buffer
	report.Summary(&summary)
	t.Log("\n" + summary.String())
	if report.Epochs-1 < 10 {
		t.Errorf("only %d kill cycles", report.Epochs-1)
	}
	if report.Acked == 0 || report.Grants < 10 {
		t.Errorf("the clients hardly did anything: %d acknowledged operations, %d grants", report.Acked, report.Grants)
	}
	if !report.OK() {
		t.Fatalf("seed %d: the server broke a promise or gave an undocumented answer (see above); replay with -octocrash.seed %d", seed, seed)
	}
}

// TestHarnessCatchesBrokenServers runs the whole harness against in-memory
// servers that lose state on a kill, and expects every check to notice.
func TestHarnessCatchesBrokenServers(t *testing.T) {
	for _, tc := range []struct {
		bug  string
		want [][2]string // check, message part
	}{
		{"volatile", [][2]string{
			{CheckDurability, "acknowledged grant lost"},
			{CheckFencing, "issued twice"},
			{CheckLinear, "is not linearizable"},
		}},
		{"snapshot", [][2]string{
			{CheckDurability, "acknowledged"}, // grant lost or release undone, whichever the epoch had
			{CheckFencing, "issued twice"},
			{CheckLinear, "is not linearizable"},
		}},
	} {
		t.Run(tc.bug, func(t *testing.T) {
			t.Parallel()
			report, err := Run(context.Background(), Config{
				Dir: t.TempDir(), Seed: 1, Cycles: 4, CycleTime: 100 * time.Millisecond, Think: time.Millisecond,
				Porcupine: "both", CheckTimeout: time.Minute, Launcher: newFakeServer(tc.bug),
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !report.Has(w[0], w[1]) {
					t.Errorf("no %s violation %q", w[0], w[1])
				}
			}
			if t.Failed() {
				var b bytes.Buffer
				report.Summary(&b)
				t.Log("\n" + b.String())
			}
		})
	}
}

// TestHarnessAcceptsCorrectFake runs the harness against a correct
// in-memory server (one that keeps its state across kills), as a control
// for the test above.
func TestHarnessAcceptsCorrectFake(t *testing.T) {
	report, err := Run(context.Background(), Config{
		Dir: t.TempDir(), Seed: 2, Cycles: 4, CycleTime: 100 * time.Millisecond, Think: time.Millisecond,
		Porcupine: "both", CheckTimeout: time.Minute, Launcher: newFakeServer("none"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Violations) > 0 {
		var b bytes.Buffer
		report.Summary(&b)
		t.Fatal("\n" + b.String())
	}
}
