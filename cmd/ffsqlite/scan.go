package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/dblock"
	"github.com/ffsqlite/ffsqlite/migrate"
	"github.com/ffsqlite/ffsqlite/render"
	"github.com/ffsqlite/ffsqlite/scanners"
)

// DefaultScanGrace is how long `scan` waits for running ticks when it
// stops (ff-server's shutdown grace).
const DefaultScanGrace = 15 * time.Second

func scanCommand() *cli.Command {
	flags := dbFlags(jsonFlag(),
		&cli.StringSliceFlag{Name: "only", Usage: "run only reconciler `NAME` (repeatable): " + strings.Join(scanners.Names(), ", ")},
		&cli.BoolFlag{Name: "once", Usage: "run one pass of every enabled reconciler, print a report and exit (7 if a tick failed)"},
		&cli.DurationFlag{Name: "for", Usage: "stop by itself after `DURATION`; 0 runs until SIGINT/SIGTERM"},
		&cli.DurationFlag{Name: "grace", Usage: "on stop, wait up to `DURATION` for running ticks", Value: DefaultScanGrace},
	)
	flags = append(flags, reconcilerFlags()...)
	return &cli.Command{
		Name:  "scan",
		Usage: "run the background reconcilers (budget reset, worker TTL, delayed promotion, lease expiry, timeouts)",
		Description: "Runs each enabled reconciler on its own cadence against --db, one tick at a time, until SIGINT or\n" +
			"SIGTERM (then drains running ticks and exits 0) or until --for elapses. Each tick logs one line\n" +
			"(reconciler, processed, errors, took): at INFO when it changed something, at DEBUG when idle.\n" +
			"Interval precedence: flag, then the reconciler's environment variable (upstream's names and units:\n" +
			"FF_BUDGET_RESET_INTERVAL_S in seconds, FF_LEASE_EXPIRY_INTERVAL_MS in milliseconds, …), then the\n" +
			"default. 0 disables a reconciler; --only NAME runs just the named ones. --once runs one pass and\n" +
			"prints a report (table, or --json); its exit status is 7 when any tick errored.\n" +
			"On stop, scan prints the counters of the run (ticks, processed, errors per reconciler).",
		Flags: flags,
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usageErr("ffsqlite scan --help", "unexpected argument %q", c.Args().First())
			}
			cfg, err := scanConfig(c, os.LookupEnv)
			if err != nil {
				return err
			}
			if c.Bool("once") && c.IsSet("for") {
				return usageErr("ffsqlite scan --once | ffsqlite scan --for DURATION", "--for cannot be combined with --once")
			}
			if c.Duration("for") < 0 || c.Duration("grace") < 0 {
				return usageErr("ffsqlite scan --help", "--for and --grace must not be negative")
			}
			b, log, err := openDB(c, func(o *backend.Options) { o.MustExist = true })
			if err != nil {
				return err
			}
			defer b.Close(context.WithoutCancel(c.Context))
			if !b.IsMemory() { // the process lock: destructive commands refuse while scan runs
				lease, err := dblock.Register(c.Context, b.Path(), dblock.Me("scan", ""), false)
				if err != nil {
					return err
				}
				defer lease.Release()
			}
			if err := scanReady(c.Context, b); err != nil {
				return err
			}
			sup, err := scanners.ForBackend(b, cfg, scanners.Options{Logger: log})
			if err != nil {
				return usageErr("ffsqlite scan --help", "%v", err)
			}
			if c.Bool("once") {
				return scanOnce(c, sup, b.Now())
			}
			return scanRun(c, sup, log)
		},
	}
}

// reconcilerFlags is one interval flag per reconciler, shared by scan and
// serve.
func reconcilerFlags() []cli.Flag {
	var flags []cli.Flag
	for _, d := range scanners.Definitions() {
		usage := d.Summary + "; every `DURATION`, 0 disables"
		if d.Env != "" {
			usage += fmt.Sprintf(" (env %s, %s)", d.Env, unitName(d.EnvUnit))
		}
		flags = append(flags, &cli.DurationFlag{Name: d.Name, Usage: usage, Value: d.Default})
	}
	return append(flags, leaseExpiryFlag()) // leaseexpiry.go
}

func unitName(u time.Duration) string {
	if u == time.Millisecond {
		return "milliseconds"
	}
	return "seconds"
}

