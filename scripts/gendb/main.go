// Command gendb fills a new ffsqlite database with N generated executions
// (attempts, leases, flows, outbox events, budgets, workers) for speed
// measurements of `ffsqlite inspect`:
//
//	FF_DEV_MODE=1 go run ./scripts/gendb -db /tmp/big.db -n 1000000
//
// The content is deterministic for a given -seed and -now.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/ffsqlite/ffsqlite/internal/inspecttest"
)

func main() {
	path := flag.String("db", "", "database file to create (must not exist)")
	n := flag.Int("n", 1000000, "number of executions")
	seed := flag.Uint64("seed", 1, "random seed")
	now := flag.Int64("now", 0, "the instant the data is generated around, Unix ms (default: now)")
	flag.Parse()
	if *path == "" {
		fmt.Fprintln(os.Stderr, "gendb: -db PATH is required")
		os.Exit(2)
	}
	if _, err := os.Stat(*path); err == nil {
		fmt.Fprintf(os.Stderr, "gendb: %s exists; refusing to overwrite it\n", *path)
		os.Exit(2)
	}
	if *now == 0 {
		*now = time.Now().UnixMilli()
	}
	start := time.Now()
	err := inspecttest.Generate(context.Background(), *path, inspecttest.GenOptions{Executions: *n, NowMS: *now, Seed: *seed})
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendb:", err)
		os.Exit(1)
	}
	st, _ := os.Stat(*path)
	fmt.Printf("%s: %d executions, %d bytes, in %s\n", *path, *n, st.Size(), time.Since(start).Round(time.Millisecond))
}
