package main

// The examples of docs/webhooks.md run here as written: the Go receiver is
// this package (and the doc must show it byte for byte), the shell line is
// run with bash and openssl, and the sample delivery is what the sender
// sends.

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/webhook"
	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
)

const docPath = "../../webhooks.md"

// docBlock returns the one fenced block of language lang in the "## "
// section titled section of docs/webhooks.md.
func docBlock(t *testing.T, section, lang string) string {
	t.Helper()
	raw, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	var (
		blocks     []string
		in, inCode bool
		keep       bool
		cur        strings.Builder
	)
	for line := range strings.SplitAfterSeq(string(raw), "\n") {
		switch {
		case inCode && strings.TrimSpace(line) == "```":
			if keep {
				blocks = append(blocks, cur.String())
			}
			inCode = false
		case inCode:
			cur.WriteString(line)
		case strings.HasPrefix(line, "```"):
			inCode, keep = true, in && strings.TrimSpace(strings.TrimPrefix(line, "```")) == lang
			cur.Reset()
		case strings.HasPrefix(line, "## "):
			in = strings.TrimSpace(strings.TrimPrefix(line, "## ")) == section
		}
	}
	if len(blocks) != 1 {
		t.Fatalf("%s: section %q has %d ```%s blocks, want 1", docPath, section, len(blocks), lang)
	}
	return blocks[0]
}

func TestDocShowsThisProgram(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	if got := docBlock(t, "Verifying a signature", "go"); got != string(src) {
		t.Errorf("the ```go block of %s differs from main.go; copy main.go into it", docPath)
	}
}

// The sample delivery in the doc.
var (
	sampleEvent = domain.Event{Seq: 42, Org: "acme", Kind: domain.EventLockAcquired, Name: "db/primary",
		Holder: "user:alice/session:ses_0123456789abcdef", Token: 7,
		At: time.Date(2026, 12, 5, 8, 0, 0, 123_000_000, time.UTC)}
	sampleAt = time.Unix(1796457601, 0)
)

const (
	sampleSecret   = "s3cr3t"
	sampleDelivery = "dlv_0123456789abcdef_42"
)

type request struct {
	method, path, host string
	header             http.Header
	body               []byte
}

// deliver sends e through the webhook adapter to a receiver that records
// the request (the name hooks.example.com resolves to it) and answers 204.
func deliver(t *testing.T, secret string, e domain.Event, at time.Time) request {
	t.Helper()
	got := make(chan request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- request{r.Method, r.URL.Path, r.Host, r.Header.Clone(), body}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	s := webhook.New(webhook.Config{AllowPrivate: true, Resolver: loopback{}})
	status, err := s.Send(t.Context(), ports.WebhookRequest{
		URL: "http://hooks.example.com:" + port + "/octostore", Secret: secret,
		DeliveryID: sampleDelivery, Event: e, At: at,
	})
	if err != nil || status != http.StatusNoContent {
		t.Fatalf("Send = %d, %v", status, err)
	}
	return <-got
}

// loopback resolves every name to 127.0.0.1.
type loopback struct{}

func (loopback) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}

// The sample request in the doc is exactly what the sender sends: the
// request line, every header (and no other) and the body.
func TestDocSampleDelivery(t *testing.T) {
	head, body, ok := strings.Cut(docBlock(t, "What a delivery looks like", "http"), "\n\n")
	if !ok {
		t.Fatal("the sample request has no blank line before its body")
	}
	r := deliver(t, sampleSecret, sampleEvent, sampleAt)
	if string(r.body)+"\n" != body || string(webhook.Body(sampleEvent))+"\n" != body {
		t.Errorf("sample body\n%s\nsent\n%s", body, r.body)
	}
	lines := strings.Split(head, "\n")
	if want := r.method + " " + r.path + " HTTP/1.1"; lines[0] != want {
		t.Errorf("request line %q, sent %q", lines[0], want)
	}
	shown := map[string]bool{}
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ": ")
		if !ok {
			t.Errorf("sample header line %q", l)
			continue
		}
		shown[http.CanonicalHeaderKey(name)] = true
		sent := r.header.Get(name)
		if name == "Host" {
			sent, _, _ = strings.Cut(r.host, ":") // the test receiver's port is not the doc's
		}
		if sent != value {
			t.Errorf("sample %s: %q, sent %q", name, value, sent)
		}
	}
	for name := range r.header {
		if !shown[name] && name != "Content-Length" && name != "Connection" {
			t.Errorf("the sender sends %s, the sample does not show it", name)
		}
	}
}

var now = time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)

// post sends r (as captured) to the example's handler and returns the
// status.
func post(t *testing.T, r request) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/octostore", bytes.NewReader(r.body))
	req.Header = r.header.Clone()
	w := httptest.NewRecorder()
	handler(sampleSecret, func() time.Time { return now }).ServeHTTP(w, req)
	return w.Code
}

