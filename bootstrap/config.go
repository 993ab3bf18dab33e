package bootstrap

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"

	"github.com/octostore/octostore/adapters/oauth"
	"github.com/octostore/octostore/domain"
)

// EnvPrefix starts the name of every environment variable read by LoadConfig.
const EnvPrefix = "OCTOSTORE_"

// The accepted values of Config.Storage.Sync and Config.LogFormat.
const (
	SyncFull      = "full"
	SyncNormal    = "normal"
	LogFormatText = "text"
	LogFormatJSON = "json"
)

// keyStaticToken is the key of Config.StaticTokens, which needs special
// parsing and redaction.
const keyStaticToken = "static_tokens"

// keyGitHubOrgs is the key of Config.OAuth.GitHub.Orgs, a list parsed like
// the static tokens.
const keyGitHubOrgs = "oauth.github.orgs"

// Config is the whole server configuration, and the one definition of its
// settings: --help, the flags, the environment variables and the README's
// settings table are all derived from these fields (see settings). The koanf
// tag is the key of the YAML file; the environment variable of a key is
// EnvPrefix plus the key in upper case with "." written as "__"
// (OCTOSTORE_STORAGE__SYNC); the flag is the key with "_" written as "-"
// (--log-format), except for a field tagged flag:"-" (secrets, which would
// show in ps); the doc tag is the one-line help.
//
// Config formats and logs itself without its secrets (see LogValue).
type Config struct {
	Addr         string         `koanf:"addr" doc:"address the HTTP API listens on, host:port (port 0 picks a free port)"`
	DB           string         `koanf:"db" doc:"SQLite database file, relative to the working directory; created if missing (its directory must exist)"`
	StaticTokens []string       `koanf:"static_tokens" flag:"-" doc:"user tokens: comma-separated org/user:token entries (user:token means org default), each token at least 16 characters"`
	AdminToken   string         `koanf:"admin_token" flag:"-" doc:"token that opens the /admin routes (at least 16 characters)"`
	LogFormat    string         `koanf:"log_format" doc:"log format: text or json"`
	LogLevel     string         `koanf:"log_level" doc:"log level: debug, info, warn or error"`
	Storage      StorageConfig  `koanf:"storage"`
	Locks        LocksConfig    `koanf:"locks"`
	Shutdown     ShutdownConfig `koanf:"shutdown"`
	Restore      RestoreConfig  `koanf:"restore"`
	Events       EventsConfig   `koanf:"events"`
	Watch        WatchConfig    `koanf:"watch"`
	Webhooks     WebhooksConfig `koanf:"webhooks"`
	TLS          TLSConfig      `koanf:"tls"`
	Quotas       QuotasConfig   `koanf:"quotas"`
	API          APIConfig      `koanf:"api"`
	OAuth        OAuthConfig    `koanf:"oauth"`
	ConfigStore  ConfigStore    `koanf:"config"`
	Metrics      MetricsConfig  `koanf:"metrics"`
	// WebhookAllowPrivate lifts the webhook address and https rules, for
	// self-hosted private networks and tests.
	WebhookAllowPrivate bool `koanf:"webhook_allow_private" doc:"allow webhook URLs that are http:// or resolve to loopback, private or other non-public addresses (self-hosted networks, tests)"`
	// PprofAddr, when set, serves net/http/pprof on its own listener so
	// operators can profile a live server without exposing it on the API.
	PprofAddr string `koanf:"pprof_addr" doc:"serve Go's /debug/pprof/ profiles on this host:port, apart from the API (off when empty)"`
}

// StorageConfig configures the SQLite store.
type StorageConfig struct {
	// Sync is the SQLite synchronous mode: SyncFull or SyncNormal. NORMAL
	// can lose the last commits on power loss and so reissue a fencing token.
	Sync string `koanf:"sync" doc:"durability: full (fsync every commit) or normal (may lose the last commits on power loss and reissue a fencing token)"`
}

// ConfigStore configures the config store.
type ConfigStore struct {
	// History is how many versions of each key are kept.
	History int `koanf:"history" doc:"versions of each config key kept for GET /config/{key}/history and ?version= (the newest ones, deletions included); an org's older versions also hold at most quotas.config_bytes of values"`
	// WriteRate bounds each org's config write bytes per second.
	WriteRate int `koanf:"write_rate" doc:"bytes of config write bodies (PUT /config/{key}) one org may send per second on average, a second's worth (at least 1 MiB) at once; beyond, 429 rate_limited with Retry-After, so one tenant's large values cannot take the CPUs and the writer from everybody's locks (0 turns it off)"`
}

