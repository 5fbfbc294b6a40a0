package main

import (
	"fmt"
	"os"
	"slices"

	"github.com/mattn/go-isatty"
	"github.com/urfave/cli/v2"

	"github.com/ffsqlite/ffsqlite/dbops"
	"github.com/ffsqlite/ffsqlite/render"
)

func resetCommand() *cli.Command {
	return &cli.Command{
		Name:  "reset",
		Usage: "empty every engine table, keeping the schema, both migration ledgers, the HMAC keys and the policies",
		Description: "Deletes every execution, attempt, flow, edge, waitpoint, signal, stream frame, budget usage row,\n" +
			"quota window entry, event and worker in one transaction; budget and quota policies stay, their\n" +
			"counters cleared. Asks for --yes when stdin is a terminal (scripts need no flag). Refuses (exit 9)\n" +
			"while an ffsqlite serve or scan has the file.",
		Flags: dbFlags(jsonFlag(), &cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "do it without asking (needed on a terminal)"}),
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usageErr("ffsqlite reset --db DB --yes", "unexpected argument %q", c.Args().First())
			}
			if !c.Bool("yes") && isTerminal(c) {
				return usageErr("ffsqlite reset --db "+c.String("db")+" --yes",
					"reset deletes every execution, flow, event and worker in %s; confirm with --yes", c.String("db"))
			}
			log, err := newLogger(c)
			if err != nil {
				return err
			}
			opts, err := backendOptions(c, log)
			if err != nil {
				return err
			}
			res, err := dbops.Reset(c.Context, c.String("db"), dbops.ResetOptions{Backend: opts})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return render.JSON(c.App.Writer, res)
			}
			w := c.App.Writer
			fprintf(w, "reset %s: deleted %d rows; kept the schema, both ledgers, the HMAC keys, %d budget and %d quota policies\n",
				res.Path, res.DeletedTotal, res.BudgetsKept, res.QuotasKept)
			var tables []string
			for t, n := range res.Deleted {
				if n > 0 {
					tables = append(tables, t)
				}
			}
			slices.Sort(tables)
			for _, t := range tables {
				fprintf(w, "  %-28s %s\n", t, fmt.Sprint(res.Deleted[t]))
			}
			return nil
		},
	}
}

// isTerminal reports whether the command's stdin is a terminal.
func isTerminal(c *cli.Context) bool {
	f, ok := c.App.Reader.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}
