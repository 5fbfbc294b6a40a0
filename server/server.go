// Package server is ffsqlite's local dev server: ff-server's REST API as
// thin handlers over the backend Go API, ffsqlite's HTTP worker routes, a
// Prometheus /metrics endpoint and the embedded dashboard.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/scanners"
)

// Defaults for Config.
const (
	// DefaultMaxBlock caps a worker claim's block_ms long-poll.
	DefaultMaxBlock = 30 * time.Second
	// DefaultClaimPoll is how often a blocked claim retries when no commit
	// wakes it first.
	DefaultClaimPoll = 100 * time.Millisecond
	// DefaultIdleTimeout closes a keep-alive connection that has carried no
	// request for this long (a worker between jobs sends one far sooner).
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultBodyReadTimeout is how long a request body may take to
	// arrive (Config.BodyReadTimeout).
	DefaultBodyReadTimeout = 30 * time.Second
)

// Config tunes a Server. The zero value is a safe local dev server: no
// auth, and only loopback Host names and browser origins (the server's
// own origin and http(s)://localhost/127.0.0.1/[::1] on any port).
type Config struct {
	// APIToken, when set, is required as "Authorization: Bearer <token>"
	// on every route but /healthz and /metrics. ParseAPIToken checks one.
	APIToken string
	// CORSOrigins lists the browser origins allowed besides the server's
	// own; "*" allows all. Empty means loopback origins only.
	CORSOrigins []string
	// AllowedHosts lists Host header names (or addresses) accepted besides
	// loopback ones, the defence against DNS rebinding; "*" accepts every
	// Host. Empty means loopback names and addresses only. serve passes
	// "*" when bound to a non-loopback address without --allowed-hosts.
	AllowedHosts []string
	// Logger receives request errors. Defaults to slog.Default().
	Logger *slog.Logger
	// Registry collects /metrics. Defaults to a fresh registry.
	Registry *prometheus.Registry
	// MaxBlock caps block_ms on worker claims. Defaults to DefaultMaxBlock.
	MaxBlock time.Duration
	// ClaimPoll is the blocked-claim retry period. Defaults to
	// DefaultClaimPoll.
	ClaimPoll time.Duration
	// Scanners, when set, feeds the dashboard's scanner table and the
	// ff_scanner_* metrics.
	Scanners *scanners.Supervisor
	// IdleTimeout closes keep-alive connections idle this long. Defaults
	// to DefaultIdleTimeout; negative keeps them open forever.
	IdleTimeout time.Duration
	// MaxStreamOps caps concurrent stream reads and tails (routes 15, 16;
	// FF_MAX_CONCURRENT_STREAM_OPS); 0 is DefaultMaxStreamOps.
	MaxStreamOps int
	// BodyReadTimeout bounds the reading of a request body, so a client
	// that sends the headers and then stalls gets a 408 instead of
	// holding its request forever. Defaults to DefaultBodyReadTimeout.
	BodyReadTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	if c.MaxBlock == 0 {
		c.MaxBlock = DefaultMaxBlock
	}
	if c.ClaimPoll == 0 {
		c.ClaimPoll = DefaultClaimPoll
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.BodyReadTimeout <= 0 {
		c.BodyReadTimeout = DefaultBodyReadTimeout
	}
	return c
}

// ParseCORSOrigins parses FF_CORS_ORIGINS: a comma list; an empty value
// is an error, as upstream.
func ParseCORSOrigins(v string) ([]string, error) {
	if strings.TrimSpace(v) == "" {
		return nil, errors.New("invalid value for FF_CORS_ORIGINS: must not be empty")
	}
	var out []string
	for _, o := range strings.Split(v, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("invalid value for FF_CORS_ORIGINS: no origin listed")
	}
	return out, nil
}

// ParseAPIToken checks FF_API_TOKEN: empty means no auth; a token that is
// only whitespace, or starts or ends with it, is refused, since HTTP
// trims header values and no client could ever present it.
func ParseAPIToken(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	if strings.TrimSpace(v) == "" {
		return "", errors.New("invalid value for FF_API_TOKEN: only whitespace")
	}
	if strings.TrimSpace(v) != v {
		return "", errors.New("invalid value for FF_API_TOKEN: starts or ends with whitespace, which HTTP strips from the header")
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return "", errors.New("invalid value for FF_API_TOKEN: contains a control character")
		}
	}
	return v, nil
}