// LocksConfig configures the lock engine.
type LocksConfig struct {
	// SweepInterval is how often expired leases are looked for.
	SweepInterval time.Duration `koanf:"sweep_interval" doc:"how often expired locks are looked for and freed"`
	// DefaultLockDelay is the lock delay of an acquire that names none
	// (0 to 60 s).
	DefaultLockDelay time.Duration `koanf:"default_lock_delay" doc:"lock delay of an acquire that names none (0s to 60s)"`
}

// RestoreConfig configures start-up.
type RestoreConfig struct {
	// Grace is the fresh lease a lock gets at start-up when its expiry
	// passed while the server was down.
	Grace time.Duration `koanf:"grace" doc:"fresh lease a lock gets at start-up when it expired while the server was down"`
}

// EventsConfig configures the event stream.
type EventsConfig struct {
	// Retain is how many of the newest events are kept for resume and the
	// events page (more while a webhook has not handled them).
	Retain int `koanf:"retain" doc:"how many of the newest events are kept for resuming watches and for GET /events (more while a webhook still has to deliver them)"`
}

// WatchConfig bounds watch streams.
type WatchConfig struct {
	MaxStreams             int           `koanf:"max_streams" doc:"open watch streams the server allows (429 beyond)"`
	MaxStreamsPerPrincipal int           `koanf:"max_streams_per_principal" doc:"open watch streams one org/user may have (429 beyond)"`
	MaxLag                 int           `koanf:"max_lag" doc:"how many of its events a watch stream may have waiting for a slow client before it is sent lagged and closed"`
	Heartbeat              time.Duration `koanf:"heartbeat" doc:"a comment line is sent on an idle watch stream this often, so that proxies keep it open"`
}

// WebhooksConfig tunes webhook delivery.
type WebhooksConfig struct {
	Attempts   int           `koanf:"attempts" doc:"delivery attempts per event before it is marked failed"`
	Backoff    time.Duration `koanf:"backoff" doc:"wait before the first retry; each retry waits twice as long (with jitter) up to webhooks.max_backoff"`
	MaxBackoff time.Duration `koanf:"max_backoff" doc:"longest wait between two attempts"`
	Timeout    time.Duration `koanf:"timeout" doc:"how long one delivery attempt may take"`
	Workers    int           `koanf:"workers" doc:"delivery attempts in flight at once, over all webhooks (the rest wait their turn)"`
}

// TLSConfig turns on HTTPS. Both files or neither must be set; when set,
// the API serves HTTPS only, on addr, and picks up a changed certificate
// without a restart (on SIGHUP, or when either file changes).
type TLSConfig struct {
	CertFile string `koanf:"cert_file" doc:"PEM certificate chain (server certificate first); with tls.key_file the API serves HTTPS only, reloading both files on SIGHUP or when they change"`
	KeyFile  string `koanf:"key_file" doc:"PEM private key of the certificate in tls.cert_file"`
}

// Enabled reports whether HTTPS is configured.
func (c TLSConfig) Enabled() bool { return c.CertFile != "" || c.KeyFile != "" }

// QuotasConfig holds the server-wide per-org limits; PUT
// /admin/orgs/{org}/quotas overrides them for one org.
type QuotasConfig struct {
	Locks        int `koanf:"locks" doc:"lock records (held, or in their lock delay) one org may have (429 quota_exceeded beyond)"`
	Sessions     int `koanf:"sessions" doc:"open sessions one org may have (429 quota_exceeded beyond)"`
	Waiters      int `koanf:"waiters" doc:"blocking acquires of one org that may wait at once (429 quota_exceeded beyond)"`
	Webhooks     int `koanf:"webhooks" doc:"webhooks one org may have (429 quota_exceeded beyond)"`
	WatchStreams int `koanf:"watch_streams" doc:"open watch streams one org may have (429 quota_exceeded beyond)"`
	ConfigKeys   int `koanf:"config_keys" doc:"config keys with a value one org may have (429 quota_exceeded beyond); also how many deleted keys it keeps with their history (beyond, a deletion purges the one deleted longest ago)"`
	ConfigBytes  int `koanf:"config_bytes" doc:"bytes of current config values (compact JSON) one org may store (429 quota_exceeded beyond); its older versions in the history hold at most as many bytes again (beyond, a write drops the oldest versions of the key written)"`
	Flags        int `koanf:"flags" doc:"feature flags one org may have (429 quota_exceeded beyond)"`
	Limits       int `koanf:"limits" doc:"rate-limit names one org may keep a counter for in memory (429 quota_exceeded beyond; names idle for a whole window make room)"`
}

