package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/inspect"
	"github.com/ffsqlite/ffsqlite/render"
)

// inspectZone is where inspect shows local times (tests pin it to UTC).
var inspectZone = func() *time.Location { return time.Local }

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:  "inspect",
		Usage: "show what the engine is doing in a database, read-only (overview without a subcommand)",
		Description: "Opens the database query-only: never migrates, never writes, works while serve or scan is\n" +
			"writing the same file and on a database created by upstream FlowFabric's runner. --json on every\n" +
			"command prints the stable JSON documented in docs/inspect-json.md.",
		Flags:  inspectFlags(),
		Action: inspectOverviewAction,
		Subcommands: []*cli.Command{
			{Name: "executions", Usage: "list executions, newest first", Action: inspectExecutionsAction,
				Flags: inspectFlags(
					&cli.StringFlag{Name: "state", Usage: "only this public `STATE` (" + strings.Join(inspect.PublicStates, ", ") + ")"},
					&cli.StringFlag{Name: "lane", Usage: "only this `LANE`"},
					&cli.StringFlag{Name: "flow", Usage: "only members of flow `UUID`"},
					inspLimitFlag())},
			{Name: "execution", Usage: "one execution: state vector, attempts, leases, capabilities, policy, recent events",
				ArgsUsage: "ID", Action: inspectExecutionAction, Flags: inspectFlags()},
			inspectStreamCommand(),
			{Name: "flows", Usage: "list flows, newest first", Action: inspectFlowsAction, Flags: inspectFlags(inspLimitFlag())},
			{Name: "flow", Usage: "one flow: members and edges drawn as a tree", ArgsUsage: "UUID", Action: inspectFlowAction, Flags: inspectFlags()},
			{Name: "budgets", Usage: "list budgets with usage and breach state", Action: inspectBudgetsAction, Flags: inspectFlags()},
			{Name: "budget", Usage: "one budget: usage against hard and soft limits per dimension", ArgsUsage: "ID", Action: inspectBudgetAction, Flags: inspectFlags()},
			{Name: "quotas", Usage: "list quota policies with their current window", Action: inspectQuotasAction, Flags: inspectFlags()},
			{Name: "workers", Usage: "list registered workers, alive or expired", Action: inspectWorkersAction, Flags: inspectFlags()},
			{Name: "waitpoints", Usage: "list open (pending or active) waitpoints, oldest first; never the token",
				Action: inspectWaitpointsAction, Flags: inspectFlags(inspLimitFlag())},
			{Name: "events", Usage: "outbox events (completion, lease, signal, operator); --follow tails them", Action: inspectEventsAction,
				Flags: inspectFlags(
					&cli.StringSliceFlag{Name: "outbox", Usage: "only this `OUTBOX` (completion, lease, signal, operator; repeatable)"},
					&cli.StringFlag{Name: "after", Usage: "events after `CURSOR` (an event id, or outbox:id,… as printed)"},
					&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep polling (every 250ms) until interrupted; JSON lines with --json"},
					inspLimitFlag())},
			{Name: "schema", Usage: "the file's normalized schema facts (the parity test's extractor)", Action: inspectSchemaAction, Flags: inspectFlags()},
			{Name: "drift", Usage: fmt.Sprintf("diff the file's schema against the embedded migrations; exit %d on drift", exitDrift),
				Action: inspectDriftAction, Flags: inspectFlags()},
		},
	}
}

// inspectFlags are every inspect leaf's flags: the database flags, --json,
// --color, the hidden clock override and the leaf's own.
func inspectFlags(extra ...cli.Flag) []cli.Flag {
	own := []cli.Flag{jsonFlag(), colorFlag(),
		&cli.Int64Flag{Name: "now-ms", Hidden: true, Usage: "evaluate leases, delays and ages as of this Unix `MS` (tests)"}}
	return dbFlags(append(own, extra...)...)
}

func inspLimitFlag() cli.Flag {
	return &cli.IntFlag{Name: "limit", Usage: "at most `N` rows (0 = all)", Value: inspect.DefaultLimit}
}

// inspectView is what an inspect leaf reads from and prints with.
type inspectView struct {
	b     *backend.Backend
	now   int64
	print inspect.Printer
}

