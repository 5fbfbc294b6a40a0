package dbops_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/dbops"
	"github.com/ffsqlite/ffsqlite/internal/inspecttest"
)

// snapshotBenchDBEnv names an already generated database (scripts/gendb)
// to benchmark instead of generating one.
const snapshotBenchDBEnv = "FF_SNAPSHOT_BENCH_DB"

var snapBench struct {
	once sync.Once
	path string
	n    int
	err  error
}

// snapshotBenchPath generates the benchmark database once per test binary
// (1,000,000 executions; 100,000 with -short) in b's temp directory of the
// first benchmark that asks.
func snapshotBenchPath(b *testing.B) (string, int) {
	b.Helper()
	snapBench.once.Do(func() {
		if p := os.Getenv(snapshotBenchDBEnv); p != "" {
			snapBench.path = p
			return
		}
		snapBench.n = 1_000_000
		if testing.Short() {
			snapBench.n = 100_000
		}
		dir, err := os.MkdirTemp("", "ffsqlite-snapshot-bench-")
		if err != nil {
			snapBench.err = err
			return
		}
		snapBench.path = filepath.Join(dir, fmt.Sprintf("exec-%d.db", snapBench.n))
		start := time.Now()
		snapBench.err = inspecttest.Generate(context.Background(), snapBench.path,
			inspecttest.GenOptions{Executions: snapBench.n, NowMS: 1767225600000, Seed: 1})
		b.Logf("generated %d executions into %s in %s", snapBench.n, snapBench.path, time.Since(start).Round(time.Second))
	})
	if snapBench.err != nil {
		b.Fatal(snapBench.err)
	}
	return snapBench.path, snapBench.n
}

// BenchmarkSnapshot times `ffsqlite snapshot` (dbops.Snapshot: the online
// backup plus the integrity check beside it, the counts and the sync) on
// a 1,000,000-execution database against `sqlite3 SRC ".backup OUT"` on
// the same file, alternating the two in every iteration. It reports
//
//	ms/snapshot    dbops.Snapshot
//	ms/sqlite3     the sqlite3 shell's .backup (process start included)
//	ratio          ms/snapshot ÷ ms/sqlite3 (the target is ≤ 2)
//
// It skips when sqlite3 is not on PATH. Run it with
//
//	go test -run '^$' -bench Snapshot -benchtime 3x ./dbops/
func BenchmarkSnapshot(b *testing.B) {
	shell, err := exec.LookPath("sqlite3")
	if err != nil {
		b.Skip("sqlite3 is not on PATH: the benchmark needs it as its baseline (apt-get install -y sqlite3)")
	}
	src, n := snapshotBenchPath(b)
	dir := b.TempDir()
	ctx := context.Background()
	var ours, theirs time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := filepath.Join(dir, fmt.Sprintf("ffsqlite-%d.db", i))
		start := time.Now()
		if _, err := dbops.Snapshot(ctx, src, out, dbops.SnapshotOptions{Backend: quiet}); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(start)

		other := filepath.Join(dir, fmt.Sprintf("sqlite3-%d.db", i))
		var errb bytes.Buffer
		cmd := exec.Command(shell, src, ".backup "+other)
		cmd.Stderr = &errb
		start = time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("sqlite3: %v %s", err, errb.String())
		}
		theirs += time.Since(start)
		os.Remove(out)
		os.Remove(other)
	}
	b.StopTimer()
	oursMS := float64(ours.Microseconds()) / 1000 / float64(b.N)
	theirMS := float64(theirs.Microseconds()) / 1000 / float64(b.N)
	b.ReportMetric(oursMS, "ms/snapshot")
	b.ReportMetric(theirMS, "ms/sqlite3")
	b.ReportMetric(oursMS/theirMS, "ratio")
	if n > 0 {
		b.ReportMetric(float64(n), "executions")
	}
}

// BenchmarkIntegrityCheck times the check every writing command runs once
// before its first write (backend.CheckIntegrity: PRAGMA quick_check over
// the whole file) on the 1,000,000-execution database, against the
// sqlite3 shell running the same pragma on the same file, alternating.
// It reports
//
//	ms/check     ffsqlite's check (what serve's start-up pays)
//	ms/sqlite3   sqlite3 SRC "PRAGMA quick_check" (process start included)
//	ratio        ms/check ÷ ms/sqlite3
//
// Run it with
//
//	go test -run '^$' -bench IntegrityCheck -benchtime 3x ./dbops/
func BenchmarkIntegrityCheck(b *testing.B) {
	shell, err := exec.LookPath("sqlite3")
	if err != nil {
		b.Skip("sqlite3 is not on PATH: the benchmark needs it as its baseline (apt-get install -y sqlite3)")
	}
	src, _ := snapshotBenchPath(b)
	ctx := context.Background()
	o := quiet
	o.ReadOnly, o.MustExist = true, true
	bk, err := backend.Open(ctx, src, o)
	if err != nil {
		b.Fatal(err)
	}
	defer bk.Close(ctx)
	var ours, theirs time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := bk.CheckIntegrity(ctx); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(start)
		var out bytes.Buffer
		cmd := exec.Command(shell, src, "PRAGMA quick_check")
		cmd.Stdout = &out
		start = time.Now()
		if err := cmd.Run(); err != nil || strings.TrimSpace(out.String()) != "ok" {
			b.Fatalf("sqlite3 quick_check: %v %q", err, out.String())
		}
		theirs += time.Since(start)
	}
	b.StopTimer()
	oursMS := float64(ours.Microseconds()) / 1000 / float64(b.N)
	theirMS := float64(theirs.Microseconds()) / 1000 / float64(b.N)
	b.ReportMetric(oursMS, "ms/check")
	b.ReportMetric(theirMS, "ms/sqlite3")
	b.ReportMetric(oursMS/theirMS, "ratio")
}