// APIConfig protects the API from one noisy principal: a token bucket per
// org/user (and one for the admin).
type APIConfig struct {
	Rate  int `koanf:"rate" doc:"API requests per second each principal (org/user, or the admin) may make on average, beyond api.burst at once; more get 429 rate_limited (0 turns the limit off; /health and other public routes are exempt)"`
	Burst int `koanf:"burst" doc:"API requests one principal may make at once before api.rate applies"`
}

// limits returns the quotas as the engine takes them.
func (q QuotasConfig) limits() domain.Limits {
	return domain.Limits{domain.QuotaLocks: q.Locks, domain.QuotaSessions: q.Sessions, domain.QuotaWaiters: q.Waiters,
		domain.QuotaWebhooks: q.Webhooks, domain.QuotaWatchStreams: q.WatchStreams,
		domain.QuotaConfigKeys: q.ConfigKeys, domain.QuotaConfigBytes: q.ConfigBytes, domain.QuotaFlags: q.Flags, domain.QuotaLimits: q.Limits}
}

// OAuthConfig configures signing in with GitHub: on when
// oauth.github.client_id and oauth.github.client_secret are both set.
type OAuthConfig struct {
	GitHub       GitHubOAuthConfig `koanf:"github"`
	RedirectURL  string            `koanf:"redirect_url" doc:"public URL of GET /auth/github/callback, as registered with the GitHub OAuth app (needed when GitHub sign-in is on)"`
	DashboardURL string            `koanf:"dashboard_url" doc:"where a GitHub sign-in ends: the browser goes here with #code=<one-time code> for POST /auth/exchange (needed when GitHub sign-in is on)"`
}

// GitHubOAuthConfig is the GitHub OAuth app and GitHub's endpoints (tests
// point them at a fake).
type GitHubOAuthConfig struct {
	ClientID     string `koanf:"client_id" doc:"client id of the GitHub OAuth app; with oauth.github.client_secret it turns GitHub sign-in on"`
	ClientSecret string `koanf:"client_secret" flag:"-" doc:"client secret of the GitHub OAuth app"`
	AuthorizeURL string `koanf:"authorize_url" doc:"GitHub's authorize URL"`
	TokenURL     string `koanf:"token_url" doc:"GitHub's access-token URL"`
	APIURL       string `koanf:"api_url" doc:"GitHub's REST API base; the user is read from its /user"`
	// Orgs maps GitHub org membership to OctoStore orgs, in order.
	Orgs []string `koanf:"orgs" doc:"map GitHub orgs to OctoStore orgs: comma-separated github-org:octostore-org entries, tried in order; a user signs in to the first whose GitHub org they are an active member of (GitHub org admins as owner, others as member). Asks GitHub for the read:org scope"`
	// PersonalOrgs lets a user in none of Orgs sign in to the org named
	// by their login; off, such a sign-in is refused.
	PersonalOrgs bool `koanf:"personal_orgs" doc:"a GitHub user in none of the oauth.github.orgs signs in to the org named by their login in lower case, as its owner; false refuses them (403 oauth_denied)"`
}

// mapping returns the org mapping of the sign-in. Call it on a validated
// Config.
func (c GitHubOAuthConfig) mapping() (domain.OrgMapping, error) {
	m := domain.OrgMapping{Strict: !c.PersonalOrgs}
	for i, entry := range c.Orgs {
		r, err := domain.ParseOrgRule(entry)
		if err != nil {
			return domain.OrgMapping{}, fmt.Errorf("config: %s[%d]: %w", keyGitHubOrgs, i, err)
		}
		m.Rules = append(m.Rules, r)
	}
	return m, nil
}

// Enabled reports whether GitHub sign-in is configured.
func (c OAuthConfig) Enabled() bool { return c.GitHub.ClientID != "" || c.GitHub.ClientSecret != "" }

// MetricsConfig configures GET /metrics.
type MetricsConfig struct {
	// Public lets anyone scrape /metrics; by default it needs the admin
	// token. The metrics carry no org, lock name or token, only totals.
	Public bool `koanf:"public" doc:"serve GET /metrics without a token (by default it needs the admin token)"`
}

// ShutdownConfig configures graceful shutdown.
type ShutdownConfig struct {
	// Timeout bounds how long shutdown waits for work in flight.
	Timeout time.Duration `koanf:"timeout" doc:"how long a graceful shutdown waits for requests in flight"`
}