// scanConfig resolves the reconcilers' intervals (scanners.Resolve: flag
// > env > default, then --only) and turns its errors into usage errors.
func scanConfig(c *cli.Context, lookup scanners.LookupEnv) (scanners.Config, error) {
	flags := map[string]time.Duration{}
	for _, name := range scanners.Names() {
		if c.IsSet(name) {
			flags[name] = c.Duration(name)
		}
	}
	cfg, err := scanners.Resolve(flags, c.StringSlice("only"), lookup)
	var (
		ee *scanners.EnvError
		ue *scanners.UnknownReconcilerError
	)
	switch {
	case err == nil:
		return cfg, nil
	case errors.As(err, &ee):
		return cfg, usageErr("unset "+ee.Var+", or set it to an unsigned integer ("+unitName(ee.Unit)+"; 0 disables)", "%v", err)
	case errors.As(err, &ue):
		names := scanners.Names()
		return cfg, usageErr("--only "+strings.Join(names, "|"),
			"unknown reconciler %q for --only; valid names: %s", ue.Name, strings.Join(names, ", "))
	}
	return cfg, usageErr("ffsqlite scan --help", "%v", err)
}

// scanReady refuses a database whose schema is not ffsqlite's latest:
// every tick would fail on it.
func scanReady(ctx context.Context, b *backend.Backend) error {
	ledger, err := migrate.DetectLedger(ctx, b.ReaderDB())
	if err != nil {
		return err
	}
	if ledger == migrate.LedgerUpstream {
		return migrate.ErrUpstreamLedger
	}
	m, err := migrate.New(ctx, b)
	if err != nil {
		return err
	}
	pending, err := m.HasPending(ctx)
	if err != nil {
		return err
	}
	if pending {
		return withCode(exitBadDatabase, fmt.Errorf("%s has pending migrations; scan needs the latest schema", b.Path()),
			"ffsqlite migrate up --db "+b.Path())
	}
	return b.PrepareWrite(ctx)
}

// scanRow is one line of the --once report.
type scanRow struct {
	Reconciler string  `json:"reconciler"`
	Processed  int     `json:"processed"`
	Errors     int     `json:"errors"`
	DurationMS float64 `json:"duration_ms"`
	Error      string  `json:"error,omitempty"`
}

func scanOnce(c *cli.Context, sup *scanners.Supervisor, now int64) error {
	reps := sup.RunOnce(c.Context, now)
	rows := make([]scanRow, len(reps))
	failed := 0
	anyErr := false
	for i, r := range reps {
		rows[i] = scanRow{Reconciler: r.Reconciler, Processed: r.Processed, Errors: r.Errors,
			DurationMS: float64(r.Took.Microseconds()) / 1000}
		if r.Err != nil {
			rows[i].Error = r.Err.Error()
			anyErr = true
		}
		if r.Errors > 0 {
			failed++
		}
	}
	var err error
	if c.Bool("json") {
		err = render.JSON(c.App.Writer, rows)
	} else {
		headers := []string{"reconciler", "processed", "errors", "duration"}
		if anyErr {
			headers = append(headers, "error")
		}
		table := make([][]string, len(rows))
		for i, r := range rows {
			table[i] = []string{r.Reconciler, strconv.Itoa(r.Processed), strconv.Itoa(r.Errors), reps[i].Took.Round(time.Microsecond).String()}
			if anyErr {
				table[i] = append(table[i], r.Error)
			}
		}
		err = render.Table(c.App.Writer, headers, table)
	}
	if err != nil {
		return err
	}
	if failed > 0 {
		return withCode(exitScanErrors, fmt.Errorf("%d of %d reconcilers reported errors", failed, len(reps)),
			"see the WARN lines above; rerun with --log-level debug for every tick")
	}
	return nil
}

// statsRow is one line of the summary printed when a continuous scan
// stops.
type statsRow struct {
	Reconciler string `json:"reconciler"`
	IntervalMS int64  `json:"interval_ms"`
	Ticks      uint64 `json:"ticks"`
	Processed  uint64 `json:"processed"`
	Errors     uint64 `json:"errors"`
	Failures   uint64 `json:"failed_ticks"`
}

func scanRun(c *cli.Context, sup *scanners.Supervisor, log *slog.Logger) error {
	ctx := c.Context
	if d := c.Duration("for"); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	if err := sup.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	grace, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.Duration("grace"))
	defer cancel()
	late := sup.Shutdown(grace)
	log.Info("scan stopped", "reason", stopReason(c.Context), "timed_out", late)

	st := sup.Stats()
	rows := make([]statsRow, len(st))
	for i, s := range st {
		rows[i] = statsRow{Reconciler: s.Reconciler, IntervalMS: s.Interval.Milliseconds(), Ticks: s.Ticks,
			Processed: s.Processed, Errors: s.Errors, Failures: s.Failures}
	}
	if c.Bool("json") {
		return render.JSON(c.App.Writer, rows)
	}
	table := make([][]string, len(rows))
	for i, r := range rows {
		table[i] = []string{r.Reconciler, st[i].Interval.String(), strconv.FormatUint(r.Ticks, 10),
			strconv.FormatUint(r.Processed, 10), strconv.FormatUint(r.Errors, 10)}
	}
	return render.Table(c.App.Writer, []string{"reconciler", "interval", "ticks", "processed", "errors"}, table)
}

func stopReason(parent context.Context) string {
	if parent.Err() != nil {
		return "signal"
	}
	return "--for elapsed"
}
