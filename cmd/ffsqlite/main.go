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
	sig, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	// The commands see the first signal only once the default handlers are
	// back: a second signal, even one sent the moment a graceful stop is
	// announced, then ends the process at once instead of being swallowed.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-sig.Done()
		stop()
		cancel()
	}()
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	cancel()
	os.Exit(code)
}
