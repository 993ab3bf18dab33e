// Package bootstrap wires adapters to ports with fx and loads configuration
// with koanf. It is the only package that imports either, and the only one
// that knows every adapter.
package bootstrap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/octostore/octostore/adapters/clock"
	"github.com/octostore/octostore/adapters/httpapi"
	"github.com/octostore/octostore/adapters/metrics"
	"github.com/octostore/octostore/adapters/oauth"
	"github.com/octostore/octostore/adapters/sqlite"
	"github.com/octostore/octostore/adapters/webhook"
	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/ports"
)

// Env is what the process gives the application besides its configuration.
type Env struct {
	Version string
	Logger  *slog.Logger
	// Console receives the one-time banner with generated tokens. It is
	// never a log sink: tokens must not reach log files.
	Console io.Writer
}

// Options returns the application graph; cmd/octostore and the tests share it.
// Start-up order (fx runs OnStart hooks in the order their constructors and
// invokes ran, OnStop in reverse): lock, open and migrate the database;
// restore state and start the writer; bind the API's listener (and the
// pprof one); make sure a credential exists, printing generated tokens;
// serve. Tokens are thus generated and stored only once the database is
// ready and the address bound, so a start that fails leaves none behind
// and the next start prints them. Every failure an operator can act on is
// a startupError naming what failed and why.
func Options(cfg Config, env Env) fx.Option {
	return fx.Options(
		fx.Supply(cfg, env),
		fx.WithLogger(func() fxevent.Logger { return fxLogger(env.Logger) }),
		fx.Provide(
			func() *slog.Logger { return env.Logger },
			openDatabase,
			fx.Annotate(sqlite.NewJournal, fx.As(new(ports.Journal))),
			fx.Annotate(func() clock.System { return clock.System{} }, fx.As(new(ports.Clock))),
			newEngine,
			newLockService,
			application.NewSessionService,
			newEventService,
			newWebhookService,
			application.NewOrgService,
			application.NewAccessService,
			newLoginService,
			application.NewFlagService,
			application.NewLimitService,
			newQuotaService,
			application.NewAdminService,
			application.NewConfigService,
			newDispatcher,
			newAuth,
			newMetrics,
			newHTTPAPI,
			newCertificates,
			newListener,
			newHTTPServer,
		),
		fx.Invoke(watchState, startEngine, startDispatcher, func(*Listener) {}, servePprof, ensureCredentials, func(*HTTPServer) {}),
	)
}

// openDatabase takes the database's exclusive lock, so that a second
// process refuses to serve the same file, then opens it; its hook migrates
// it before anything else starts and closes it (then drops the lock) last.
func openDatabase(lc fx.Lifecycle, cfg Config, log *slog.Logger) (*sqlite.DB, error) {
	what := "database " + cfg.DB
	lock, err := sqlite.Lock(cfg.DB)
	if err != nil {
		return nil, failed(what, err)
	}
	db, err := sqlite.Open(context.Background(), sqlite.Config{Path: cfg.DB, Sync: cfg.Storage.Sync})
	if err != nil {
		_ = lock.Release()
		return nil, failed(what, err)
	}
	closeAll := func() error { return errors.Join(db.Close(), lock.Release()) }
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			if err := db.Migrate(ctx); err != nil {
				// fx stops only the hooks that started: close here.
				_ = closeAll()
				return failed(what, err)
			}
			// Checkpoints off the writer's commits (see sqlite.StartCheckpoints).
			if err := db.StartCheckpoints(sqlite.DefaultCheckpointEvery, func(err error) {
				log.Warn("background checkpoint failed; the next one retries", "err", err)
			}); err != nil {
				_ = closeAll()
				return failed(what, err)
			}
			log.Info("database ready", "path", cfg.DB, "sync", cfg.Storage.Sync)
			return nil
		},
		OnStop: func(context.Context) error { return closeAll() },
	})
	return db, nil
}

func newEngine(j ports.Journal, clk ports.Clock, cfg Config, log *slog.Logger, m *metrics.Metrics) *application.Engine {
	return application.NewEngine(j, clk, application.EngineConfig{
		SweepInterval: cfg.Locks.SweepInterval, RestoreGrace: cfg.Restore.Grace, Logger: log,
		KeepEvents: uint64(cfg.Events.Retain), Quotas: cfg.Quotas.limits(), Observer: m,
		ConfigHistory: cfg.ConfigStore.History,
	})
}

// newMetrics builds the metrics' own registry (never the global one).
func newMetrics(env Env) *metrics.Metrics {
	return metrics.New(metrics.Config{Version: env.Version})
}

// watchState makes every scrape read the live state's sizes from memory.
func watchState(m *metrics.Metrics, e *application.Engine, ev *application.EventService) {
	m.ReadState(func() metrics.State {
		g := e.Gauges()
		d := make(map[string]int, len(g.Deliveries))
		for state, n := range g.Deliveries {
			d[string(state)] = n
		}
		return metrics.State{LocksHeld: g.LockRecords, SessionsOpen: g.Sessions, WatchStreams: ev.OpenStreams(),
			WaitersQueued: g.Waiters, EventsRetained: g.EventsRetained, Deliveries: d, RestoreTook: g.RestoreTook}
	})
}