// DefaultConfig returns the configuration used for every setting that no
// file, environment variable or flag sets.
func DefaultConfig() Config {
	return Config{
		Addr:      "127.0.0.1:3000",
		DB:        "octostore.db",
		LogFormat: LogFormatText,
		LogLevel:  "info",
		Storage:   StorageConfig{Sync: SyncFull},
		Locks:     LocksConfig{SweepInterval: 250 * time.Millisecond},
		Shutdown:  ShutdownConfig{Timeout: 10 * time.Second},
		Restore:   RestoreConfig{Grace: 10 * time.Second},
		Events:    EventsConfig{Retain: 100_000},
		Watch:     WatchConfig{MaxStreams: 10_000, MaxStreamsPerPrincipal: 100, MaxLag: 1000, Heartbeat: 15 * time.Second},
		Webhooks: WebhooksConfig{Attempts: 12, Backoff: time.Second, MaxBackoff: 5 * time.Minute,
			Timeout: 5 * time.Second, Workers: 8},
		Quotas: QuotasConfig{Locks: 100_000, Sessions: 10_000, Waiters: 10_000, Webhooks: 25, WatchStreams: 1_000,
			ConfigKeys: 10_000, ConfigBytes: 64 << 20, Flags: 10_000, Limits: 100_000},
		ConfigStore: ConfigStore{History: domain.DefaultConfigHistory, WriteRate: 4 << 20},
		API:         APIConfig{Rate: 1_000, Burst: 2_000},
		OAuth: OAuthConfig{GitHub: GitHubOAuthConfig{AuthorizeURL: oauth.DefaultAuthorizeURL, TokenURL: oauth.DefaultTokenURL,
			APIURL: oauth.DefaultAPIURL, PersonalOrgs: true}},
	}
}

// LoadConfig builds the configuration from, in rising precedence, the
// defaults, the YAML file named by --config, the OCTOSTORE_* variables in
// environ (os.Environ format) and the flags in args that are actually set.
// args holds flags only, without the program name or subcommand.
//
// Environment variables with an empty value, or whose name is not a setting,
// are ignored: the prefix is shared with clients and scripts. The YAML file
// is ours alone, so an unknown key in it is an error.
//
// Returns an error wrapping flag.ErrHelp for -h (CLI.Run prints the help),
// an error wrapping fs.ErrNotExist if the --config file is missing, and the
// errors of Validate. No error contains a token value.
func LoadConfig(args []string, environ []string) (Config, error) {
	return loadConfig(args, environ, nil)
}

// loadConfig is LoadConfig for a command that takes flags of its own:
// extra defines them on the flag set, and they are not settings.
func loadConfig(args []string, environ []string, extra func(*flag.FlagSet)) (Config, error) {
	fs, configPath := newFlagSet()
	if extra != nil {
		extra(fs)
	}
	known := settings()
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		return Config{}, fmt.Errorf("config: %w (octostore --help lists the settings)", err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("config: unexpected argument %q (settings are given as flags)", fs.Arg(0))
	}
	overrides := map[string]any{}
	fileSet := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "config" {
			fileSet = true
			return
		}
		for _, s := range known {
			if s.flag == f.Name {
				overrides[s.key] = f.Value.String()
			}
		}
	})

	defaults := make(map[string]any, len(known))
	for _, s := range known {
		if s.def != nil {
			defaults[s.key] = s.def
		}
	}
	k := koanf.New(".")
	if err := k.Load(confmap.Provider(defaults, "."), nil); err != nil {
		return Config{}, fmt.Errorf("config: defaults: %w", err)
	}
	if fileSet {
		if err := loadFile(k, *configPath, known); err != nil {
			return Config{}, err
		}
	}
	if err := k.Load(env.Provider(".", env.Opt{
		Prefix:        EnvPrefix,
		TransformFunc: envTransform(known),
		EnvironFunc:   func() []string { return environ },
	}), nil); err != nil {
		return Config{}, fmt.Errorf("config: environment: %w", err)
	}
	if err := k.Load(confmap.Provider(overrides, "."), nil); err != nil {
		return Config{}, fmt.Errorf("config: flags: %w", err)
	}

	tokens, err := stringList(keyStaticToken, "org/user:token", k.Get(keyStaticToken))
	if err != nil {
		return Config{}, err
	}
	k.Delete(keyStaticToken)
	ghOrgs, err := stringList(keyGitHubOrgs, "github-org:octostore-org", k.Get(keyGitHubOrgs))
	if err != nil {
		return Config{}, err
	}
	k.Delete(keyGitHubOrgs)
	for _, s := range known {
		// Checked here for a clear message; and mapstructure's weak typing
		// would read a bare YAML number as nanoseconds, so demand a unit.
		if msg := checkScalar(s, k.Get(s.key)); msg != "" {
			return Config{}, fmt.Errorf("config: %s: %s", s.key, msg)
		}
		if s.typ != reflect.TypeFor[time.Duration]() {
			continue
		}
		switch v := k.Get(s.key).(type) {
		case time.Duration:
		case string:
			if _, err := time.ParseDuration(v); err != nil {
				return Config{}, fmt.Errorf("config: %s: must be a duration such as \"250ms\" or \"10s\", got %q", s.key, v)
			}
		default:
			return Config{}, fmt.Errorf("config: %s: must be a duration with a unit, such as \"250ms\" or \"10s\"", s.key)
		}
	}
	var c Config
	// Unmarshal's default decoder includes StringToTimeDurationHookFunc.
	if err := k.Unmarshal("", &c); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c.StaticTokens = tokens
	c.OAuth.GitHub.Orgs = ghOrgs
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// checkScalar checks an integer or boolean setting's raw value, for a
// clear message (the decoder's own is about Go types).
func checkScalar(s setting, v any) string {
	str, ok := v.(string)
	if !ok {
		return ""
	}
	switch s.typ.Kind() {
	case reflect.Int:
		if _, err := strconv.Atoi(strings.TrimSpace(str)); err != nil {
			return fmt.Sprintf("must be a whole number, got %q", str)
		}
	case reflect.Bool:
		if _, err := strconv.ParseBool(strings.TrimSpace(str)); err != nil {
			return fmt.Sprintf("must be true or false, got %q", str)
		}
	}
	return ""
}