func TestReceiverAcceptsGenuineDeliveries(t *testing.T) {
	for _, d := range []time.Duration{0, -4 * time.Minute, 4 * time.Minute, -299 * time.Second} {
		if code := post(t, deliver(t, sampleSecret, sampleEvent, now.Add(d))); code != http.StatusNoContent {
			t.Errorf("a delivery sent %v from now: %d, want 204", d, code)
		}
	}
	// End to end: the adapter delivers to the example's handler itself.
	srv := httptest.NewServer(handler(sampleSecret, time.Now))
	t.Cleanup(srv.Close)
	status, err := webhook.New(webhook.Config{AllowPrivate: true}).Send(t.Context(), ports.WebhookRequest{
		URL: srv.URL, Secret: sampleSecret, DeliveryID: sampleDelivery, Event: sampleEvent, At: time.Now()})
	if err != nil || status != http.StatusNoContent {
		t.Errorf("Send to the example receiver = %d, %v; want 204", status, err)
	}
}

func TestReceiverRefuses(t *testing.T) {
	genuine := deliver(t, sampleSecret, sampleEvent, now)
	cases := map[string]request{
		"another secret":         deliver(t, "not the secret", sampleEvent, now),
		"unsigned":               deliver(t, "", sampleEvent, now),
		"sent 6 minutes ago":     deliver(t, sampleSecret, sampleEvent, now.Add(-6*time.Minute)),
		"sent 6 minutes ahead":   deliver(t, sampleSecret, sampleEvent, now.Add(6*time.Minute)),
		"sent exactly 5 min ago": deliver(t, sampleSecret, sampleEvent, now.Add(-5*time.Minute)),
	}
	tampered := genuine
	tampered.body = bytes.Replace(genuine.body, []byte("alice"), []byte("mallo"), 1)
	cases["tampered body"] = tampered
	for name, h := range map[string]string{"X-OctoStore-Signature": "", "webhook-signature": "", "webhook-timestamp": ""} {
		r := genuine
		r.header = genuine.header.Clone()
		r.header.Set(name, h)
		cases["no "+name] = r
	}
	// A delivery captured at 07:00 and sent again at 08:00 with a fresh
	// timestamp: X-OctoStore-Signature still matches the body, but
	// webhook-signature does not match the new timestamp.
	replay := deliver(t, sampleSecret, sampleEvent, now.Add(-time.Hour))
	replay.header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	if !verify(sampleSecret, replay.body, replay.header.Get("X-OctoStore-Signature")) {
		t.Fatal("the replayed body's own signature should still verify")
	}
	cases["replayed with a new timestamp"] = replay

	for name, r := range cases {
		if code := post(t, r); code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, code)
		}
	}
	if code := post(t, genuine); code != http.StatusNoContent {
		t.Errorf("genuine: %d, want 204", code)
	}
}

func TestVerify(t *testing.T) {
	r := deliver(t, sampleSecret, sampleEvent, now)
	sig := r.header.Get("X-OctoStore-Signature")
	if !verify(sampleSecret, r.body, sig) {
		t.Fatalf("verify refuses the sender's signature %s", sig)
	}
	for name, c := range map[string]struct {
		body []byte
		sig  string
	}{
		"tampered body":  {bytes.Replace(r.body, []byte(`"fencing_token":7`), []byte(`"fencing_token":8`), 1), sig},
		"trailing space": {append(append([]byte(nil), r.body...), ' '), sig},
		"no prefix":      {r.body, strings.TrimPrefix(sig, "sha256=")},
		"other prefix":   {r.body, "sha1=" + strings.TrimPrefix(sig, "sha256=")},
		"truncated":      {r.body, sig[:len(sig)-2]},
		"not hex":        {r.body, "sha256=" + strings.Repeat("zz", 32)},
		"empty":          {r.body, ""},
	} {
		if verify(sampleSecret, c.body, c.sig) {
			t.Errorf("%s: verify accepts it", name)
		}
	}
}

// The shell line of the doc, run as written by bash with openssl.
func TestDocOpenSSLLine(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("SKIPPED: openssl is not on PATH, so the shell example in docs/webhooks.md is not checked (make test-deps installs it)")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("SKIPPED: bash is not on PATH, so the shell example in docs/webhooks.md is not checked")
	}
	line := strings.TrimSuffix(docBlock(t, "Verifying a signature", "sh"), "\n")
	if strings.Contains(line, "\n") {
		t.Fatalf("the shell example is not one line: %q", line)
	}
	run := func(secret, signature string, body []byte) (string, error) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "body.json"), body, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("bash", "-c", line)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "SECRET="+secret, "SIGNATURE="+signature)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		return string(out), err
	}
	// A secret that would break careless quoting.
	const secret = `s3 cr3t $HOME "q" 'q' \n ;`
	r := deliver(t, secret, sampleEvent, now)
	if !bytes.Equal(r.body, webhook.Body(sampleEvent)) {
		t.Fatal("the sender sent another body than webhook.Body")
	}
	sig := r.header.Get("X-OctoStore-Signature")
	if out, err := run(secret, sig, r.body); err != nil || out != "signature ok\n" {
		t.Errorf("genuine: output %q, %v; want \"signature ok\"", out, err)
	}
	tampered := bytes.Replace(r.body, []byte("acme/alice"), []byte("acme/mallo"), 1)
	if out, err := run(secret, sig, tampered); err == nil || out != "" {
		t.Errorf("tampered body: output %q, %v; want nothing and a failure", out, err)
	}
	if out, err := run("not the secret", sig, r.body); err == nil || out != "" {
		t.Errorf("another secret: output %q, %v; want nothing and a failure", out, err)
	}
}
