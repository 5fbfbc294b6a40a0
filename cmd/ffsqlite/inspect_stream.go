package main

import (
	"github.com/urfave/cli/v2"

	"github.com/ffsqlite/ffsqlite/inspect"
)

// `ffsqlite inspect stream EXEC [--attempt N] [--follow]`: an attempt's
// stream frames, summary and closed markers.

func inspectStreamCommand() *cli.Command {
	return &cli.Command{Name: "stream", Usage: "an attempt's stream: frames, summary, closed markers; --follow tails it until it closes",
		ArgsUsage: "ID", Action: inspectStreamAction, Flags: inspectFlags(
			&cli.Int64Flag{Name: "attempt", Usage: "attempt `N` (default: the current attempt)", Value: -1},
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep polling (every 250ms) until the stream closes or interrupted; JSON lines with --json"},
			inspLimitFlag(),
		)}
}

func inspectStreamAction(c *cli.Context) error {
	if c.NArg() == 1 {
		if _, _, err := inspect.ParseExecID(c.Args().First()); err != nil {
			return usageErr("ffsqlite inspect stream '{fp:N}:<uuid>' (see ffsqlite inspect executions)", "%v", err)
		}
	}
	if a := c.Int64("attempt"); a < -1 {
		return usageErr("ffsqlite inspect stream ID --attempt N (N >= 0)", "--attempt must not be negative (got %d)", a)
	}
	limit, err := inspLimit(c)
	if err != nil {
		return err
	}
	return withInspect(c, 1, func(v *inspectView) error {
		db := v.b.ReaderDB()
		r, err := inspect.Stream(c.Context, db, c.Args().First(), c.Int64("attempt"), limit)
		if err != nil {
			return err
		}
		if !c.Bool("follow") {
			return v.print.Stream(r)
		}
		emit := func(fs []inspect.StreamFrame) error {
			for _, f := range fs {
				if err := v.print.StreamLine(f); err != nil {
					return err
				}
			}
			return nil
		}
		if err := emit(r.Frames); err != nil {
			return err
		}
		if err := inspect.FollowStream(c.Context, db, r, inspect.FollowInterval, emit); err != nil {
			return err
		}
		return v.print.StreamEnd(r)
	})
}
