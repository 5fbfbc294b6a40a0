package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/inspect"
	"github.com/ffsqlite/ffsqlite/migrate"
	"github.com/ffsqlite/ffsqlite/render"
)

func migrateCommand() *cli.Command {
	return &cli.Command{
		Name:  "migrate",
		Usage: "apply, roll back and report the embedded migrations (goose)",
		Subcommands: []*cli.Command{
			migrateRunCommand("up", "apply every pending migration", runUp, planUp(0, 0)),
			migrateRunCommand("up-by-one", "apply the next pending migration", runUpByOne, planUp(0, 1)),
			migrateVersionCommand("up-to", "apply pending migrations up to and including VERSION",
				func(c *cli.Context, m *migrate.Migrator, v int64) ([]migrate.Result, error) {
					return m.UpTo(c.Context, v)
				},
				func(c *cli.Context, m *migrate.Migrator, v int64) ([]migrate.Step, error) {
					return m.PlanUp(c.Context, v, 0)
				}),
			migrateRunCommand("down", "roll back the latest migration", runDown, planDown(-1, 1)),
			migrateVersionCommand("down-to", "roll back every migration above VERSION (0 = all)",
				func(c *cli.Context, m *migrate.Migrator, v int64) ([]migrate.Result, error) {
					return m.DownTo(c.Context, v)
				},
				func(c *cli.Context, m *migrate.Migrator, v int64) ([]migrate.Step, error) {
					return m.PlanDown(c.Context, v, 0)
				}),
			migrateRunCommand("redo", "roll back the latest migration and apply it again", runRedo, nil),
			migrateRunCommand("reset", "roll back every migration", runReset, planDown(0, 0)),
			migrateStatusCommand(),
			migrateVersionPrintCommand(),
			migrateValidateCommand(),
			migrateAdoptCommand(),
		},
	}
}

type runFunc func(c *cli.Context, m *migrate.Migrator) ([]migrate.Result, error)
type planFunc func(c *cli.Context, m *migrate.Migrator) ([]migrate.Step, error)

func runUp(c *cli.Context, m *migrate.Migrator) ([]migrate.Result, error) { return m.Up(c.Context) }
func runUpByOne(c *cli.Context, m *migrate.Migrator) ([]migrate.Result, error) {
	return m.UpByOne(c.Context)
}
func runDown(c *cli.Context, m *migrate.Migrator) ([]migrate.Result, error) { return m.Down(c.Context) }
func runRedo(c *cli.Context, m *migrate.Migrator) ([]migrate.Result, error) { return m.Redo(c.Context) }
func runReset(c *cli.Context, m *migrate.Migrator) ([]migrate.Result, error) {
	return m.Reset(c.Context)
}

func planUp(target int64, limit int) planFunc {
	return func(c *cli.Context, m *migrate.Migrator) ([]migrate.Step, error) {
		return m.PlanUp(c.Context, target, limit)
	}
}

func planDown(target int64, limit int) planFunc {
	return func(c *cli.Context, m *migrate.Migrator) ([]migrate.Step, error) {
		return m.PlanDown(c.Context, target, limit)
	}
}

// openMode is how a migrate command opens --db.
type openMode int

const (
	// openRead: query-only, the file must exist. Commands that only read
	// (status, version, dry runs) work on a read-only file, never create
	// one and take no lock.
	openRead openMode = iota
	// openWrite: writable, created when missing (up, down, …).
	openWrite
	// openWriteExisting: writable, the file must exist (adopt).
	openWriteExisting
)

// readMode is openRead when the command only reads, else write.
func readMode(readOnly bool, write openMode) openMode {
	if readOnly {
		return openRead
	}
	return write
}

// withMigrator opens --db as mode says and hands a Migrator to fn.
func withMigrator(c *cli.Context, mode openMode, fn func(*migrate.Migrator, *backend.Backend) error) error {
	if mode == openRead && backend.DevModeEnabled() { // the guard refuses before anything touches the file
		release := inspect.HoldReadOnly(c.Context, c.String("db"))
		defer release() // after b.Close below: the pin closes last
	}
	b, _, err := openDB(c, func(o *backend.Options) { o.ReadOnly, o.MustExist = mode == openRead, mode != openWrite })
	if err != nil {
		return err
	}
	defer b.Close(c.Context)
	m, err := migrate.New(c.Context, b)
	if err != nil {
		return err
	}
	return fn(m, b)
}

