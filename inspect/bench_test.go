package inspect_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/inspect"
	"github.com/ffsqlite/ffsqlite/internal/inspecttest"
)

// benchNowMS is the clock of the generated benchmark database.
const benchNowMS int64 = 1767225600000

// benchDBEnv names an already generated database (scripts/gendb, -now
// 1767225600000) to benchmark instead of generating one.
const benchDBEnv = "FF_INSPECT_BENCH_DB"

var benchDB struct {
	once sync.Once
	dir  string
	path string
	n    int
	err  error
}

// benchPath generates the benchmark database once per test binary run
// (1,000,000 executions; 100,000 with -short) into a temp file that
// TestMain removes.
func benchPath(b *testing.B) (string, int) {
	b.Helper()
	benchDB.once.Do(func() {
		benchDB.n = 1_000_000
		if testing.Short() {
			benchDB.n = 100_000
		}
		if p := os.Getenv(benchDBEnv); p != "" {
			benchDB.path, benchDB.n = p, 0
			return
		}
		benchDB.dir, benchDB.err = os.MkdirTemp("", "ffsqlite-inspect-bench-")
		if benchDB.err != nil {
			return
		}
		benchDB.path = filepath.Join(benchDB.dir, fmt.Sprintf("exec-%d.db", benchDB.n))
		start := time.Now()
		benchDB.err = inspecttest.Generate(context.Background(), benchDB.path,
			inspecttest.GenOptions{Executions: benchDB.n, NowMS: benchNowMS, Seed: 1})
		fmt.Fprintf(os.Stderr, "generated %d executions into %s in %s\n", benchDB.n, benchDB.path, time.Since(start).Round(time.Second))
	})
	if benchDB.err != nil {
		b.Fatal(benchDB.err)
	}
	return benchDB.path, benchDB.n
}

func removeBenchDB() {
	if benchDB.dir != "" {
		os.RemoveAll(benchDB.dir)
	}
}

func openRO(tb testing.TB, path string) *backend.Backend {
	tb.Helper()
	ctx := context.Background()
	b, err := backend.Open(ctx, path, backend.Options{ReadOnly: true, MustExist: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkOverview measures what `ffsqlite inspect` does on a database of
// 1,000,000 executions: open the file read-only, run the overview, close.
// It then runs the very statements the overview ran (captured through
// OverviewOptions.Trace, in one read transaction) through the sqlite3 shell
// as a fresh process each time, and reports both and their ratio:
//
//	ms/inspect     open + overview + close, per op
//	ms/query       the overview alone on an open backend
//	ms/sqlite3     the sqlite3 shell running the same SQL (process included)
//	ratio          ms/inspect ÷ ms/sqlite3 (the target is ≤ 2)
func BenchmarkOverview(b *testing.B) {
	if f := flag.Lookup("test.benchtime"); f != nil && strings.HasSuffix(f.Value.String(), "x") {
		if n, err := strconv.Atoi(strings.TrimSuffix(f.Value.String(), "x")); err == nil && n > maxOverviewRuns {
			b.Skipf("one overview of 1,000,000 executions takes ~0.6 s, so -benchtime %s would run for minutes; "+
				"use -benchtime 10x (at most %dx), or -short for 100,000 executions", f.Value, maxOverviewRuns)
		}
	}
	path, n := benchPath(b)
	ctx := context.Background()

	var stmts []string
	be := openRO(b, path)
	rep, err := inspect.Overview(ctx, be, inspect.OverviewOptions{NowMS: benchNowMS, Trace: func(s string) { stmts = append(stmts, s) }})
	if err != nil {
		b.Fatal(err)
	}
	if n > 0 && rep.Executions.Total != int64(n) {
		b.Fatalf("overview counted %d executions, want %d", rep.Executions.Total, n)
	}
	be.Close(ctx)

	for b.Loop() {
		be := openRO(b, path)
		if _, err := inspect.Overview(ctx, be, inspect.OverviewOptions{NowMS: benchNowMS}); err != nil {
			b.Fatal(err)
		}
		be.Close(ctx)
	}
	goMS := ms(b.Elapsed()) / float64(b.N)

	// The overview alone, on an open backend (connections and page cache
	// warm).
	be = openRO(b, path)
	const queryRuns = 5
	qStart := time.Now()
	for range queryRuns {
		if _, err := inspect.Overview(ctx, be, inspect.OverviewOptions{NowMS: benchNowMS}); err != nil {
			b.Fatal(err)
		}
	}
	queryMS := ms(time.Since(qStart)) / queryRuns
	be.Close(ctx)
	b.ReportMetric(goMS, "ms/inspect")
	b.ReportMetric(queryMS, "ms/query")
	if goMS > 1000 {
		b.Errorf("overview took %.0f ms, the budget is 1000 ms", goMS)
	}

	shell, err := exec.LookPath("sqlite3")
	if err != nil {
		b.Log("sqlite3 is not on PATH: skipping the sqlite3 comparison (install it, e.g. apt-get install -y sqlite3)")
		return
	}
	script := "BEGIN;\n" + strings.Join(stmts, "\n") + "\nCOMMIT;\n"
	runs := max(3, min(b.N, 10))
	var total time.Duration
	for range runs {
		cmd := exec.Command(shell, "-readonly", path)
		cmd.Stdin = strings.NewReader(script)
		var errb strings.Builder
		cmd.Stderr = &errb
		start := time.Now()
		if err := cmd.Run(); err != nil || errb.Len() > 0 {
			b.Fatalf("sqlite3: %v %s", err, errb.String())
		}
		total += time.Since(start)
	}
	cliMS := ms(total) / float64(runs)
	b.ReportMetric(cliMS, "ms/sqlite3")
	b.ReportMetric(goMS/cliMS, "ratio")
	if goMS > 2*cliMS {
		b.Errorf("inspect took %.0f ms, more than twice the sqlite3 shell's %.0f ms", goMS, cliMS)
	}
}

// maxOverviewRuns caps a fixed -benchtime Nx for BenchmarkOverview.
const maxOverviewRuns = 50

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
