package main

import (
	"github.com/urfave/cli/v2"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/dbinit"
	"github.com/ffsqlite/ffsqlite/render"
)

func initCommand() *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "create and migrate a dev database, seed the waitpoint HMAC key",
		Description: "Creates parent directories and the file, applies every migration and seeds the waitpoint\n" +
			"HMAC key from FF_WAITPOINT_HMAC_SECRET (or a generated one). Running it again changes nothing.",
		Flags: dbFlags(jsonFlag()),
		Action: func(c *cli.Context) error {
			if !backend.DevModeEnabled() {
				return backend.ErrRequiresDevMode
			}
			if err := checkSecretEnv(); err != nil {
				return err
			}
			b, log, err := openDB(c, func(o *backend.Options) { o.CreateDirs = true })
			if err != nil {
				return err
			}
			defer b.Close(c.Context)
			sum, err := dbinit.Run(c.Context, b, log)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return render.JSON(c.App.Writer, sum)
			}
			w := c.App.Writer
			if sum.AlreadyInitialized {
				fprintf(w, "%s is already initialized (schema version %d); nothing to do\n", sum.Path, sum.SchemaVersion)
				return nil
			}
			fprintf(w, "initialized %s\n", sum.Path)
			fprintf(w, "  sqlite version:  %s\n", sum.SQLiteVersion)
			fprintf(w, "  schema version:  %d (%d migrations applied)\n", sum.SchemaVersion, sum.Applied)
			fprintf(w, "  journal mode:    %s\n", sum.JournalMode)
			fprintf(w, "  waitpoint key:   %s\n", sum.HMACKey)
			return nil
		},
	}
}
