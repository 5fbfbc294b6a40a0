package main

import (
	"github.com/urfave/cli/v2"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/migrate"
	"github.com/ffsqlite/ffsqlite/render"
)

func migrateAdoptCommand() *cli.Command {
	return &cli.Command{
		Name:  "adopt",
		Usage: "take over a database migrated by upstream FlowFabric's runner (_sqlx_migrations) without re-running DDL",
		Description: "Verifies _sqlx_migrations as upstream's runner would (no dirty row, no unknown version, upstream's\n" +
			"checksums) and that the schema is exactly what the embedded migrations produce at its version, then\n" +
			"records the goose versions in one transaction. _sqlx_migrations is kept. --dry-run checks and changes nothing.",
		Flags: dbFlags(jsonFlag(), &cli.BoolFlag{Name: "dry-run", Usage: "run every check and print what would be recorded; change nothing"}),
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usageErr("ffsqlite migrate adopt --help", "unexpected argument %q", c.Args().First())
			}
			return withMigrator(c, readMode(c.Bool("dry-run"), openWriteExisting), func(m *migrate.Migrator, b *backend.Backend) error {
				adopt := m.Adopt
				if c.Bool("dry-run") {
					adopt = m.PlanAdopt
				}
				res, err := adopt(c.Context)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return render.JSON(c.App.Writer, res)
				}
				w := c.App.Writer
				switch {
				case res.AlreadyAdopted:
					fprintf(w, "%s is already managed by ffsqlite (version %d)\n", b.Path(), res.Version)
				case res.DryRun:
					fprintf(w, "dry run: %s can be adopted: ledger and schema verified; would record %d goose version(s) (%s), reaching %d\n",
						b.Path(), res.Recorded, joinVersions(res.Versions), res.Version)
				default:
					fprintf(w, "adopted %s: ledger and schema verified, recorded %d goose versions (now at %d)\n", b.Path(), res.Recorded, res.Version)
				}
				return nil
			})
		},
	}
}
