package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ffsqlite/ffsqlite/migrations"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// run is the whole program: it parses args, runs the command and returns
// the exit code. main only adds signals and os.Exit, so tests call run
// directly with buffers.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.RunContext(ctx, flagsFirst(app, args))
	if err == nil {
		return exitOK
	}
	// An error no rule gives a hint for points at the help of the command
	// that failed: every error line has its Try: line.
	return printError(stderr, err, commandPath(app, args)+" --help")
}

// commandPath is "ffsqlite" and the (sub)command names that lead args,
// e.g. "ffsqlite migrate up"; flags and arguments are skipped.
func commandPath(app *cli.App, args []string) string {
	path := []string{"ffsqlite"}
	cmds := app.Commands
	for _, a := range args[min(1, len(args)):] {
		if strings.HasPrefix(a, "-") {
			continue
		}
		cmd := findCommand(cmds, a)
		if cmd == nil {
			break
		}
		path = append(path, cmd.Name)
		cmds = cmd.Subcommands
	}
	return strings.Join(path, " ")
}

// commandName is the full name of the running command, "ffsqlite inspect
// execution" (urfave/cli's FullName leaves out the parents when flags come
// first).
func commandName(c *cli.Context) string {
	var names []string
	for _, ctx := range c.Lineage() {
		if ctx.Command != nil && ctx.Command.Name != "" && ctx.Command.Name != c.App.Name {
			names = append([]string{ctx.Command.Name}, names...)
		}
	}
	return strings.Join(append([]string{"ffsqlite"}, names...), " ")
}

// init sets urfave/cli's package-level version printer once, before any
// app runs, so concurrent runs (tests) never write it.
func init() {
	cli.VersionPrinter = func(c *cli.Context) {
		fmt.Fprintf(c.App.Writer, "ffsqlite %s (schema version %d, %s)\n", c.App.Version, migrations.LatestVersion, runtime.Version())
	}
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:                 "ffsqlite",
		Usage:                "FlowFabric's SQLite dev-only backend: init, migrate, scan, inspect, serve, snapshot, restore, reset, seed",
		Version:              version,
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		HideHelpCommand:      false,
		Description: "Every command that opens a database refuses unless FF_DEV_MODE=1 and prints a WARN banner on stderr.\n" +
			"Data goes to stdout, logs and the banner to stderr. Flags win over environment variables, which win over defaults.",
		CustomAppHelpTemplate: cli.AppHelpTemplate + "\n" + exitCodesHelp,
		ExitErrHandler:        func(*cli.Context, error) {}, // run maps errors to exit codes
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return usageErr(commandName(c)+" --help", "%v", err)
		},
		Commands: []*cli.Command{
			initCommand(),
			migrateCommand(),
			scanCommand(),
			inspectCommand(),
			serveCommand(),
			snapshotCommand(),
			restoreCommand(),
			resetCommand(),
			seedCommand(),
			completionCommand(),
		},
		CommandNotFound: func(c *cli.Context, name string) {
			// Reported through the returned error below.
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usageErr("ffsqlite --help", "unknown command %q", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
	}
	setUsageErrors(app.Commands, "ffsqlite")
	return app
}

// setUsageErrors makes a flag error in any command a usage error (exit 2)
// with a hint naming that command's help.
func setUsageErrors(cmds []*cli.Command, prefix string) {
	for _, cmd := range cmds {
		name := prefix + " " + cmd.Name
		cmd.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
			return usageErr(name+" --help", "%v", err)
		}
		if len(cmd.Subcommands) > 0 && cmd.Action == nil {
			cmd.Action = func(c *cli.Context) error {
				if c.Args().Present() {
					return usageErr(name+" --help", "unknown command %q", c.Args().First())
				}
				return usageErr(name+" --help", "%s needs a subcommand", name)
			}
		}
		setUsageErrors(cmd.Subcommands, name)
	}
}
