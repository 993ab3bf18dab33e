package bootstrap_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/bootstrap"
	"github.com/octostore/octostore/domain"
)

// Tokens of exactly domain.MinTokenBytes characters, and one too short.
const (
	tokA     = "aaaaaaaa-token-A"
	tokB     = "bbbbbbbb-token-B"
	tokAdmin = "admin-token-0123"
	tokShort = "shortsecret"
)

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string // written to a file passed as --config when not empty
		args []string
		env  []string
		want func(c *bootstrap.Config) // applied to DefaultConfig
	}{
		{
			name: "defaults",
			want: func(*bootstrap.Config) {},
		},
		{
			name: "yaml overrides defaults",
			yaml: `
addr: 0.0.0.0:4000
db: /var/lib/octostore.db
log_format: json
log_level: debug
admin_token: ` + tokAdmin + `
storage:
  sync: normal
locks:
  sweep_interval: 1s
shutdown:
  timeout: 1m
`,
			want: func(c *bootstrap.Config) {
				c.Addr = "0.0.0.0:4000"
				c.DB = "/var/lib/octostore.db"
				c.LogFormat = "json"
				c.LogLevel = "debug"
				c.AdminToken = tokAdmin
				c.Storage.Sync = "normal"
				c.Locks.SweepInterval = time.Second
				c.Shutdown.Timeout = time.Minute
			},
		},
		{
			name: "env overrides yaml",
			yaml: "addr: 0.0.0.0:4000\ndb: from-file.db\n",
			env:  []string{"OCTOSTORE_ADDR=:5000", "OCTOSTORE_LOG_LEVEL=warn"},
			want: func(c *bootstrap.Config) {
				c.Addr = ":5000"
				c.DB = "from-file.db"
				c.LogLevel = "warn"
			},
		},
		{
			name: "tls from yaml, the key from env",
			yaml: "tls:\n  cert_file: /etc/tls/cert.pem\n  key_file: /etc/tls/old-key.pem\n",
			env:  []string{"OCTOSTORE_TLS__KEY_FILE=/etc/tls/key.pem"},
			want: func(c *bootstrap.Config) {
				c.TLS.CertFile = "/etc/tls/cert.pem"
				c.TLS.KeyFile = "/etc/tls/key.pem"
			},
		},
		{
			name: "every non-secret setting has a flag, durations included",
			env:  []string{"OCTOSTORE_RESTORE__GRACE=7s", "OCTOSTORE_PPROF_ADDR=127.0.0.1:6061"},
			args: []string{"--locks.sweep-interval", "1s", "--locks.default-lock-delay", "2s", "--restore.grace", "3s", "--shutdown.timeout", "4s", "--pprof-addr", "127.0.0.1:6060"},
			want: func(c *bootstrap.Config) {
				c.Locks.SweepInterval = time.Second
				c.Locks.DefaultLockDelay = 2 * time.Second
				c.Restore.Grace = 3 * time.Second
				c.Shutdown.Timeout = 4 * time.Second
				c.PprofAddr = "127.0.0.1:6060"
			},
		},
		{
			name: "flags override env; unset flags do not",
			env:  []string{"OCTOSTORE_ADDR=:5000", "OCTOSTORE_DB=env.db", "OCTOSTORE_LOG_FORMAT=json"},
			args: []string{"--addr", ":6000", "-log-level=error", "--storage.sync=normal"},
			want: func(c *bootstrap.Config) {
				c.Addr = ":6000"
				c.DB = "env.db"
				c.LogFormat = "json"
				c.LogLevel = "error"
				c.Storage.Sync = "normal"
			},
		},
		{
			name: "flag set to its default still overrides env",
			env:  []string{"OCTOSTORE_ADDR=:5000"},
			args: []string{"--addr=127.0.0.1:3000"},
			want: func(*bootstrap.Config) {},
		},
		{
			name: "nested env",
			env: []string{
				"OCTOSTORE_STORAGE__SYNC=normal",
				"OCTOSTORE_LOCKS__SWEEP_INTERVAL=1s",
				"OCTOSTORE_SHUTDOWN__TIMEOUT=30s",
			},
			want: func(c *bootstrap.Config) {
				c.Storage.Sync = "normal"
				c.Locks.SweepInterval = time.Second
				c.Shutdown.Timeout = 30 * time.Second
			},
		},
		{
			name: "unknown, empty and unprefixed env ignored",
			env: []string{
				"OCTOSTORE_STORAGE_SYNC=normal", // single underscore: no such key
				"OCTOSTORE_STORAGE=normal",      // a section, not a setting
				"OCTOSTORE_URL=http://x",
				"OCTOSTORE_=x",
				"OCTOSTORE_DB=",
				"ADDR=:1",
				"octostore_addr=:1",
				"NOEQUALS",
			},
			want: func(*bootstrap.Config) {},
		},
		{
			name: "static tokens from env",
			env:  []string{"OCTOSTORE_STATIC_TOKENS= alice:" + tokA + " ,, acme/bob:" + tokB + ", "},
			want: func(c *bootstrap.Config) {
				c.StaticTokens = []string{"alice:" + tokA, "acme/bob:" + tokB}
			},
		},
		{
			name: "static tokens from yaml list",
			yaml: "static_tokens:\n  - alice:" + tokA + "\n  - ' acme/bob:" + tokB + " '\n  - ''\n",
			want: func(c *bootstrap.Config) {
				c.StaticTokens = []string{"alice:" + tokA, "acme/bob:" + tokB}
			},
		},
		{
			name: "static tokens from yaml string",
			yaml: "static_tokens: alice:" + tokA + ", acme/bob:" + tokB + "\n",
			want: func(c *bootstrap.Config) {
				c.StaticTokens = []string{"alice:" + tokA, "acme/bob:" + tokB}
			},
		},
		{
			name: "env static tokens replace the yaml list",
			yaml: "static_tokens: [alice:" + tokA + "]\n",
			env:  []string{"OCTOSTORE_STATIC_TOKENS=acme/bob:" + tokB},
			want: func(c *bootstrap.Config) {
				c.StaticTokens = []string{"acme/bob:" + tokB}
			},
		},
		{
			name: "admin token from env",
			env:  []string{"OCTOSTORE_ADMIN_TOKEN=" + tokAdmin},
			want: func(c *bootstrap.Config) { c.AdminToken = tokAdmin },
		},
		{
			name: "github sign-in from env",
			env: []string{"OCTOSTORE_OAUTH__GITHUB__CLIENT_ID=cid", "OCTOSTORE_OAUTH__GITHUB__CLIENT_SECRET=" + tokB,
				"OCTOSTORE_OAUTH__REDIRECT_URL=https://octo.example/auth/github/callback", "OCTOSTORE_OAUTH__DASHBOARD_URL=https://dash.example/"},
			want: func(c *bootstrap.Config) {
				c.OAuth.GitHub.ClientID, c.OAuth.GitHub.ClientSecret = "cid", tokB
				c.OAuth.RedirectURL, c.OAuth.DashboardURL = "https://octo.example/auth/github/callback", "https://dash.example/"
			},
		},
		{
			name: "github org mapping from env",
			env:  []string{"OCTOSTORE_OAUTH__GITHUB__ORGS= acme-corp:acme ,, globex-gh:globex", "OCTOSTORE_OAUTH__GITHUB__PERSONAL_ORGS=false"},
			want: func(c *bootstrap.Config) {
				c.OAuth.GitHub.Orgs = []string{"acme-corp:acme", "globex-gh:globex"}
				c.OAuth.GitHub.PersonalOrgs = false
			},
		},
		{
			name: "github org mapping from yaml list",
			yaml: "oauth:\n  github:\n    orgs: [acme-corp:acme, 'globex-gh:globex']\n",
			want: func(c *bootstrap.Config) { c.OAuth.GitHub.Orgs = []string{"acme-corp:acme", "globex-gh:globex"} },
		},
		{
			name: "github org mapping from a flag",
			args: []string{"--oauth.github.orgs=acme-corp:acme,globex-gh:globex"},
			want: func(c *bootstrap.Config) { c.OAuth.GitHub.Orgs = []string{"acme-corp:acme", "globex-gh:globex"} },
		},
		{
			name: "empty yaml file",
			yaml: "\n",
			want: func(*bootstrap.Config) {},
		},
		{
			name: "empty yaml section",
			yaml: "storage: {}\n",
			want: func(*bootstrap.Config) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := bootstrap.LoadConfig(withFile(t, tt.yaml, tt.args), tt.env)
			if err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			want := bootstrap.DefaultConfig()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				// %#v would be redacted by Config.Format; compare field by field.
				t.Errorf("LoadConfig:\n got  %s tokens=%q admin=%q\n want %s tokens=%q admin=%q",
					got, got.StaticTokens, got.AdminToken, want, want.StaticTokens, want.AdminToken)
			}
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		yaml    string
		args    []string
		env     []string
		want    []string // substrings of the error
		wantIs  error
		secrets []string // must not appear in the error
	}{
		{
			name:    "short static token",
			env:     []string{"OCTOSTORE_STATIC_TOKENS=alice:" + tokA + ",bob:" + tokShort},
			want:    []string{"config: static_tokens[1]:", "default/bob", "shorter than 16"},
			secrets: []string{tokShort, tokA},
		},
		{
			name:    "short admin token",
			env:     []string{"OCTOSTORE_ADMIN_TOKEN=" + tokShort},
			want:    []string{"config: admin_token: must be at least 16 characters"},
			secrets: []string{tokShort},
		},
		{
			name:    "admin token reused as user token",
			env:     []string{"OCTOSTORE_ADMIN_TOKEN=" + tokA, "OCTOSTORE_STATIC_TOKENS=alice:" + tokA},
			want:    []string{"config: admin_token: same token as static_tokens[0]"},
			secrets: []string{tokA},
		},
		{
			name:    "duplicate static token",
			yaml:    "static_tokens: [alice:" + tokA + ", acme/bob:" + tokA + "]\n",
			want:    []string{"config: static_tokens[1]: same token as static_tokens[0]"},
			secrets: []string{tokA},
		},
		{
			name:    "static entry without user",
			env:     []string{"OCTOSTORE_STATIC_TOKENS=" + tokA},
			want:    []string{"config: static_tokens[0]:", "org/user:token"},
			secrets: []string{tokA},
		},
		{
			name:    "static token with a space",
			env:     []string{"OCTOSTORE_STATIC_TOKENS=alice: " + tokA},
			want:    []string{"config: static_tokens[0]: token for default/alice must not contain spaces"},
			secrets: []string{tokA},
		},
		{
			name:    "yaml token entry as a map",
			yaml:    "static_tokens:\n  - alice: " + tokA + "\n",
			want:    []string{"config: static_tokens[0]: must be a string"},
			secrets: []string{tokA},
		},
		{
			name: "invalid sync value",
			env:  []string{"OCTOSTORE_STORAGE__SYNC=off"},
			want: []string{`config: storage.sync: must be one of full|normal, got "off"`},
		},
		{
			name: "several problems reported together",
			args: []string{"--log-format=xml", "--log-level=trace", "--addr=localhost"},
			want: []string{"config: addr:", "config: log_format:", "config: log_level:"},
		},
		{
			name: "bad port",
			args: []string{"--addr=:http"},
			want: []string{`config: addr: port must be a number`},
		},
		{
			name: "zero duration",
			env:  []string{"OCTOSTORE_LOCKS__SWEEP_INTERVAL=0s"},
			want: []string{"config: locks.sweep_interval: must be greater than 0"},
		},
		{
			name: "unparsable duration",
			env:  []string{"OCTOSTORE_SHUTDOWN__TIMEOUT=soon"},
			want: []string{`config: shutdown.timeout: must be a duration such as "250ms" or "10s", got "soon"`},
		},
		{
			name: "duration without unit in yaml",
			yaml: "locks:\n  sweep_interval: 250\n",
			want: []string{"config: locks.sweep_interval: must be a duration with a unit"},
		},
		{
			name: "unknown flag",
			args: []string{"--bogus"},
			want: []string{"config: flag provided but not defined: -bogus"},
		},
		{
			name:    "admin token is not a flag",
			args:    []string{"--admin-token", tokAdmin},
			want:    []string{"-admin-token"},
			secrets: []string{tokAdmin},
		},
		{
			name:   "help",
			args:   []string{"-h"},
			wantIs: flag.ErrHelp,
		},
		{
			name: "positional argument",
			args: []string{"--addr=:1", "serve"},
			want: []string{`config: unexpected argument "serve"`},
		},
		{
			name:   "missing config file",
			args:   []string{"--config", "/nonexistent/octostore.yaml"},
			want:   []string{"config: file /nonexistent/octostore.yaml:"},
			wantIs: fs.ErrNotExist,
		},
		{
			name: "empty config file name",
			args: []string{"--config="},
			want: []string{"config: --config: empty file name"},
		},
		{
			name: "unknown yaml key",
			yaml: "storage:\n  synch: normal\n",
			want: []string{`unknown setting "storage.synch"`, "storage.sync"},
		},
		{
			name: "invalid yaml",
			yaml: "addr: [unclosed\n",
			want: []string{"config: file "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := bootstrap.LoadConfig(withFile(t, tt.yaml, tt.args), tt.env)
			if err == nil {
				t.Fatal("LoadConfig: want an error, got nil")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %v", err, tt.wantIs)
			}
			for _, s := range tt.secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q reveals a token", err)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(c *bootstrap.Config)
		want   string // "" means valid
	}{
		{"defaults", func(*bootstrap.Config) {}, ""},
		{"any port, empty host", func(c *bootstrap.Config) { c.Addr = ":0" }, ""},
		{"ipv6", func(c *bootstrap.Config) { c.Addr = "[::1]:3000" }, ""},
		{"tokens and admin", func(c *bootstrap.Config) {
			c.StaticTokens = []string{"alice:" + tokA, "acme/bob:" + tokB}
			c.AdminToken = tokAdmin
		}, ""},
		{"no port", func(c *bootstrap.Config) { c.Addr = "localhost" }, "config: addr: must be host:port"},
		{"port too big", func(c *bootstrap.Config) { c.Addr = ":65536" }, "config: addr: port must be"},
		{"empty db", func(c *bootstrap.Config) { c.DB = " " }, "config: db: must not be empty"},
		{"sync", func(c *bootstrap.Config) { c.Storage.Sync = "FULL" }, "config: storage.sync:"},
		{"log format", func(c *bootstrap.Config) { c.LogFormat = "" }, "config: log_format:"},
		{"log level", func(c *bootstrap.Config) { c.LogLevel = "verbose" }, "config: log_level:"},
		{"sweep", func(c *bootstrap.Config) { c.Locks.SweepInterval = -time.Second }, "config: locks.sweep_interval:"},
		{"shutdown", func(c *bootstrap.Config) { c.Shutdown.Timeout = 0 }, "config: shutdown.timeout:"},
		{"bad org", func(c *bootstrap.Config) { c.StaticTokens = []string{"a b/alice:" + tokA} }, "config: static_tokens[0]: org"},
		{"admin with space", func(c *bootstrap.Config) { c.AdminToken = tokAdmin + " x" }, "config: admin_token: must not contain spaces"},
		{"tls pair", func(c *bootstrap.Config) { c.TLS.CertFile, c.TLS.KeyFile = "cert.pem", "key.pem" }, ""},
		{"tls cert without key", func(c *bootstrap.Config) { c.TLS.CertFile = "cert.pem" },
			"config: tls.key_file: must be set when tls.cert_file is"},
		{"tls key without cert", func(c *bootstrap.Config) { c.TLS.KeyFile = "key.pem" },
			"config: tls.cert_file: must be set when tls.key_file is"},
		{"github sign-in", func(c *bootstrap.Config) { *c = withOAuth(*c) }, ""},
		{"github secret without id", func(c *bootstrap.Config) { *c = withOAuth(*c); c.OAuth.GitHub.ClientID = "" },
			"config: oauth.github.client_id: must be set when oauth.github.client_secret is"},
		{"github id without secret", func(c *bootstrap.Config) { *c = withOAuth(*c); c.OAuth.GitHub.ClientSecret = "" },
			"config: oauth.github.client_secret: must be set when oauth.github.client_id is"},
		{"github sign-in without dashboard", func(c *bootstrap.Config) { *c = withOAuth(*c); c.OAuth.DashboardURL = "" },
			"config: oauth.dashboard_url: must be an absolute http:// or https:// URL"},
		{"github sign-in with a relative callback", func(c *bootstrap.Config) { *c = withOAuth(*c); c.OAuth.RedirectURL = "/auth/github/callback" },
			"config: oauth.redirect_url: must be an absolute"},
		{"github org mapping", func(c *bootstrap.Config) {
			*c = withOAuth(*c)
			c.OAuth.GitHub.Orgs, c.OAuth.GitHub.PersonalOrgs = []string{"acme-corp:acme", "globex-gh:globex"}, false
		}, ""},
		{"github org mapping without an org", func(c *bootstrap.Config) { c.OAuth.GitHub.Orgs = []string{"acme-corp:acme", "globex-gh"} },
			"config: oauth.github.orgs[1]: \"globex-gh\": want external-org:octostore-org"},
		{"github org mapping to a bad org", func(c *bootstrap.Config) { c.OAuth.GitHub.Orgs = []string{"acme-corp:a b"} },
			"config: oauth.github.orgs[0]: \"acme-corp:a b\": org \"a b\""},
		{"github org mapped twice", func(c *bootstrap.Config) { c.OAuth.GitHub.Orgs = []string{"acme-corp:acme", "ACME-corp:globex"} },
			"config: oauth.github.orgs[1]: GitHub org \"ACME-corp\" is mapped already by oauth.github.orgs[0]"},
		{"github sign-in without personal orgs or a mapping", func(c *bootstrap.Config) { *c = withOAuth(*c); c.OAuth.GitHub.PersonalOrgs = false },
			"config: oauth.github.personal_orgs: false needs oauth.github.orgs"},
		{"negative config write rate", func(c *bootstrap.Config) { c.ConfigStore.WriteRate = -1 },
			"config: config.write_rate: must be 0 (off) or more, got -1"},
		{"config write rate off", func(c *bootstrap.Config) { c.ConfigStore.WriteRate = 0 }, ""},
		{"token that is a word of the message", func(c *bootstrap.Config) { c.StaticTokens = []string{"bob:short"} },
			"config: static_tokens[0]: token for default/bob is shorter than 16 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := bootstrap.DefaultConfig()
			tt.modify(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate: got %v, want an error containing %q", err, tt.want)
			}
			for _, secret := range []string{tokA, tokB, tokAdmin} {
				if err != nil && strings.Contains(err.Error(), secret) {
					t.Errorf("error %q reveals a token", err)
				}
			}
		})
	}
}

