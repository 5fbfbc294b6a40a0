package main

import (
	"github.com/urfave/cli/v2"

	"github.com/ffsqlite/ffsqlite/dbops"
	"github.com/ffsqlite/ffsqlite/render"
)

func restoreCommand() *cli.Command {
	return &cli.Command{
		Name:      "restore",
		Usage:     "replace a database with a snapshot, after checking the snapshot",
		ArgsUsage: "IN",
		Description: "Checks that IN is a database this ffsqlite can open (SQLite, not damaged, schema not ahead of this\n" +
			"binary and exactly what the migrations produce at its version, ledgers accepted) and then copies it\n" +
			"over --db with SQLite's online backup in one transaction; otherwise exits 4 and --db is untouched.\n" +
			"Refuses (exit 9, nothing changed) while an ffsqlite serve or scan has --db open: stop it first.\n" +
			"Other programs with --db open (a sqlite3 shell) see the old or the restored database, never a mix.",
		Flags: dbFlags(jsonFlag()),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("ffsqlite restore --db DB IN", "restore needs exactly one IN argument (a snapshot)")
			}
			log, err := newLogger(c)
			if err != nil {
				return err
			}
			opts, err := backendOptions(c, log)
			if err != nil {
				return err
			}
			res, err := dbops.Restore(c.Context, c.String("db"), c.Args().First(), dbops.RestoreOptions{Backend: opts})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return render.JSON(c.App.Writer, res)
			}
			w := c.App.Writer
			fprintf(w, "restored %s from %s\n", res.Path, res.From)
			fprintf(w, "  size:            %d bytes (%s)\n", res.SizeBytes, render.Bytes(res.SizeBytes))
			fprintf(w, "  schema version:  %d\n", res.SchemaVersion)
			printCounts(c, res.Counts)
			return nil
		},
	}
}
