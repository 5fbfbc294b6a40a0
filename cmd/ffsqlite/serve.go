package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/dbinit"
	"github.com/ffsqlite/ffsqlite/dblock"
	"github.com/ffsqlite/ffsqlite/scanners"
	"github.com/ffsqlite/ffsqlite/server"
)

// DefaultListen is serve's address: loopback unless asked otherwise.
const DefaultListen = "127.0.0.1:9090"

// openNetworkWarning starts serve's WARN for a non-loopback bind without
// a token; it is printed at any --log-level.
const openNetworkWarning = "the API is open to the network"

// DefaultServeGrace bounds the drain of requests and scanner ticks on stop.
const DefaultServeGrace = 15 * time.Second

func serveCommand() *cli.Command {
	flags := dbFlags(
		&cli.StringFlag{Name: "listen", Usage: "listen `ADDR` (host:port)", EnvVars: []string{"FF_LISTEN_ADDR"}, Value: DefaultListen},
		&cli.DurationFlag{Name: "grace", Usage: "on stop, wait up to `DURATION` for requests and scanner ticks", Value: DefaultServeGrace},
		&cli.DurationFlag{Name: "hmac-grace", Usage: "a rotated-out waitpoint key verifies its tokens for `DURATION` " +
			"(default 24h; env " + backend.HMACGraceEnv + " in ms; 0 = none)"},
		&cli.StringFlag{Name: "allowed-hosts", Usage: "`HOSTS` (comma list, or *) accepted in the Host header besides loopback names; " +
			"default: loopback only when --listen is loopback, any otherwise", EnvVars: []string{"FF_ALLOWED_HOSTS"}},
		&cli.BoolFlag{Name: "json", Usage: "print one JSON line on stdout once the server accepts connections (api, dashboard, metrics, healthz, db, pid)"},
		&cli.BoolFlag{Name: "allow-second-process", Usage: "serve even when another ffsqlite serve has the same file (two writer processes contend for it)"},
	)
	flags = append(flags, reconcilerFlags()...)
	return &cli.Command{
		Name:  "serve",
		Usage: "run a local FlowFabric dev server: REST API, HTTP worker loop, dashboard, metrics, reconcilers",
		Description: "Opens (creating and migrating) --db, or a throwaway in-memory database with --db :memory:, seeds the\n" +
			"waitpoint key, starts every reconciler and serves the API on --listen. SIGINT or SIGTERM stops\n" +
			"accepting, finishes in-flight requests, drains the reconcilers (--grace) and closes the database;\n" +
			"a second signal exits at once. Env: FF_API_TOKEN (bearer token), FF_CORS_ORIGINS (comma list of browser\n" +
			"origins, or *; default: the server's own and loopback origins only), " + backend.HMACGraceEnv + " (key\n" +
			"rotation grace, ms), FF_MAX_CONCURRENT_STREAM_OPS (concurrent stream reads and tails; default 64).\n" +
			"Bound to loopback (the default), the server answers only Host headers naming loopback (DNS-rebinding\n" +
			"defence); --allowed-hosts adds names. Bound elsewhere without FF_API_TOKEN, it warns that the API is open.",
		Flags: flags,
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usageErr("ffsqlite serve --help", "unexpected argument %q", c.Args().First())
			}
			return serve(c)
		},
	}
}

// hmacGraceSetting is the waitpoint key rotation grace: --hmac-grace,
// else FF_WAITPOINT_HMAC_GRACE_MS, else the backend default (0 here).
// Zero from the flag or the variable means no grace (a negative option).
func hmacGraceSetting(c *cli.Context) (time.Duration, error) {
	if c.IsSet("hmac-grace") {
		d := c.Duration("hmac-grace")
		switch {
		case d < 0:
			return 0, usageErr("ffsqlite serve --hmac-grace 24h", "invalid --hmac-grace %s: must not be negative", d)
		case d == 0:
			return -1, nil
		}
		return d, nil
	}
	if v := os.Getenv(backend.HMACGraceEnv); v != "" {
		d, err := backend.ParseHMACGraceMS(v)
		if err != nil {
			return 0, usageErr("set "+backend.HMACGraceEnv+" to a number of milliseconds", "%v", err)
		}
		return d, nil
	}
	return 0, nil
}