// withInspect opens --db read-only (guard and banner as everywhere), then
// runs fn. wantArgs is how many positional arguments the leaf takes.
func withInspect(c *cli.Context, wantArgs int, fn func(v *inspectView) error) error {
	name := commandName(c)
	if c.NArg() != wantArgs {
		if wantArgs == 0 {
			return usageErr(name+" --help", "unexpected argument %q", c.Args().First())
		}
		// execution, flow and budget each have a listing command.
		return usageErr(fmt.Sprintf("%ss --db %s (lists them), then %s %s", name, c.String("db"), name, c.Command.ArgsUsage),
			"%s needs exactly one %s argument", c.Command.Name, c.Command.ArgsUsage)
	}
	colorOn, err := useColor(c, c.App.Writer)
	if err != nil {
		return err
	}
	if backend.DevModeEnabled() { // the guard refuses before anything touches the file
		release := inspect.HoldReadOnly(c.Context, c.String("db"))
		defer release() // after b.Close below: the pin closes last
	}
	b, _, err := openDB(c, func(o *backend.Options) { o.ReadOnly, o.MustExist = true, true })
	if err != nil {
		return err
	}
	defer b.Close(c.Context)
	now := b.Now()
	if c.IsSet("now-ms") {
		now = c.Int64("now-ms")
	}
	v := &inspectView{b: b, now: now, print: inspect.Printer{W: c.App.Writer, JSON: c.Bool("json"),
		Painter: render.Painter{Enabled: colorOn}, NowMS: now, Zone: inspectZone()}}
	return inspectErr(c, fn(v))
}

// inspectErr attaches exit codes and hints to inspect's own errors.
func inspectErr(c *cli.Context, err error) error {
	var nf *inspect.NotFoundError
	switch {
	case err == nil:
		return nil
	case inspect.IsMissingTable(err):
		return withCode(exitBadDatabase, err, "ffsqlite inspect --db "+c.String("db")+" (shows the schema version; `ffsqlite migrate up` completes it)")
	case errors.As(err, &nf):
		return withCode(exitFailure, err, "ffsqlite inspect "+nf.What+"s --db "+c.String("db")+" (lists them)")
	}
	return err
}

func inspectOverviewAction(c *cli.Context) error {
	if c.Args().Present() {
		return usageErr("ffsqlite inspect --help", "unknown inspect subcommand %q", c.Args().First())
	}
	return withInspect(c, 0, func(v *inspectView) error {
		rep, err := inspect.Overview(c.Context, v.b, inspect.OverviewOptions{NowMS: v.now})
		if err != nil {
			return err
		}
		return v.print.Overview(rep)
	})
}

func inspectExecutionsAction(c *cli.Context) error {
	if s := c.String("state"); s != "" && !inspect.ValidState(s) {
		return usageErr("--state "+strings.Join(inspect.PublicStates, "|"), "unknown state %q", s)
	}
	if f := c.String("flow"); f != "" {
		if _, err := inspect.ParseUUID(f); err != nil {
			return usageErr("--flow UUID (see ffsqlite inspect flows)", "%v", err)
		}
	}
	limit, err := inspLimit(c)
	if err != nil {
		return err
	}
	return withInspect(c, 0, func(v *inspectView) error {
		list, err := inspect.Executions(c.Context, v.b.ReaderDB(), inspect.ExecutionFilter{
			State: c.String("state"), Lane: c.String("lane"), Flow: c.String("flow"), Limit: limit})
		if err != nil {
			return err
		}
		return v.print.Executions(list)
	})
}

// limitOf maps --limit to the inspect convention (0 = all there is -1).
func inspLimit(c *cli.Context) (int, error) {
	n := c.Int("limit")
	switch {
	case n < 0:
		return 0, usageErr("--limit N (N >= 0)", "invalid --limit %d", n)
	case n == 0:
		return -1, nil
	}
	return n, nil
}

func inspectExecutionAction(c *cli.Context) error {
	if c.NArg() == 1 {
		if _, _, err := inspect.ParseExecID(c.Args().First()); err != nil {
			return usageErr("ffsqlite inspect execution '{fp:N}:<uuid>' (see ffsqlite inspect executions)", "%v", err)
		}
	}
	return withInspect(c, 1, func(v *inspectView) error {
		d, err := inspect.Execution(c.Context, v.b.ReaderDB(), c.Args().First(), v.now)
		if err != nil {
			return err
		}
		return v.print.Execution(d)
	})
}

func inspectFlowsAction(c *cli.Context) error {
	limit, err := inspLimit(c)
	if err != nil {
		return err
	}
	return withInspect(c, 0, func(v *inspectView) error {
		list, err := inspect.Flows(c.Context, v.b.ReaderDB(), limit)
		if err != nil {
			return err
		}
		return v.print.Flows(list)
	})
}

func inspectFlowAction(c *cli.Context) error {
	if c.NArg() == 1 {
		if _, err := inspect.ParseUUID(c.Args().First()); err != nil {
			return usageErr("ffsqlite inspect flow UUID (see ffsqlite inspect flows)", "invalid flow id: %v", err)
		}
	}
	return withInspect(c, 1, func(v *inspectView) error {
		d, err := inspect.Flow(c.Context, v.b.ReaderDB(), c.Args().First())
		if err != nil {
			return err
		}
		return v.print.Flow(d)
	})
}