// loadFile merges the YAML file at path into k after checking its keys.
func loadFile(k *koanf.Koanf, path string, known []setting) error {
	if path == "" {
		return errors.New("config: --config: empty file name")
	}
	fk := koanf.New(".")
	if err := fk.Load(file.Provider(path), yaml.Parser()); err != nil {
		return fmt.Errorf("config: file %s: %w", path, err)
	}
	names := make([]string, len(known))
	for i, s := range known {
		names[i] = s.key
	}
	for _, key := range fk.Keys() {
		if _, empty := fk.Get(key).(map[string]any); empty || slices.Contains(names, key) {
			continue
		}
		return fmt.Errorf("config: file %s: unknown setting %q (known: %s)", path, key, strings.Join(names, ", "))
	}
	return k.Merge(fk)
}

// envTransform maps OCTOSTORE_STORAGE__SYNC to storage.sync and drops
// variables that are empty or name no setting.
func envTransform(known []setting) func(string, string) (string, any) {
	return func(name, value string) (string, any) {
		key := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, EnvPrefix)), "__", ".")
		if value == "" || !slices.ContainsFunc(known, func(s setting) bool { return s.key == key }) {
			return "", nil
		}
		return key, value
	}
}

// stringList reads the list setting key (the static tokens, the GitHub
// org mapping): it accepts a YAML list or a comma-separated string, trims
// each entry and drops empty ones. Its errors never quote an entry; they
// show example, the shape of one.
func stringList(key, example string, raw any) ([]string, error) {
	var entries []string
	switch v := raw.(type) {
	case nil:
		return nil, nil
	case string:
		entries = strings.Split(v, ",")
	case []string:
		entries = v
	case []any:
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("config: %s[%d]: must be a string such as %q", key, i, example)
			}
			entries = append(entries, s)
		}
	default:
		return nil, fmt.Errorf("config: %s: must be a list or a comma-separated string of %q entries", key, example)
	}
	var out []string
	for _, e := range entries {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out, nil
}