func migrateRunCommand(name, usage string, run runFunc, plan planFunc) *cli.Command {
	flags := dbFlags(jsonFlag())
	if plan != nil {
		flags = append(flags, &cli.BoolFlag{Name: "dry-run", Usage: "print the SQL that would run and change nothing"})
	}
	return &cli.Command{
		Name:  name,
		Usage: usage,
		Flags: flags,
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usageErr("ffsqlite migrate "+name+" --help", "unexpected argument %q", c.Args().First())
			}
			return withMigrator(c, readMode(plan != nil && c.Bool("dry-run"), openWrite), func(m *migrate.Migrator, b *backend.Backend) error {
				if plan != nil && c.Bool("dry-run") {
					steps, err := plan(c, m)
					if err != nil {
						return err
					}
					return printPlan(c, steps)
				}
				rs, err := run(c, m)
				if perr := printResults(c, m, b, rs, err); perr != nil {
					return perr
				}
				return err
			})
		},
	}
}

func migrateVersionCommand(name, usage string,
	run func(*cli.Context, *migrate.Migrator, int64) ([]migrate.Result, error),
	plan func(*cli.Context, *migrate.Migrator, int64) ([]migrate.Step, error)) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: "VERSION",
		Flags:     dbFlags(jsonFlag(), &cli.BoolFlag{Name: "dry-run", Usage: "print the SQL that would run and change nothing"}),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("ffsqlite migrate "+name+" VERSION", "%s needs exactly one VERSION argument", name)
			}
			v, err := strconv.ParseInt(c.Args().First(), 10, 64)
			if err != nil || v < 0 {
				return usageErr("ffsqlite migrate "+name+" VERSION", "VERSION must be a non-negative integer, got %q", c.Args().First())
			}
			return withMigrator(c, readMode(c.Bool("dry-run"), openWrite), func(m *migrate.Migrator, b *backend.Backend) error {
				if c.Bool("dry-run") {
					steps, err := plan(c, m, v)
					if err != nil {
						return versionErr(err)
					}
					return printPlan(c, steps)
				}
				rs, err := run(c, m, v)
				if perr := printResults(c, m, b, rs, err); perr != nil {
					return perr
				}
				return versionErr(err)
			})
		},
	}
}

func versionErr(err error) error {
	var uv *migrate.UnknownVersionError
	if errors.As(err, &uv) {
		return withCode(exitUsage, err, "ffsqlite migrate status (lists the versions)")
	}
	return err
}

type runOutput struct {
	Results        []migrate.Result `json:"results"`
	CurrentVersion int64            `json:"current_version"`
	// UpstreamRecorded lists versions recorded in _sqlx_migrations to
	// bring it into step with goose before the run.
	UpstreamRecorded []int64 `json:"upstream_recorded"`
	Error            string  `json:"error,omitempty"`
}

func printResults(c *cli.Context, m *migrate.Migrator, b *backend.Backend, rs []migrate.Result, runErr error) error {
	cur, err := m.Version(c.Context)
	if err != nil && runErr == nil {
		return err
	}
	if rs == nil {
		rs = []migrate.Result{}
	}
	recorded := m.Recorded()
	if recorded == nil {
		recorded = []int64{}
	}
	if c.Bool("json") {
		out := runOutput{Results: rs, CurrentVersion: cur, UpstreamRecorded: recorded}
		if runErr != nil {
			out.Error = runErr.Error()
		}
		return render.JSON(c.App.Writer, out)
	}
	w := c.App.Writer
	if len(recorded) > 0 {
		fprintf(w, "OK   recorded version(s) %s in _sqlx_migrations (upstream's ledger, now in step with goose)\n", joinVersions(recorded))
	}
	for _, r := range rs {
		fprintf(w, "OK   %-4s %s (%s)\n", r.Direction, r.Name, r.Duration.Round(10*time.Microsecond))
	}
	if runErr != nil {
		return nil
	}
	if len(rs) == 0 {
		fprintf(w, "no migrations to run; %s is at version %d\n", b.Path(), cur)
		return nil
	}
	fprintf(w, "%s is now at version %d\n", b.Path(), cur)
	return nil
}

func printPlan(c *cli.Context, steps []migrate.Step) error {
	if steps == nil {
		steps = []migrate.Step{}
	}
	if c.Bool("json") {
		return render.JSON(c.App.Writer, map[string]any{"dry_run": true, "steps": steps})
	}
	w := c.App.Writer
	if len(steps) == 0 {
		fprintf(w, "-- dry run: nothing would run\n")
		return nil
	}
	for _, s := range steps {
		fprintf(w, "-- dry run: %s %s\n%s\n\n", s.Direction, s.Name, s.SQL)
	}
	return nil
}

func migrateStatusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "list every migration with its state",
		Flags: dbFlags(jsonFlag(), colorFlag(), &cli.BoolFlag{Name: "exit-code", Usage: fmt.Sprintf("exit %d when migrations are pending", exitPending)}),
		Action: func(c *cli.Context) error {
			return withMigrator(c, openRead, func(m *migrate.Migrator, b *backend.Backend) error {
				if err := b.CheckIntegrity(c.Context); err != nil { // report damage, never a clean status
					return err
				}
				rep, err := m.Status(c.Context)
				if err != nil {
					return err
				}
				if err := printStatus(c, b, rep); err != nil {
					return err
				}
				if c.Bool("exit-code") && rep.Pending > 0 {
					return withCode(exitPending, fmt.Errorf("%d pending migration(s)", rep.Pending), "ffsqlite migrate up --db "+c.String("db"))
				}
				return nil
			})
		},
	}
}

func printStatus(c *cli.Context, b *backend.Backend, rep *migrate.Report) error {
	if c.Bool("json") {
		return render.JSON(c.App.Writer, rep)
	}
	colorOn, err := useColor(c, c.App.Writer)
	if err != nil {
		return err
	}
	p := render.Painter{Enabled: colorOn}
	rows := make([][]string, 0, len(rep.Migrations))
	for _, s := range rep.Migrations {
		at := "-"
		if s.AppliedAtMS != nil {
			at = s.AppliedAt.Local().Format("2006-01-02 15:04:05")
		}
		rows = append(rows, []string{strconv.FormatInt(s.Version, 10), s.Name, at, p.State(s.State), s.Goose, s.Upstream})
	}
	w := c.App.Writer
	if err := render.Table(w, []string{"version", "name", "applied at", "state", "goose", "_sqlx_migrations"}, rows); err != nil {
		return err
	}
	fprintf(w, "current version %d, latest %d, %d pending (ledger %s)\n", rep.Current, rep.Latest, rep.Pending, rep.Ledger)
	switch u := rep.Upstream; {
	case u.WouldOpen && len(u.WouldApply) == 0:
		fprintf(w, "upstream FlowFabric's backend would open %s as is (its runner would apply nothing)\n", b.Path())
	case u.WouldOpen:
		fprintf(w, "upstream FlowFabric's backend would open %s and apply version(s) %s first\n", b.Path(), joinVersions(u.WouldApply))
	default:
		fprintf(w, "upstream FlowFabric's backend would NOT open %s: %s\n", b.Path(), u.Reason)
	}
	if rep.Note != "" && rep.Ledger == migrate.LedgerUpstream {
		fprintf(w, "%s\n", rep.Note)
	}
	return nil
}

// joinVersions renders versions as "1, 2, 3".
func joinVersions(vs []int64) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.FormatInt(v, 10)
	}
	return strings.Join(s, ", ")
}

func migrateVersionPrintCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the database's schema version",
		Flags: dbFlags(jsonFlag()),
		Action: func(c *cli.Context) error {
			return withMigrator(c, openRead, func(m *migrate.Migrator, _ *backend.Backend) error {
				v, err := m.Version(c.Context)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return render.JSON(c.App.Writer, map[string]int64{"version": v})
				}
				fprintf(c.App.Writer, "%d\n", v)
				return nil
			})
		},
	}
}

func migrateValidateCommand() *cli.Command {
	return &cli.Command{
		Name:  "validate",
		Usage: "check the embedded migrations; with --db also fail when any is pending",
		Flags: dbFlags(jsonFlag()),
		Action: func(c *cli.Context) error {
			srcs, err := migrate.Validate()
			if err != nil {
				return err
			}
			pending := -1
			if c.IsSet("db") {
				err := withMigrator(c, openRead, func(m *migrate.Migrator, _ *backend.Backend) error {
					rep, err := m.Status(c.Context)
					if err == nil {
						pending = rep.Pending
					}
					return err
				})
				if err != nil {
					return err
				}
			}
			if c.Bool("json") {
				out := map[string]any{"valid": true, "migrations": len(srcs)}
				if pending >= 0 {
					out["pending"] = pending
				}
				if err := render.JSON(c.App.Writer, out); err != nil {
					return err
				}
			} else {
				fprintf(c.App.Writer, "%d migrations valid\n", len(srcs))
			}
			if pending > 0 {
				return withCode(exitPending, fmt.Errorf("%d pending migration(s)", pending), "ffsqlite migrate up --db "+c.String("db"))
			}
			return nil
		},
	}
}