func inspectBudgetsAction(c *cli.Context) error {
	return withInspect(c, 0, func(v *inspectView) error {
		list, err := inspect.Budgets(c.Context, v.b.ReaderDB(), v.now)
		if err != nil {
			return err
		}
		return v.print.Budgets(list)
	})
}

func inspectBudgetAction(c *cli.Context) error {
	return withInspect(c, 1, func(v *inspectView) error {
		d, err := inspect.Budget(c.Context, v.b.ReaderDB(), c.Args().First(), v.now)
		if err != nil {
			return err
		}
		return v.print.Budget(d)
	})
}

func inspectQuotasAction(c *cli.Context) error {
	return withInspect(c, 0, func(v *inspectView) error {
		list, err := inspect.Quotas(c.Context, v.b.ReaderDB(), v.now)
		if err != nil {
			return err
		}
		return v.print.Quotas(list)
	})
}

func inspectWorkersAction(c *cli.Context) error {
	return withInspect(c, 0, func(v *inspectView) error {
		list, err := inspect.Workers(c.Context, v.b.ReaderDB(), v.now)
		if err != nil {
			return err
		}
		return v.print.Workers(list)
	})
}

func inspectWaitpointsAction(c *cli.Context) error {
	limit, err := inspLimit(c)
	if err != nil {
		return err
	}
	return withInspect(c, 0, func(v *inspectView) error {
		list, err := inspect.Waitpoints(c.Context, v.b.ReaderDB(), limit)
		if err != nil {
			return err
		}
		return v.print.Waitpoints(list)
	})
}

func inspectEventsAction(c *cli.Context) error {
	outboxes, err := inspect.ValidateOutboxes(inspSplitList(c.StringSlice("outbox")))
	if err != nil {
		return usageErr("--outbox completion|lease|signal|operator", "%v", err)
	}
	var after inspect.Cursor
	if c.IsSet("after") {
		if after, err = inspect.ParseCursor(c.String("after"), outboxes); err != nil {
			return usageErr("--after N or --after completion:N,lease:N,…", "%v", err)
		}
	}
	limit, err := inspLimit(c)
	if err != nil {
		return err
	}
	if limit < 0 {
		limit = 1 << 30
	}
	return withInspect(c, 0, func(v *inspectView) error {
		db := v.b.ReaderDB()
		page, err := inspect.Events(c.Context, db, inspect.EventQuery{Outboxes: outboxes, After: after, Limit: limit})
		if err != nil {
			return err
		}
		if !c.Bool("follow") {
			return v.print.Events(page)
		}
		emit := func(evs []inspect.Event) error {
			for _, e := range evs {
				if err := v.print.EventLine(e); err != nil {
					return err
				}
			}
			return nil
		}
		if err := emit(page.Events); err != nil {
			return err
		}
		from, err := inspect.ParseCursor(page.Cursor, outboxes)
		if err != nil {
			return err
		}
		return inspect.Follow(c.Context, db, outboxes, from, inspect.FollowInterval, emit)
	})
}

// splitList accepts both --outbox a --outbox b and --outbox a,b.
func inspSplitList(in []string) []string {
	var out []string
	for _, s := range in {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func inspectSchemaAction(c *cli.Context) error {
	return withInspect(c, 0, func(v *inspectView) error {
		f, err := inspect.Schema(c.Context, v.b.ReaderDB())
		if err != nil {
			return err
		}
		return v.print.Schema(f)
	})
}

func inspectDriftAction(c *cli.Context) error {
	return withInspect(c, 0, func(v *inspectView) error {
		// A damaged file is reported as such, never as "no drift".
		if err := v.b.CheckIntegrity(c.Context); err != nil {
			return err
		}
		d, err := inspect.Drift(c.Context, v.b.ReaderDB())
		if err != nil {
			return err
		}
		if err := v.print.Drift(d, v.b.Path()); err != nil {
			return err
		}
		if len(d.Differences) > 0 {
			return withCode(exitDrift, fmt.Errorf("schema drift: %d difference(s) between %s and the embedded migrations",
				len(d.Differences), v.b.Path()), "ffsqlite migrate status --db "+c.String("db")+" (pending migrations explain missing objects)")
		}
		if d.Drift {
			return withCode(exitDrift, fmt.Errorf("the migration ledgers of %s disagree: %s", v.b.Path(), strings.Join(d.LedgerDifferences, "; ")),
				"ffsqlite migrate status --db "+c.String("db")+" (shows both ledgers)")
		}
		return nil
	})
}