func newLoginService(e *application.Engine, orgs *application.OrgService, cfg Config) (*application.LoginService, error) {
	m, err := cfg.OAuth.GitHub.mapping()
	if err != nil {
		return nil, err
	}
	return application.NewLoginService(e, orgs, m), nil
}

func newEventService(e *application.Engine, cfg Config) *application.EventService {
	return application.NewEventService(e, application.WatchLimits{MaxStreams: cfg.Watch.MaxStreams,
		PerPrincipal: cfg.Watch.MaxStreamsPerPrincipal, MaxLag: uint64(cfg.Watch.MaxLag)})
}

func newQuotaService(e *application.Engine, ev *application.EventService) *application.QuotaService {
	return application.NewQuotaService(e, ev)
}

func newWebhookService(e *application.Engine, cfg Config) *application.WebhookService {
	return application.NewWebhookService(e, cfg.WebhookAllowPrivate)
}

func newDispatcher(e *application.Engine, cfg Config, log *slog.Logger) *application.Dispatcher {
	send := webhook.New(webhook.Config{AllowPrivate: cfg.WebhookAllowPrivate, Timeout: cfg.Webhooks.Timeout})
	return application.NewDispatcher(e, send, application.DispatchConfig{
		Workers: cfg.Webhooks.Workers, Attempts: cfg.Webhooks.Attempts, Backoff: cfg.Webhooks.Backoff,
		MaxBackoff: cfg.Webhooks.MaxBackoff, Timeout: cfg.Webhooks.Timeout, Logger: log.With("component", "webhooks"),
	})
}

// startDispatcher delivers webhooks once the engine runs, and stops
// delivering before the engine stops.
func startDispatcher(lc fx.Lifecycle, d *application.Dispatcher) {
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error { d.Start(); return nil },
		OnStop:  d.Stop,
	})
}

func newLockService(e *application.Engine, cfg Config) *application.LockService {
	return application.NewLockService(e, cfg.Locks.DefaultLockDelay)
}

func startEngine(lc fx.Lifecycle, e *application.Engine, cfg Config) {
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			if err := e.Start(ctx); err != nil {
				return failed("database "+cfg.DB, err)
			}
			return nil
		},
		OnStop: e.Stop,
	})
}

func newAuth(e *application.Engine, cfg Config) (*application.AuthService, error) {
	creds, err := cfg.StaticPrincipals()
	if err != nil {
		return nil, err
	}
	if admin, ok := cfg.AdminCredential(); ok {
		creds = append(creds, admin)
	}
	return application.NewAuthService(e, creds), nil
}

// ensureCredentials makes a zero-configuration start usable: it prints the
// generated tokens once, to the console, never to the log. It runs after
// the listener is bound and before the server serves.
func ensureCredentials(lc fx.Lifecycle, a *application.AuthService, env Env, log *slog.Logger) {
	lc.Append(fx.Hook{OnStart: func(ctx context.Context) error {
		gen, err := a.EnsureCredentials(ctx)
		if err != nil {
			return failed("first-start credentials", err)
		}
		if len(gen) == 0 || env.Console == nil {
			return nil
		}
		log.Warn("no token configured: generated an admin token and a token for default/admin (printed once on the console; only their hashes are stored)")
		fmt.Fprintln(env.Console, "\n=== OctoStore first start: save these tokens now; they are not shown again ===")
		for _, g := range gen {
			who := "admin token (opens /admin routes only)"
			if !g.Principal.Admin {
				who = "user token for " + string(g.Principal.Org) + "/" + g.Principal.User
			}
			fmt.Fprintf(env.Console, "  %-42s %s\n", who+":", g.Token)
		}
		fmt.Fprintln(env.Console, "===")
		return nil
	}})
}

// apiServices are the use cases the HTTP API serves.
type apiServices struct {
	fx.In
	Locks    *application.LockService
	Sessions *application.SessionService
	Auth     *application.AuthService
	Events   *application.EventService
	Webhooks *application.WebhookService
	Orgs     *application.OrgService
	Quotas   *application.QuotaService
	Access   *application.AccessService
	Login    *application.LoginService
	Admin    *application.AdminService
	Config   *application.ConfigService
	Flags    *application.FlagService
	Limits   *application.LimitService
	Engine   *application.Engine
}

