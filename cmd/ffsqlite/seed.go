package main

import (
	"io"
	"os"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/ffsqlite/ffsqlite/dbops"
	"github.com/ffsqlite/ffsqlite/render"
)

func seedCommand() *cli.Command {
	return &cli.Command{
		Name:      "seed",
		Usage:     "load fixtures (executions, budgets, quotas, flows as REST request bodies) in one transaction",
		ArgsUsage: "FILE",
		Description: "FILE (or - for stdin) is a JSON object with arrays \"executions\", \"budgets\", \"quotas\", \"flows\",\n" +
			"\"members\" and \"edges\"; each entry is the request body of POST /v1/executions, /v1/budgets,\n" +
			"/v1/quotas, /v1/flows, /v1/flows/{id}/members or /v1/flows/{id}/edges and is validated as that\n" +
			"route does (a seeded edge is also applied to its child). Everything applies in one transaction,\n" +
			"idempotent on ids (an existing id is kept as it is); a bad entry is named by array, index and\n" +
			"field, exits 2 and applies nothing. --db must be initialized (ffsqlite init).",
		Flags: dbFlags(jsonFlag()),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("ffsqlite seed --db DB FILE", "seed needs exactly one FILE argument (- reads stdin)")
			}
			data, err := readSeedFile(c, c.Args().First())
			if err != nil {
				return usageErr("ffsqlite seed --db DB FILE", "read %s: %v", c.Args().First(), err)
			}
			log, err := newLogger(c)
			if err != nil {
				return err
			}
			opts, err := backendOptions(c, log)
			if err != nil {
				return err
			}
			res, err := dbops.Seed(c.Context, c.String("db"), data, dbops.SeedOptions{Backend: opts})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return render.JSON(c.App.Writer, res)
			}
			var names []string
			for n := range res.Arrays {
				names = append(names, n)
			}
			slices.Sort(names)
			fprintf(c.App.Writer, "seeded %s\n", res.Path)
			for _, n := range names {
				fprintf(c.App.Writer, "  %-12s %d created, %d already there\n", n+":", res.Arrays[n].Created, res.Arrays[n].Existing)
			}
			return nil
		},
	}
}

func readSeedFile(c *cli.Context, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(c.App.Reader)
	}
	return os.ReadFile(name)
}