func serve(c *cli.Context) error {
	if !backend.DevModeEnabled() {
		return backend.ErrRequiresDevMode // before anything listens or opens
	}
	token, err := server.ParseAPIToken(os.Getenv("FF_API_TOKEN"))
	if err != nil {
		return usageErr("unset FF_API_TOKEN, or set it to a token without surrounding whitespace", "%v", err)
	}
	cfg := server.Config{APIToken: token}
	if v, ok := os.LookupEnv("FF_CORS_ORIGINS"); ok {
		origins, err := server.ParseCORSOrigins(v)
		if err != nil {
			return usageErr("set FF_CORS_ORIGINS to a comma list of origins, or * for any", "%v", err)
		}
		cfg.CORSOrigins = origins
	}
	if cfg.MaxStreamOps, err = server.ParseMaxStreamOps(os.LookupEnv("FF_MAX_CONCURRENT_STREAM_OPS")); err != nil {
		return usageErr("set FF_MAX_CONCURRENT_STREAM_OPS to a positive integer (default 64)", "%v", err)
	}
	scfg, err := scanConfig(c, os.LookupEnv)
	if err != nil {
		return err
	}
	if err := checkSecretEnv(); err != nil {
		return err
	}
	hmacGrace, err := hmacGraceSetting(c)
	if err != nil {
		return err
	}
	var extraHosts []string
	if c.IsSet("allowed-hosts") {
		if extraHosts, err = server.ParseAllowedHosts(c.String("allowed-hosts")); err != nil {
			return usageErr("--allowed-hosts NAME[,NAME…] or * (FF_ALLOWED_HOSTS)", "%v", err)
		}
	}
	ln, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return withCode(exitAddrInUse, fmt.Errorf("listen on %s: address already in use", c.String("listen")),
				"ffsqlite serve --listen 127.0.0.1:PORT (or FF_LISTEN_ADDR)")
		}
		return usageErr("ffsqlite serve --listen HOST:PORT", "listen on %s: %v", c.String("listen"), err)
	}
	defer ln.Close()

	b, log, err := openDB(c, func(o *backend.Options) { o.CreateDirs, o.WaitpointHMACGrace = true, hmacGrace })
	if err != nil {
		return err
	}
	defer b.Close(context.WithoutCancel(c.Context))
	if !b.IsMemory() {
		// The process lock: destructive commands refuse while it is held,
		// and a second serve of the file refuses unless allowed.
		lease, err := dblock.Register(c.Context, b.Path(), dblock.Me("serve", ln.Addr().String()), !c.Bool("allow-second-process"))
		if err != nil {
			return err
		}
		defer lease.Release()
	}
	sum, err := dbinit.Run(c.Context, b, log)
	if err != nil {
		return err
	}
	sup, err := scanners.ForBackend(b, scfg, scanners.Options{Logger: log})
	if err != nil {
		return usageErr("ffsqlite serve --help", "%v", err)
	}
	cfg.Logger, cfg.Scanners = log, sup
	loopback := isLoopbackAddr(ln.Addr())
	cfg.AllowedHosts = extraHosts
	if !loopback && extraHosts == nil {
		cfg.AllowedHosts = []string{"*"} // the names it is reached by are unknown
	}
	if !loopback && cfg.APIToken == "" {
		log.Warn(openNetworkWarning+": listening on "+ln.Addr().String()+
			" without FF_API_TOKEN, anyone who can reach this address can create, cancel and replay executions",
			"listen", ln.Addr().String())
	}
	srv, err := server.New(b, cfg)
	if err != nil {
		return err
	}
	if err := sup.Start(context.WithoutCancel(c.Context)); err != nil {
		return err
	}
	printEndpoints(c, ln.Addr(), b, sum, cfg.APIToken != "")

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if c.Bool("json") {
		// The listener is bound, so connections are accepted from here on.
		if err := json.NewEncoder(c.App.Writer).Encode(newReadyLine(ln.Addr(), b)); err != nil {
			log.Warn("write the ready line", "error", err)
		}
	}
	select {
	case err := <-errc:
		sup.Shutdown(context.Background())
		return err
	case <-c.Context.Done():
	}
	log.Info("shutting down: draining requests and reconcilers", "grace", c.Duration("grace"))
	// Requests and reconciler ticks drain side by side, each with the whole
	// grace: a slow request does not eat the reconcilers' time.
	grace := c.Duration("grace")
	late := make(chan []string, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		late <- sup.Shutdown(ctx)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("requests still running at the end of the grace period", "error", err)
	}
	if l := <-late; len(l) > 0 {
		log.Warn("sqlite scanner supervisor exceeded grace on shutdown", "timed_out", len(l), "grace", grace)
	}
	<-errc
	log.Info("stopped", "database", b.Path())
	return nil
}