// Validate checks every setting and reports all problems at once, one line
// each, starting with "config: <key>:". No message contains a token value.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...)))
	}
	if msg := checkAddr(c.Addr); msg != "" {
		bad("addr", "%s", msg)
	}
	if strings.TrimSpace(c.DB) == "" {
		bad("db", "must not be empty")
	}
	oneOf := func(key, got string, want ...string) {
		if !slices.Contains(want, got) {
			bad(key, "must be one of %s, got %q", strings.Join(want, "|"), got)
		}
	}
	oneOf("storage.sync", c.Storage.Sync, SyncFull, SyncNormal)
	oneOf("log_format", c.LogFormat, LogFormatText, LogFormatJSON)
	oneOf("log_level", c.LogLevel, "debug", "info", "warn", "error")
	if c.Locks.SweepInterval <= 0 {
		bad("locks.sweep_interval", "must be greater than 0, got %s", c.Locks.SweepInterval)
	}
	if c.Locks.DefaultLockDelay < 0 || c.Locks.DefaultLockDelay > domain.MaxLockDelay {
		bad("locks.default_lock_delay", "must be between 0s and %s, got %s", domain.MaxLockDelay, c.Locks.DefaultLockDelay)
	}
	if c.PprofAddr != "" {
		if msg := checkAddr(c.PprofAddr); msg != "" {
			bad("pprof_addr", "%s", msg)
		}
	}
	switch {
	case c.TLS.CertFile != "" && c.TLS.KeyFile == "":
		bad("tls.key_file", "must be set when tls.cert_file is (HTTPS needs both the certificate and its key)")
	case c.TLS.CertFile == "" && c.TLS.KeyFile != "":
		bad("tls.cert_file", "must be set when tls.key_file is (HTTPS needs both the certificate and its key)")
	}
	if c.OAuth.Enabled() {
		if c.OAuth.GitHub.ClientID == "" {
			bad("oauth.github.client_id", "must be set when oauth.github.client_secret is")
		}
		if c.OAuth.GitHub.ClientSecret == "" {
			bad("oauth.github.client_secret", "must be set when oauth.github.client_id is")
		}
		for _, u := range []struct{ key, val string }{
			{"oauth.github.authorize_url", c.OAuth.GitHub.AuthorizeURL}, {"oauth.github.token_url", c.OAuth.GitHub.TokenURL},
			{"oauth.github.api_url", c.OAuth.GitHub.APIURL}, {"oauth.redirect_url", c.OAuth.RedirectURL}, {"oauth.dashboard_url", c.OAuth.DashboardURL},
		} {
			if msg := checkHTTPURL(u.val); msg != "" {
				bad(u.key, "%s (GitHub sign-in is on)", msg)
			}
		}
		if !c.OAuth.GitHub.PersonalOrgs && len(c.OAuth.GitHub.Orgs) == 0 {
			bad("oauth.github.personal_orgs", "false needs oauth.github.orgs, or nobody could sign in with GitHub")
		}
	}
	mapped := map[string]string{} // GitHub org in lower case -> the entry that maps it
	for i, entry := range c.OAuth.GitHub.Orgs {
		key := fmt.Sprintf("%s[%d]", keyGitHubOrgs, i)
		r, err := domain.ParseOrgRule(entry)
		switch {
		case err != nil:
			bad(key, "%s", err)
		case mapped[strings.ToLower(r.External)] != "":
			bad(key, "GitHub org %q is mapped already by %s; only the first entry of an org counts", r.External, mapped[strings.ToLower(r.External)])
		default:
			mapped[strings.ToLower(r.External)] = key
		}
	}
	if c.Restore.Grace <= 0 {
		bad("restore.grace", "must be greater than 0, got %s", c.Restore.Grace)
	}
	if c.Shutdown.Timeout <= 0 {
		bad("shutdown.timeout", "must be greater than 0, got %s", c.Shutdown.Timeout)
	}
	positive := func(key string, n int) {
		if n <= 0 {
			bad(key, "must be greater than 0, got %d", n)
		}
	}
	positive("events.retain", c.Events.Retain)
	positive("config.history", c.ConfigStore.History)
	positive("watch.max_streams", c.Watch.MaxStreams)
	positive("watch.max_streams_per_principal", c.Watch.MaxStreamsPerPrincipal)
	positive("watch.max_lag", c.Watch.MaxLag)
	positive("webhooks.attempts", c.Webhooks.Attempts)
	positive("webhooks.workers", c.Webhooks.Workers)
	positive("api.burst", c.API.Burst)
	if c.API.Rate < 0 {
		bad("api.rate", "must be 0 (off) or more, got %d", c.API.Rate)
	}
	if c.ConfigStore.WriteRate < 0 {
		bad("config.write_rate", "must be 0 (off) or more, got %d", c.ConfigStore.WriteRate)
	}
	for key, d := range map[string]time.Duration{"watch.heartbeat": c.Watch.Heartbeat, "webhooks.backoff": c.Webhooks.Backoff,
		"webhooks.max_backoff": c.Webhooks.MaxBackoff, "webhooks.timeout": c.Webhooks.Timeout} {
		if d <= 0 {
			bad(key, "must be greater than 0, got %s", d)
		}
	}
	for q, n := range c.Quotas.limits() {
		if err := domain.CheckLimit(q, n); err != nil {
			bad("quotas."+string(q), "must be from 0 to %d, got %d", domain.MaxQuotaLimit, n)
		}
	}
	if c.Webhooks.MaxBackoff < c.Webhooks.Backoff {
		bad("webhooks.max_backoff", "must be at least webhooks.backoff (%s), got %s", c.Webhooks.Backoff, c.Webhooks.MaxBackoff)
	}

	owner := map[string]string{} // token value -> the setting that holds it
	for i, entry := range c.StaticTokens {
		key := fmt.Sprintf("%s[%d]", keyStaticToken, i)
		p, token, err := domain.ParseStaticToken(entry)
		switch {
		case err != nil:
			bad(key, "%s", entryError(entry))
		case !printable(token):
			bad(key, "token for %s/%s must not contain spaces or control characters", p.Org, p.User)
		case owner[token] != "":
			bad(key, "same token as %s; every token must be different", owner[token])
		default:
			owner[token] = key
		}
	}
	if c.AdminToken != "" {
		switch {
		case len(c.AdminToken) < domain.MinTokenBytes:
			bad("admin_token", "must be at least %d characters", domain.MinTokenBytes)
		case !printable(c.AdminToken):
			bad("admin_token", "must not contain spaces or control characters")
		case owner[c.AdminToken] != "":
			bad("admin_token", "same token as %s; the admin token must differ from every user token", owner[c.AdminToken])
		}
	}
	return errors.Join(errs...)
}