// ParseAllowedHosts parses --allowed-hosts / FF_ALLOWED_HOSTS: a comma
// list of host names or addresses (ports are ignored), or "*" for any.
func ParseAllowedHosts(v string) ([]string, error) {
	var out []string
	for _, h := range strings.Split(v, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if h != "*" && (hostName(h) == "" || strings.ContainsAny(h, "/ ?#@")) {
			return nil, fmt.Errorf("invalid value for FF_ALLOWED_HOSTS: %q is not a host name or address", h)
		}
		out = append(out, h)
	}
	if len(out) == 0 {
		return nil, errors.New("invalid value for FF_ALLOWED_HOSTS: no host listed")
	}
	return out, nil
}

// Server serves one backend over HTTP.
type Server struct {
	b        *backend.Backend
	cfg      Config
	scanners *scanners.Supervisor
	mux      *http.ServeMux
	handler  http.Handler
	http     *http.Server
	wake     *waker
	presence *presence
	health   healthBaseline // what /healthz compares against
	rotating sync.Mutex     // one waitpoint-secret rotation at a time
	// quit is closed by Shutdown so that long-polling claims answer 204 at
	// once instead of holding the drain for up to MaxBlock.
	quit     chan struct{}
	quitOnce sync.Once
	// Test hooks, set before the server serves: claimWait runs each time
	// a blocked worker claim starts waiting for work.
	hooks struct{ claimWait func() }
	// streams caps stream reads (stream_routes.go).
	streams streamOps
}

// New builds the server's routes over b.
func New(b *backend.Backend, cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if _, err := ParseAPIToken(cfg.APIToken); err != nil {
		return nil, err
	}
	base, err := newHealthBaseline(b)
	if err != nil {
		return nil, err
	}
	s := &Server{health: base, b: b, cfg: cfg, scanners: cfg.Scanners, mux: http.NewServeMux(), wake: newWaker(), presence: newPresence(), quit: make(chan struct{})}
	reg := cfg.Registry
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	if s.scanners != nil {
		if err := reg.Register(scannerCollector{s.scanners}); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	if err := registerQuotaMetrics(reg, b); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	m := newHTTPMetrics(reg)
	s.routes()
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// Outermost first: the Host check, CORS (preflights answered before
	// auth), metrics (so 401s are counted), auth, the routes.
	s.handler = hostGuard(cfg.AllowedHosts, cors(cfg.CORSOrigins, cfg.APIToken != "",
		m.instrument(s.mux, requireToken(cfg.APIToken, canonicalPath(bodyDeadline(cfg.BodyReadTimeout, s.mux))))))
	// Built here, not in Serve, so that a Shutdown racing a starting Serve
	// still stops it (Serve then returns at once).
	s.http = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: max(cfg.IdleTimeout, 0)}
	return s, nil
}

// Handler returns the server's whole HTTP handler (CORS, auth, metrics,
// routes), for httptest.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve accepts connections on ln until Shutdown. It returns nil after a
// graceful shutdown. Requests net/http refuses before any handler runs
// (a bad percent-escape in the path, a malformed header) get the JSON
// envelope too (envelopeListener).
func (s *Server) Serve(ln net.Listener) error {
	err := s.http.Serve(envelopeListener{ln})
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections and waits for in-flight requests
// until ctx is done. Blocked worker claims answer 204 at once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.quitOnce.Do(func() { close(s.quit) })
	return s.http.Shutdown(ctx)
}