// readyLine is what `serve --json` prints on stdout, one line, once the
// server accepts connections: a script reads the port from it.
type readyLine struct {
	API       string `json:"api"`
	Dashboard string `json:"dashboard"`
	Metrics   string `json:"metrics"`
	Healthz   string `json:"healthz"`
	DB        string `json:"db"`
	PID       int    `json:"pid"`
}

func newReadyLine(ln net.Addr, b *backend.Backend) readyLine {
	base := browseURL(ln)
	return readyLine{API: base, Dashboard: base + "/", Metrics: base + "/metrics", Healthz: base + "/healthz", DB: b.Path(), PID: os.Getpid()}
}

// isLoopbackAddr reports whether the listener is bound to a loopback
// address only (127.0.0.0/8, ::1); the unspecified address is not.
func isLoopbackAddr(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// browseURL is a URL a browser or curl on this machine can open for the
// listener: a wildcard bind (0.0.0.0, [::]) is reached at 127.0.0.1.
func browseURL(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return "http://" + a.String()
	}
	if tcp.IP == nil || tcp.IP.IsUnspecified() {
		return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp.Port))
	}
	return "http://" + tcp.String()
}

// printEndpoints is serve's start-up banner, on stderr like every log.
func printEndpoints(c *cli.Context, ln net.Addr, b *backend.Backend, sum *dbinit.Summary, auth bool) {
	w := c.App.ErrWriter
	base := browseURL(ln)
	db := b.Path()
	if b.IsMemory() {
		db = "in-memory (data is lost on exit)"
	}
	fmt.Fprintf(w, "ffsqlite dev server (FlowFabric SQLite, dev-only)\n")
	if tcp, ok := ln.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		fmt.Fprintf(w, "  Listening:  %s (every interface)\n", ln)
	}
	fmt.Fprintf(w, "  API:        %s/v1\n", base)
	if auth {
		fmt.Fprintf(w, "  Dashboard:  %s/ (open as %s/#token=$FF_API_TOKEN)\n", base, base)
	} else {
		fmt.Fprintf(w, "  Dashboard:  %s/\n", base)
	}
	fmt.Fprintf(w, "  Metrics:    %s/metrics\n", base)
	fmt.Fprintf(w, "  Health:     %s/healthz\n", base)
	fmt.Fprintf(w, "  Database:   %s (schema version %d, %s)\n", db, sum.SchemaVersion, sum.JournalMode)
	if auth {
		fmt.Fprintf(w, "  Auth:       bearer token from FF_API_TOKEN\n")
	} else {
		fmt.Fprintf(w, "  Auth:       off (set FF_API_TOKEN to require a bearer token)\n")
	}
}