// StaticPrincipals returns the static tokens as credentials: the principal
// of each entry and the hash of its token. Call it on a validated Config;
// its error, like Validate's, never contains a token.
func (c Config) StaticPrincipals() ([]domain.Credential, error) {
	out := make([]domain.Credential, 0, len(c.StaticTokens))
	for i, entry := range c.StaticTokens {
		p, token, err := domain.ParseStaticToken(entry)
		if err != nil {
			return nil, fmt.Errorf("config: %s[%d]: %s", keyStaticToken, i, entryError(entry))
		}
		out = append(out, domain.Credential{Hash: domain.HashToken(token), Principal: p})
	}
	return out, nil
}

// AdminCredential returns the credential of the admin token, whose principal
// is an admin without org, and false if no admin token is configured.
func (c Config) AdminCredential() (domain.Credential, bool) {
	if c.AdminToken == "" {
		return domain.Credential{}, false
	}
	return domain.Credential{
		Hash:      domain.HashToken(c.AdminToken),
		Principal: domain.Principal{User: "admin", Admin: true},
	}, true
}

// LogValue implements slog.LogValuer: static tokens appear as their
// principals and the admin token as whether it is set.
func (c Config) LogValue() slog.Value {
	principals := make([]string, 0, len(c.StaticTokens))
	for _, entry := range c.StaticTokens {
		if p, _, err := domain.ParseStaticToken(entry); err == nil {
			principals = append(principals, string(p.Org)+"/"+p.User)
		} else {
			principals = append(principals, "(invalid)")
		}
	}
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("db", c.DB),
		slog.Any(keyStaticToken, principals),
		slog.Bool("admin_token", c.AdminToken != ""),
		slog.String("log_format", c.LogFormat),
		slog.String("log_level", c.LogLevel),
		slog.String("storage.sync", c.Storage.Sync),
		slog.Duration("locks.sweep_interval", c.Locks.SweepInterval),
		slog.Duration("shutdown.timeout", c.Shutdown.Timeout),
		slog.Duration("locks.default_lock_delay", c.Locks.DefaultLockDelay),
		slog.Duration("restore.grace", c.Restore.Grace),
		slog.Int("events.retain", c.Events.Retain),
		slog.Bool("webhook_allow_private", c.WebhookAllowPrivate),
		slog.String("tls.cert_file", c.TLS.CertFile),
		slog.String("tls.key_file", c.TLS.KeyFile),
		slog.String("oauth.github.client_id", c.OAuth.GitHub.ClientID),
		slog.Bool("oauth.github.client_secret", c.OAuth.GitHub.ClientSecret != ""),
		slog.String("oauth.github.authorize_url", c.OAuth.GitHub.AuthorizeURL),
		slog.String("oauth.github.token_url", c.OAuth.GitHub.TokenURL),
		slog.String("oauth.github.api_url", c.OAuth.GitHub.APIURL),
		slog.Any("oauth.github.orgs", c.OAuth.GitHub.Orgs),
		slog.Bool("oauth.github.personal_orgs", c.OAuth.GitHub.PersonalOrgs),
		slog.String("oauth.redirect_url", c.OAuth.RedirectURL),
		slog.String("oauth.dashboard_url", c.OAuth.DashboardURL),
	)
}

// String returns the settings without secrets, as LogValue does.
func (c Config) String() string { return c.LogValue().String() }

