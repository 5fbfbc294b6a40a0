// Command ffsqlite is FlowFabric's SQLite dev-only backend and its whole
// developer lifecycle in one binary: init, migrate, scan, inspect, serve.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		// After the first signal starts a graceful stop, restore the default
		// handlers: a second signal ends the process at once.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
