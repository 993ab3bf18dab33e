// Package browsertest starts the headless Chromium that the /docs tests
// drive, with the flags this machine needs (no network beyond loopback, no
// background connections) in one place.
package browsertest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package puts the browser.
const ChromiumPath = "/usr/bin/chromium"

// Start starts a headless Chromium for the test and returns a tab's
// context, which bounds everything the test does in the browser (start-up
// included) to timeout. The browser and its profile are removed when the
// test ends. It skips the test when OCTOSTORE_SKIP_BROWSER=1 and fails it
// when Chromium is missing (`make test-deps` installs it).
func Start(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	if os.Getenv("OCTOSTORE_SKIP_BROWSER") == "1" {
		t.Skip("OCTOSTORE_SKIP_BROWSER=1")
	}
	if _, err := os.Stat(ChromiumPath); err != nil {
		t.Fatalf("this test needs Chromium at %s: run `make test-deps`, "+
			"or set OCTOSTORE_SKIP_BROWSER=1 to skip it (%v)", ChromiumPath, err)
	}
	// Created before the browser, so it is removed after the browser exits.
	profile := t.TempDir()
	// The browser lives as long as the context of its first action.
	testCtx, cancelTest := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancelTest)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(testCtx,
		chromedp.ExecPath(ChromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// Any host other than the test server fails to resolve.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start %s: %v", ChromiumPath, err)
	}
	return ctx
}
