package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/urfave/cli/v2"

	"github.com/ffsqlite/ffsqlite/backend"
)

// DefaultDBPath is the database every command uses when neither --db nor
// FF_SQLITE_PATH names one, so init, serve, scan and inspect in different
// terminals meet on one file.
const DefaultDBPath = "ff-dev.db"

// Shared flags. urfave/cli v2 only accepts a parent's flags before the
// subcommand, so every leaf command carries the ones it uses.
func dbFlag() cli.Flag {
	return &cli.StringFlag{Name: "db", Usage: "database file, `PATH`, file: URI or :memory:", EnvVars: []string{"FF_SQLITE_PATH"}, Value: DefaultDBPath}
}

func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print data as JSON on stdout"}
}

func colorFlag() cli.Flag {
	return &cli.StringFlag{Name: "color", Usage: "colour output: auto, always or never (NO_COLOR disables auto)", Value: "auto"}
}

func logFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-format", Usage: "log format on stderr: text or json", EnvVars: []string{"FF_LOG_FORMAT"}, Value: "text"},
		&cli.StringFlag{Name: "log-level", Usage: "log level: debug, info, warn or error", EnvVars: []string{"FF_LOG_LEVEL"}, Value: "info"},
	}
}

func poolFlag() cli.Flag {
	return &cli.StringFlag{Name: "pool-size", Usage: "read connections (default 4)", EnvVars: []string{backend.PoolSizeEnv}}
}

// dbFlags are the flags of every command that opens a database.
func dbFlags(extra ...cli.Flag) []cli.Flag {
	fs := append([]cli.Flag{dbFlag(), poolFlag()}, logFlags()...)
	return append(fs, extra...)
}

// newLogger builds the stderr logger from --log-format and --log-level.
// The warnings a user must not lose (mustShow) pass at any level.
func newLogger(c *cli.Context) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, usageErr("--log-level debug|info|warn|error", "invalid --log-level %q", c.String("log-level"))
	}
	opts := &slog.HandlerOptions{Level: min(level, slog.LevelWarn)}
	w := c.App.ErrWriter
	var h slog.Handler
	switch strings.ToLower(c.String("log-format")) {
	case "text", "":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, usageErr("--log-format text|json", "invalid --log-format %q", c.String("log-format"))
	}
	return slog.New(levelFloor{Handler: h, min: level}), nil
}

// mustShow reports the WARN records printed whatever --log-level says:
// the dev-only banner (upstream's text, byte for byte) and serve's
// warning that the API is open to the network.
func mustShow(r slog.Record) bool {
	return r.Level == slog.LevelWarn && (r.Message == backend.BannerText || strings.HasPrefix(r.Message, openNetworkWarning))
}

// levelFloor drops records below min except those mustShow keeps; the
// handler it wraps is built to pass WARN.
type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (h levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min || (l == slog.LevelWarn && h.Handler.Enabled(ctx, l))
}

func (h levelFloor) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < h.min && !mustShow(r) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h levelFloor) WithAttrs(as []slog.Attr) slog.Handler {
	return levelFloor{Handler: h.Handler.WithAttrs(as), min: h.min}
}

func (h levelFloor) WithGroup(name string) slog.Handler {
	return levelFloor{Handler: h.Handler.WithGroup(name), min: h.min}
}

// backendOptions turns the shared flags into backend options.
func backendOptions(c *cli.Context, log *slog.Logger) (backend.Options, error) {
	o := backend.Options{Logger: log}
	if v := c.String("pool-size"); v != "" {
		n, err := backend.ParsePoolSize(v)
		if err != nil {
			if os.Getenv(backend.PoolSizeEnv) != v {
				// The flag's value: name the flag, not the variable
				// whose (upstream's) error text ParsePoolSize writes.
				err = fmt.Errorf("invalid --pool-size %q: must be a whole number from 1 to 4294967295", v)
			}
			return o, usageErr("--pool-size N (N > 0)", "%v", err)
		}
		o.PoolSize = n
	}
	return o, nil
}

// openDB opens the backend named by --db with the shared flags; tune
// adjusts the options for the command (read-only, must-exist, …).
func openDB(c *cli.Context, tune func(*backend.Options)) (*backend.Backend, *slog.Logger, error) {
	log, err := newLogger(c)
	if err != nil {
		return nil, nil, err
	}
	opts, err := backendOptions(c, log)
	if err != nil {
		return nil, nil, err
	}
	if opts.LeaseExpiry, err = leaseExpirySetting(c, os.LookupEnv); err != nil {
		return nil, nil, err
	}
	if tune != nil {
		tune(&opts)
	}
	b, err := backend.Open(c.Context, c.String("db"), opts)
	if err != nil {
		return nil, nil, err
	}
	return b, log, nil
}

// useColor decides colour for w: --color always/never win; auto means w
// is a terminal, NO_COLOR is empty and TERM is not dumb.
func useColor(c *cli.Context, w io.Writer) (bool, error) {
	switch strings.ToLower(c.String("color")) {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto", "":
	default:
		return false, usageErr("--color auto|always|never", "invalid --color %q", c.String("color"))
	}
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" || c.Bool("json") {
		return false, nil
	}
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd()), nil
}

func fprintf(w io.Writer, format string, args ...any) { fmt.Fprintf(w, format, args...) }

// checkSecretEnv rejects a malformed FF_WAITPOINT_HMAC_SECRET before a
// command that seeds it opens anything.
func checkSecretEnv() error {
	if _, _, err := backend.SecretFromEnv(); err != nil {
		return usageErr("set "+backend.HMACSecretEnv+" to an even-length hex string, or unset it to generate a key", "%v", err)
	}
	return nil
}
