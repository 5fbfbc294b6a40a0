package main

import (
	"github.com/urfave/cli/v2"

	"github.com/ffsqlite/ffsqlite/dbops"
	"github.com/ffsqlite/ffsqlite/render"
)

func snapshotCommand() *cli.Command {
	return &cli.Command{
		Name:      "snapshot",
		Usage:     "write a consistent copy of a database to OUT, also while serve or scan write it",
		ArgsUsage: "OUT",
		Description: "Copies --db with SQLite's online backup: OUT holds every transaction committed before the\n" +
			"snapshot began and none after, and --db keeps serving writes meanwhile. The source's integrity is\n" +
			"checked beside the copy; a damaged source exits 4 and writes no OUT. OUT is written to a temporary\n" +
			"file and moved into place, never half-written; an existing OUT is refused unless --force.",
		Flags: dbFlags(jsonFlag(), &cli.BoolFlag{Name: "force", Usage: "replace OUT when it exists"}),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("ffsqlite snapshot --db DB OUT", "snapshot needs exactly one OUT argument")
			}
			log, err := newLogger(c)
			if err != nil {
				return err
			}
			opts, err := backendOptions(c, log)
			if err != nil {
				return err
			}
			res, err := dbops.Snapshot(c.Context, c.String("db"), c.Args().First(), dbops.SnapshotOptions{Force: c.Bool("force"), Backend: opts})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return render.JSON(c.App.Writer, res)
			}
			w := c.App.Writer
			fprintf(w, "snapshot %s\n", res.Path)
			fprintf(w, "  size:            %d bytes (%s)\n", res.SizeBytes, render.Bytes(res.SizeBytes))
			fprintf(w, "  schema version:  %d\n", res.SchemaVersion)
			printCounts(c, res.Counts)
			fprintf(w, "  took:            %.0f ms\n", res.DurationMS)
			return nil
		},
	}
}

// printCounts is the counts line of snapshot and restore.
func printCounts(c *cli.Context, n dbops.Counts) {
	fprintf(c.App.Writer, "  holds:           %d executions, %d attempts, %d flows, %d budgets, %d quotas, %d workers, %d events\n",
		n.Executions, n.Attempts, n.Flows, n.Budgets, n.Quotas, n.Workers, n.Events)
}
