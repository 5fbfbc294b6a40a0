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
		Usage: "take over a database created by upstream FlowFabric's runner (_sqlx_migrations) without re-running DDL",
		Flags: dbFlags(jsonFlag()),
		Action: func(c *cli.Context) error {
			return withMigrator(c, true, func(m *migrate.Migrator, b *backend.Backend) error {
				res, err := m.Adopt(c.Context)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return render.JSON(c.App.Writer, res)
				}
				if res.AlreadyAdopted {
					fprintf(c.App.Writer, "%s is already managed by ffsqlite (version %d)\n", b.Path(), res.Version)
					return nil
				}
				fprintf(c.App.Writer, "adopted %s: schema verified, recorded %d goose versions (now at %d)\n", b.Path(), res.Recorded, res.Version)
				return nil
			})
		},
	}
}
