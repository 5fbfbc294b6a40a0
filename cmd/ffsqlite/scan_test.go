package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/migrate"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files under testdata/")

// scanDB creates a migrated database and hands an open backend on it to
// seed; the backend is closed before the CLI runs.
//
// Tests that run the CLI in-process (runCLI, run) are not parallel: the
// app writes urfave/cli's package-level flags and printers.
func scanDB(t *testing.T, seed func(b *backend.Backend)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ff.db")
	ctx := context.Background()
	b, err := backend.Open(ctx, path, backend.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	if _, err := migrate.UpLatest(ctx, b); err != nil {
		t.Fatal(err)
	}
	if seed != nil {
		seed(b)
	}
	return path
}

// seedDue creates budgets with usage whose reset is long overdue, and
// workers whose registration has expired.
func seedDue(t *testing.T, budgets, workers int) func(*backend.Backend) {
	return func(b *backend.Backend) {
		ctx := context.Background()
		for i := range budgets {
			id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
			if _, err := b.CreateBudget(ctx, backend.CreateBudgetArgs{BudgetID: id, ResetIntervalMS: 3_600_000,
				Dimensions: []string{"tokens"}, HardLimits: []uint64{0}, SoftLimits: []uint64{0}}); err != nil {
				t.Fatal(err)
			}
			if _, err := b.ReportUsage(ctx, id, backend.ReportUsageArgs{Dimensions: map[string]uint64{"tokens": 11}}); err != nil {
				t.Fatal(err)
			}
		}
		for i := range workers {
			if _, err := b.RegisterWorker(ctx, backend.RegisterWorkerArgs{Namespace: "ns", WorkerID: "w",
				WorkerInstanceID: fmt.Sprintf("inst-%d", i), LivenessTTLMS: 1000}); err != nil {
				t.Fatal(err)
			}
		}
		scanExec(t, b, `UPDATE ff_budget_policy SET next_reset_at_ms = 1`)
		scanExec(t, b, `UPDATE ff_worker_registry SET last_heartbeat_ms = 0`)
	}
}

// scanExec runs one statement on the writer pool, for test setup.
func scanExec(t *testing.T, b *backend.Backend, q string) {
	t.Helper()
	if _, err := b.WriterDB().ExecContext(context.Background(), q); err != nil {
		t.Fatal(err)
	}
}

// scanUsage reads a budget's usage straight from the file.
func scanUsage(t *testing.T, path string) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	b, err := backend.Open(ctx, path, backend.Options{Logger: quietLogger(), ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	rows, err := b.ReaderDB().Query(`SELECT budget_id, current_value FROM ff_budget_usage`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var v int64
		rows.Scan(&id, &v)
		out[id] = v
	}
	return out
}

var durationField = regexp.MustCompile(`"duration_ms": [0-9.e+-]+`)

func TestScanOnceJSONGolden(t *testing.T) {
	path := scanDB(t, seedDue(t, 2, 1))
	out, errOut, code := runCLI(t, "scan", "--db", path, "--once", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := durationField.ReplaceAllString(out, `"duration_ms": 0`)
	golden := filepath.Join("testdata", "scan_once.golden.json")
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestScanOnceJSONGolden -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("scan --once --json:\n%s\nwant (%s):\n%s", got, golden, want)
	}
	for id, v := range scanUsage(t, path) {
		if v != 0 {
			t.Errorf("budget %s usage %d after --once", id, v)
		}
	}
	if !strings.Contains(errOut, backend.BannerText) {
		t.Errorf("no banner on stderr: %q", errOut)
	}
	// Nothing is due any more: a second pass processes nothing.
	out, _, code = runCLI(t, "scan", "--db", path, "--once", "--json")
	var rows []scanRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil || code != 0 {
		t.Fatalf("second pass: %v, exit %d", err, code)
	}
	for _, r := range rows {
		if r.Processed != 0 || r.Errors != 0 {
			t.Errorf("second pass row %+v", r)
		}
	}
}

func TestScanOnceTable(t *testing.T) {
	path := scanDB(t, seedDue(t, 1, 0))
	out, errOut, code := runCLI(t, "scan", "--db", path, "--once", "--only", "budget-reset", "--only", "worker-ttl")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 || !strings.Contains(lines[1], "reconciler") || !strings.Contains(lines[1], "duration") ||
		!regexp.MustCompile(`budget-reset\s*│ 1 `).MatchString(lines[3]) || !strings.Contains(lines[4], "worker-ttl") {
		t.Fatalf("table:\n%s", out)
	}
}

// A tick with a failing row makes --once exit 7; the others still run.
func TestScanOnceExitCodeOnTickError(t *testing.T) {
	path := scanDB(t, func(b *backend.Backend) {
		seedDue(t, 2, 0)(b)
		scanExec(t, b, `UPDATE ff_budget_policy SET policy_json = 'corrupt' WHERE budget_id LIKE '%000000000001'`)
	})
	out, errOut, code := runCLI(t, "scan", "--db", path, "--once", "--json")
	if code != exitScanErrors {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitScanErrors, errOut)
	}
	var rows []scanRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	if rows[0].Reconciler != "budget-reset" || rows[0].Processed != 1 || rows[0].Errors != 1 {
		t.Fatalf("rows = %+v", rows)
	}
	for _, want := range []string{`msg="sqlite budget_reset reconciler: reset failed"`, "budget_id=00000000-0000-4000-8000-000000000001",
		"ffsqlite: 1 of 11 reconcilers reported errors"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestScanForResetsDueBudget(t *testing.T) {
	path := scanDB(t, seedDue(t, 1, 0))
	start := time.Now()
	out, errOut, code := runCLI(t, "scan", "--db", path, "--budget-reset", "200ms", "--for", "1s", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if el := time.Since(start); el < time.Second || el > 10*time.Second {
		t.Fatalf("--for 1s ran %s", el)
	}
	for id, v := range scanUsage(t, path) {
		if v != 0 {
			t.Errorf("budget %s usage %d: not reset", id, v)
		}
	}
	var rows []statsRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("summary %q: %v", out, err)
	}
	if rows[0].Reconciler != "budget-reset" || rows[0].IntervalMS != 200 || rows[0].Ticks < 3 || rows[0].Processed != 1 || rows[0].Errors != 0 {
		t.Fatalf("summary = %+v", rows)
	}
	if !strings.Contains(errOut, `level=INFO msg="sqlite reconciler tick" reconciler=budget-reset processed=1 errors=0 took=`) ||
		!strings.Contains(errOut, `msg="sqlite scanner supervisor spawned" scanners=11`) {
		t.Errorf("stderr:\n%s", errOut)
	}
}

// waitLine reads r until a line contains want, then keeps draining r in
// the background; it fails the test after a generous limit.
func waitLine(t *testing.T, r io.Reader, want string) <-chan string {
	t.Helper()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		sent := false
		for sc.Scan() {
			if !sent && strings.Contains(sc.Text(), want) {
				found <- sc.Text()
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	return found
}

func awaitLine(t *testing.T, found <-chan string, what string) {
	t.Helper()
	select {
	case _, ok := <-found:
		if !ok {
			t.Fatalf("output ended before %s", what)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no %s within 20s", what)
	}
}

// Cancelling the command's context (what SIGINT/SIGTERM do through
// main's signal.NotifyContext) drains and exits 0.
func TestScanCancelDrainsAndExitsZero(t *testing.T) {
	path := scanDB(t, seedDue(t, 1, 0))
	pr, pw := io.Pipe()
	found := waitLine(t, pr, "reconciler=budget-reset processed=1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"ffsqlite", "scan", "--db", path, "--budget-reset", "10ms"}, &out, pw)
		pw.Close()
	}()
	awaitLine(t, found, "budget reset tick")
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("scan did not stop after cancellation")
	}
	if !strings.Contains(out.String(), "budget-reset") {
		t.Fatalf("no summary on stdout: %q", out.String())
	}
}

// A real process stops on SIGTERM, drains and exits 0.
func TestScanSIGTERMDrains(t *testing.T) {
	t.Parallel()
	path := scanDB(t, nil)
	cmd := binCmd(t, nil, "scan", "--db", path, "--budget-reset", "20ms")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := waitLine(t, stderr, "sqlite scanner supervisor spawned")
	awaitLine(t, found, "supervisor start")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("scan after SIGTERM: %v", err)
	}
	if !strings.Contains(out.String(), "budget-reset") {
		t.Fatalf("no summary on stdout: %q", out.String())
	}
}

func TestScanUsageErrors(t *testing.T) {
	path := scanDB(t, nil)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--only", "nope"}, `unknown reconciler "nope" for --only; valid names: budget-reset, worker-ttl, delayed-promoter, lease-expiry, attempt-timeout, execution-deadline`},
		{[]string{"--once", "--for", "1s"}, "--for cannot be combined with --once"},
		{[]string{"--budget-reset", "-1s"}, "budget-reset: interval -1s must be 0 (disabled) or at least 1ms"},
		{[]string{"--only", "budget-reset", "--budget-reset", "0"}, "every reconciler is disabled"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--budget-reset", "soon"}, "invalid value"},
	} {
		_, errOut, code := runCLI(t, append([]string{"scan", "--db", path, "--once"}, c.args...)...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errOut, c.want)
		}
	}
}

// Not parallel: it sets environment variables.
func TestScanEnvPrecedence(t *testing.T) {
	path := scanDB(t, nil)
	names := func(args ...string) ([]string, string, int) {
		out, errOut, code := runCLI(t, append([]string{"scan", "--db", path, "--once", "--json"}, args...)...)
		var rows []scanRow
		json.Unmarshal([]byte(out), &rows)
		var ns []string
		for _, r := range rows {
			ns = append(ns, r.Reconciler)
		}
		return ns, errOut, code
	}
	t.Setenv("FF_BUDGET_RESET_INTERVAL_S", "0")
	t.Setenv("FF_LEASE_EXPIRY_INTERVAL_MS", "0")
	if ns, errOut, _ := names(); strings.Contains(strings.Join(ns, ","), "budget-reset") || strings.Contains(strings.Join(ns, ","), "lease-expiry") {
		t.Fatalf("env 0 did not disable: %v %s", ns, errOut)
	}
	if ns, _, _ := names("--budget-reset", "1s"); ns[0] != "budget-reset" {
		t.Fatalf("flag did not win over env: %v", ns)
	}
	t.Setenv("FF_EXECUTION_DEADLINE_INTERVAL_S", "5s")
	_, errOut, code := names()
	if code != exitUsage || !strings.Contains(errOut, "invalid value for FF_EXECUTION_DEADLINE_INTERVAL_S: expected u64, got '5s'") ||
		!strings.Contains(errOut, "Try: unset FF_EXECUTION_DEADLINE_INTERVAL_S") {
		t.Fatalf("bad env: exit %d, %s", code, errOut)
	}
	// The flag wins, so a bad variable it overrides is never read.
	if _, errOut, code := names("--execution-deadline", "1s"); code != 0 {
		t.Fatalf("flag over bad env: exit %d %s", code, errOut)
	}
}

func TestScanRefusesUnusableDatabase(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.db")
	if _, _, code := runCLI(t, "scan", "--db", missing, "--once"); code != exitBadDatabase {
		t.Fatalf("missing file: exit %d", code)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatal("scan created the missing file")
	}
	path := scanDB(t, nil)
	if _, errOut, code := runCLI(t, "migrate", "down", "--db", path); code != 0 {
		t.Fatalf("migrate down: %s", errOut)
	}
	_, errOut, code := runCLI(t, "scan", "--db", path, "--once")
	if code != exitBadDatabase || !strings.Contains(errOut, "pending migrations") || !strings.Contains(errOut, "Try: ffsqlite migrate up --db") {
		t.Fatalf("pending migrations: exit %d %s", code, errOut)
	}
	if _, errOut, code := runCLI(t, "scan", "--db", path, "--once"); code == 0 {
		t.Fatalf("second run passed: %s", errOut)
	}
	t.Run("dev mode", func(t *testing.T) {
		_, errOut, code := runBin(t, []string{"FF_DEV_MODE=0"}, "scan", "--db", path, "--once")
		if code != exitDevMode || !strings.HasPrefix(errOut, guardLine) {
			t.Fatalf("exit %d %q", code, errOut)
		}
	})
}