// withOAuth turns GitHub sign-in on in c.
func withOAuth(c bootstrap.Config) bootstrap.Config {
	c.OAuth.GitHub.ClientID, c.OAuth.GitHub.ClientSecret = "cid", tokB
	c.OAuth.RedirectURL, c.OAuth.DashboardURL = "https://octo.example/auth/github/callback", "https://dash.example/"
	return c
}

func TestCredentials(t *testing.T) {
	t.Parallel()
	c := bootstrap.DefaultConfig()
	c.StaticTokens = []string{"alice:" + tokA, "acme/bob:" + tokB}
	got, err := c.StaticPrincipals()
	if err != nil {
		t.Fatal(err)
	}
	want := []domain.Credential{
		{Hash: domain.HashToken(tokA), Principal: domain.Principal{Org: domain.DefaultOrg, User: "alice"}},
		{Hash: domain.HashToken(tokB), Principal: domain.Principal{Org: "acme", User: "bob"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("StaticPrincipals = %v, want %v", got, want)
	}

	if _, ok := c.AdminCredential(); ok {
		t.Error("AdminCredential without an admin token: ok = true")
	}
	c.AdminToken = tokAdmin
	admin, ok := c.AdminCredential()
	if !ok || !admin.Principal.Admin || admin.Principal.Org != "" || !admin.Hash.Equal(domain.HashToken(tokAdmin)) {
		t.Errorf("AdminCredential = %v, %v", admin, ok)
	}

	c.StaticTokens = append(c.StaticTokens, "carol:"+tokShort)
	if _, err := c.StaticPrincipals(); err == nil || strings.Contains(err.Error(), tokShort) {
		t.Errorf("StaticPrincipals with a short token: %v", err)
	}
}

func TestConfigHidesSecrets(t *testing.T) {
	t.Parallel()
	c := bootstrap.DefaultConfig()
	c.StaticTokens = []string{"acme/bob:" + tokB}
	c.AdminToken = tokAdmin
	c.OAuth.GitHub.ClientSecret = tokA

	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "config", c)
	outputs := map[string]string{"slog": logged.String()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%q", "%x"} {
		outputs[verb] = fmt.Sprintf(verb, c)
	}
	for name, out := range outputs {
		if strings.Contains(out, tokB) || strings.Contains(out, tokAdmin) || strings.Contains(out, tokA) {
			t.Errorf("%s output reveals a token: %s", name, out)
		}
	}
	if !strings.Contains(logged.String(), "acme/bob") || !strings.Contains(logged.String(), `"admin_token":true`) ||
		!strings.Contains(logged.String(), `"oauth.github.client_secret":true`) {
		t.Errorf("slog output lacks the principal or the admin flag: %s", logged.String())
	}
}

func TestHelpListsFlags(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if code := (bootstrap.CLI{Stdout: &out, Stderr: &errOut}).Run(context.Background(), []string{"--help"}); code != 0 {
		t.Fatalf("--help exit code %d; stderr %s", code, errOut.String())
	}
	u := out.String()
	for _, w := range []string{"--config", "--addr", "--db", "--log-format", "--log-level", "--storage.sync", "127.0.0.1:3000"} {
		if !strings.Contains(u, w) {
			t.Errorf("--help lacks %q:\n%s", w, u)
		}
	}
	if strings.Contains(u, "--admin-token") || strings.Contains(u, "--static-tokens") {
		t.Errorf("--help offers a secret as a flag:\n%s", u)
	}
}

// withFile writes content to a YAML file in a temporary directory and
// returns args preceded by --config naming it; empty content adds nothing.
func withFile(t *testing.T, content string, args []string) []string {
	t.Helper()
	if content == "" {
		return args
	}
	path := filepath.Join(t.TempDir(), "octostore.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return append([]string{"--config", path}, args...)
}