func newHTTPAPI(env Env, cfg Config, clk ports.Clock, svc apiServices, log *slog.Logger, m *metrics.Metrics) *httpapi.Server {
	services := httpapi.Services{Locks: svc.Locks, Sessions: svc.Sessions, Auth: svc.Auth, Events: svc.Events,
		Webhooks: svc.Webhooks, Orgs: svc.Orgs, Quotas: svc.Quotas, Access: svc.Access, Login: svc.Login, Admin: svc.Admin, Config: svc.Config, Engine: svc.Engine,
		Flags: svc.Flags, Limits: svc.Limits}
	if cfg.OAuth.Enabled() {
		gh := cfg.OAuth.GitHub
		services.GitHub = oauth.NewGitHub(oauth.Config{ClientID: gh.ClientID, ClientSecret: gh.ClientSecret, AuthorizeURL: gh.AuthorizeURL,
			TokenURL: gh.TokenURL, APIURL: gh.APIURL, RedirectURL: cfg.OAuth.RedirectURL, ReadOrgs: len(gh.Orgs) > 0})
	}
	return httpapi.New(httpapi.Config{Version: env.Version, Logger: log, Now: clk.Now, WatchHeartbeat: cfg.Watch.Heartbeat,
		DashboardURL: cfg.OAuth.DashboardURL, Metrics: m.Handler(), MetricsPublic: cfg.Metrics.Public, Requests: m,
		APIRate: float64(cfg.API.Rate), APIBurst: cfg.API.Burst, ConfigWriteRate: cfg.ConfigStore.WriteRate}, services)
}

// Listener is the API's bound socket. Start-up binds it before generating
// any credential and serves it last (see Options).
type Listener struct {
	ln    net.Listener
	certs *Certificates // nil: plain HTTP
}

// serving returns the listener the server accepts on: ln itself, or with
// TLS on, ln speaking TLS with the current certificate. httpapi's listener
// wraps this one, so that it rewrites net/http's own error responses in
// plain text before they are encrypted; net/http then sees no *tls.Conn,
// so requests carry no r.TLS and the handshake happens on the first read,
// under the same ReadHeaderTimeout as the request header.
func (l *Listener) serving() net.Listener {
	if l.certs == nil {
		return l.ln
	}
	return tls.NewListener(l.ln, l.certs.tlsConfig())
}

// newListener binds cfg.Addr when the app starts, so that a bad or busy
// address fails start-up. certs is nil unless TLS is configured; its
// certificate is loaded before the address is bound.
func newListener(lc fx.Lifecycle, cfg Config, certs *Certificates, log *slog.Logger) *Listener {
	l := &Listener{certs: certs}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", cfg.Addr)
			if err != nil {
				return failed("listen address "+cfg.Addr, describeListenError(err))
			}
			l.ln = ln
			scheme := "http://"
			if certs != nil {
				scheme = "https://"
			}
			addr := ln.Addr().String()
			log.Info("listening", "addr", scheme+addr, "docs", scheme+addr+"/docs")
			return nil
		},
		OnStop: func(context.Context) error {
			// Serving's Shutdown closed it already, unless start-up failed
			// before serving.
			if err := l.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("close listener: %w", err)
			}
			return nil
		},
	})
	return l
}

// HTTPServer is the serving API server; Addr is known once the app started.
type HTTPServer struct {
	srv *http.Server
	ln  *Listener
}

// Addr returns the bound address (useful with port 0), or "" before start.
func (h *HTTPServer) Addr() string {
	if h.ln.ln == nil {
		return ""
	}
	return h.ln.ln.Addr().String()
}

func newHTTPServer(lc fx.Lifecycle, cfg Config, api *httpapi.Server, ln *Listener, e *application.Engine, log *slog.Logger) *HTTPServer {
	h := &HTTPServer{ln: ln, srv: &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			// Requests wait in the listen backlog until Serve accepts
			// them, so /ready can say ready from here on.
			api.SetServing(true)
			go func() {
				if err := h.srv.Serve(api.Listener(ln.serving())); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error("http server stopped", "err", err)
				}
			}()
			return nil
		},
		OnStop: func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, cfg.Shutdown.Timeout)
			defer cancel()
			// Stop accepting, answer blocked acquires at once (they could
			// otherwise hold the shutdown for their whole wait), then let
			// in-flight requests finish.
			api.SetServing(false) // /ready: 503 not_ready, so that balancers drain us
			h.srv.SetKeepAlivesEnabled(false)
			go func() { _ = e.Drain(ctx) }()
			if err := h.srv.Shutdown(ctx); err != nil {
				return fmt.Errorf("shut down http server: %w", err)
			}
			return nil
		},
	})
	return h
}

// fxLogger sends fx's own events to slog at debug level, its errors too:
// a failed start-up is explained in one line by Serve, and fx's account of
// it (the dependency chain, a stack) is for debugging only.
func fxLogger(log *slog.Logger) fxevent.Logger {
	l := &fxevent.SlogLogger{Logger: log.With("component", "fx")}
	l.UseLogLevel(slog.LevelDebug)
	l.UseErrorLevel(slog.LevelDebug)
	return l
}

// servePprof serves Go's profiles on a separate, opt-in listener.
func servePprof(lc fx.Lifecycle, cfg Config, log *slog.Logger) {
	if cfg.PprofAddr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", cfg.PprofAddr)
			if err != nil {
				return failed("pprof address "+cfg.PprofAddr, describeListenError(err))
			}
			log.Info("pprof listening", "addr", "http://"+ln.Addr().String()+"/debug/pprof/")
			go func() { _ = srv.Serve(ln) }()
			return nil
		},
		OnStop: func(context.Context) error { return srv.Close() },
	})
}