// Format makes every fmt verb, %#v and %d included, print String, so that
// printing a Config can never reveal a token.
func (c Config) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// newFlagSet defines one string flag per setting that has one (values are
// parsed like those of the file and the environment) plus --config; it
// returns the set and the --config value. Errors and help are reported by
// the caller, so the set prints nothing.
func newFlagSet() (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("octostore", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	path := fs.String("config", "", "read settings from the YAML `file`")
	for _, s := range settings() {
		if s.flag != "" {
			fs.String(s.flag, "", s.doc)
		}
	}
	return fs, path
}

// setting is one leaf key of Config with everything derived from its field.
type setting struct {
	key  string       // YAML key, e.g. storage.sync
	typ  reflect.Type // Go type of the field
	def  any          // default value; nil when the default is the zero value of a slice
	doc  string       // one-line help, from the doc tag
	env  string       // environment variable, e.g. OCTOSTORE_STORAGE__SYNC
	flag string       // flag name without dashes, e.g. storage.sync; "" for none
}

// settings lists the leaf keys of Config in field order, read from the
// struct tags so that a new field needs no other change here.
func settings() []setting {
	var out []setting
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		for i := range v.NumField() {
			f := v.Type().Field(i)
			key := prefix + f.Tag.Get("koanf")
			if f.Type.Kind() == reflect.Struct {
				walk(v.Field(i), key+".")
				continue
			}
			s := setting{
				key:  key,
				typ:  f.Type,
				doc:  f.Tag.Get("doc"),
				env:  EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "__")),
				flag: strings.ReplaceAll(key, "_", "-"),
			}
			if f.Tag.Get("flag") == "-" {
				s.flag = ""
			}
			if f.Type.Kind() != reflect.Slice {
				s.def = v.Field(i).Interface()
			}
			out = append(out, s)
		}
	}
	walk(reflect.ValueOf(DefaultConfig()), "")
	return out
}

// defaultText is how help and the README show the default of s.
func (s setting) defaultText() string {
	switch v := s.def.(type) {
	case nil:
		return "none"
	case string:
		if v == "" {
			return "none"
		}
		return v
	default:
		return fmt.Sprint(v)
	}
}

// settingsHelp returns the help entries of the settings with the given
// keys, or of all settings when none is given, preceded by --config.
func settingsHelp(keys ...string) string {
	var b strings.Builder
	b.WriteString("  --config FILE\n        read settings from a YAML file; its keys are the setting names below\n")
	for _, s := range settings() {
		if len(keys) > 0 && !slices.Contains(keys, s.key) {
			continue
		}
		flagText := "no flag (secret: file or environment only)"
		if s.flag != "" {
			flagText = "--" + s.flag
		}
		fmt.Fprintf(&b, "  %s: %s, %s (default %s)\n        %s\n", s.key, flagText, s.env, s.defaultText(), s.doc)
	}
	return b.String()
}

// settingsTable returns the settings as the Markdown table of the README.
func settingsTable() string {
	var b strings.Builder
	b.WriteString("| setting | env | flag | default | what it sets |\n|---|---|---|---|---|\n")
	for _, s := range settings() {
		flagText := "(file/env only)"
		if s.flag != "" {
			flagText = "`--" + s.flag + "`"
		}
		def := s.defaultText()
		if def != "none" {
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s | %s |\n", s.key, s.env, flagText, def, s.doc)
	}
	return b.String()
}

// checkAddr returns why addr is not host:port with a numeric port, or "".
func checkAddr(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("must be host:port such as 127.0.0.1:3000 or :3000, got %q", addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Sprintf("port must be a number from 0 to 65535, got %q", port)
	}
	return ""
}

// entryError explains why entry does not parse. It parses a copy whose
// token is masked, so the message cannot contain the token whatever
// ParseStaticToken puts in its messages.
func entryError(entry string) string {
	entry = strings.TrimSpace(entry)
	masked := strings.Repeat("x", len(entry)) // no ":": the whole entry may be a token
	if who, token, found := strings.Cut(entry, ":"); found {
		masked = who + ":" + strings.Repeat("x", len(token))
	}
	if _, _, err := domain.ParseStaticToken(masked); err != nil {
		return err.Error()
	}
	return "invalid entry; it must look like org/user:token or user:token"
}

// printable reports whether token has no spaces or control characters,
// which a client could not send in an Authorization header.
func printable(token string) bool {
	for i := range len(token) {
		if token[i] <= ' ' || token[i] == 0x7f {
			return false
		}
	}
	return true
}

// checkHTTPURL describes what is wrong with an absolute http(s) URL, or
// returns "".
func checkHTTPURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Sprintf("must be an absolute http:// or https:// URL, got %q", s)
	}
	return ""
}
