package httpapi_test

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/octostore/octostore/adapters/httpapi"
)

// exercised holds "operationId status" for every documented response some
// test has seen.
var exercised sync.Map

// notExercised are documented responses the suite cannot produce, and why.
var notExercised = map[string]string{
	"500":               "internal errors need a fault the real application cannot be made to raise",
	"validate-lock 503": "validate reads committed state only and never commits",
	"get-session 503":   "GET reads committed state only and never commits",
	"408":               "a body that stops arriving needs a real connection's read deadline: TestSlowBodyIs408",
	"put-team 429":      "needs 1,000 teams in one org: application's TestAccessLimits seeds them",
	"put-acl 429":       "needs 10,000 rules in one org: application's TestAccessLimits seeds them",
}

// TestMain fails a run of the whole package (no -run or -skip) after which
// some documented response of some operation was never seen by the
// contract suite: a new route or status needs its contract test.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" && flag.Lookup("test.skip").Value.String() == "" {
		if missing := unexercised(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: the contract suite never saw these documented responses:\n\t%s\n", strings.Join(missing, "\n\t"))
			code = 1
		}
	}
	os.Exit(code)
}

// unexercised lists the documented responses of every operation that no
// test has seen and that are not excused in notExercised.
func unexercised() []string {
	s, err := fetchSpec(httpapi.New(httpapi.Config{}, httpapi.Services{}).Handler())
	if err != nil {
		return []string{err.Error()}
	}
	var missing []string
	for _, op := range s.ops {
		for status := range op.responses {
			key := op.id + " " + status
			if _, ok := exercised.Load(key); ok {
				continue
			}
			if _, ok := notExercised[key]; ok {
				continue
			}
			if _, ok := notExercised[status]; ok {
				continue
			}
			missing = append(missing, key)
		}
	}
	slices.Sort(missing)
	return missing
}
