package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/migrate"
	"github.com/ffsqlite/ffsqlite/schemafacts"
)

const guardLine = "SqliteBackend requires FF_DEV_MODE=1 to activate. SQLite is dev-only; see https://github.com/avifenesh/FlowFabric/blob/main/docs/dev-harness.md for details."

func TestGuardRefusalBinary(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"init"}, {"migrate", "up"}, {"migrate", "status"}} {
		dir := t.TempDir()
		db := filepath.Join(dir, "ff.db")
		out, errOut, code := runBin(t, []string{"FF_DEV_MODE=true"}, append(args, "--db", db)...)
		if code != exitDevMode {
			t.Fatalf("%v: exit %d, want %d; stderr %q", args, code, exitDevMode, errOut)
		}
		if first := strings.SplitN(errOut, "\n", 2)[0]; first != guardLine {
			t.Fatalf("%v: first stderr line %q", args, first)
		}
		if out != "" {
			t.Fatalf("%v: stdout %q", args, out)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("%v: files created: %v", args, entries)
		}
	}
}

func TestInitBannerOnceAndIdempotent(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "nested", "dir", "ff.db")
	out, errOut, code := runBin(t, nil, "init", "--db", db)
	if code != 0 {
		t.Fatalf("init exit %d: %s", code, errOut)
	}
	if n := strings.Count(errOut, backend.BannerText); n != 1 {
		t.Fatalf("banner %d times in %q", n, errOut)
	}
	if strings.Contains(out, backend.BannerText) {
		t.Fatal("banner on stdout")
	}
	for _, want := range []string{"initialized " + db, "schema version:  22", "journal mode:    wal", "waitpoint key:   generated"} {
		if !strings.Contains(out, want) {
			t.Fatalf("init output lacks %q:\n%s", want, out)
		}
	}
	before, _ := os.ReadFile(db)
	out, _, code = runBin(t, nil, "init", "--db", db)
	if code != 0 || !strings.Contains(out, "already initialized") {
		t.Fatalf("second init: exit %d, %q", code, out)
	}
	after, _ := os.ReadFile(db)
	if !bytes.Equal(before, after) {
		t.Fatal("second init changed the file")
	}
}

func TestInitJSONAndSecretFromEnv(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "ff.db")
	out, errOut, code := runBin(t, []string{"FF_WAITPOINT_HMAC_SECRET=00112233"}, "init", "--db", db, "--json", "--log-format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var sum map[string]any
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if sum["waitpoint_key"] != "seeded from FF_WAITPOINT_HMAC_SECRET" || sum["schema_version"] != float64(22) {
		t.Fatalf("summary %v", sum)
	}
	// The banner is a JSON log line at WARN.
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.SplitN(errOut, "\n", 2)[0]), &line); err != nil || line["level"] != "WARN" || line["msg"] != backend.BannerText {
		t.Fatalf("banner JSON line %q (%v)", errOut, err)
	}
	raw, _ := sql.Open("sqlite", db)
	defer raw.Close()
	var secret []byte
	if err := raw.QueryRow("SELECT secret FROM ff_waitpoint_hmac WHERE active=1").Scan(&secret); err != nil || !bytes.Equal(secret, []byte{0, 0x11, 0x22, 0x33}) {
		t.Fatalf("secret %x, %v", secret, err)
	}
	badDir := t.TempDir()
	_, errOut, code = runBin(t, []string{"FF_WAITPOINT_HMAC_SECRET=xyz"}, "init", "--db", filepath.Join(badDir, "b.db"))
	if code != exitUsage || !strings.Contains(errOut, "FF_WAITPOINT_HMAC_SECRET") || !strings.Contains(errOut, "Try: ") {
		t.Fatalf("bad secret: exit %d %q", code, errOut)
	}
	if entries, _ := os.ReadDir(badDir); len(entries) != 0 {
		t.Fatalf("bad secret created files: %v", entries)
	}
}

// expectedFactsAt replays the embedded migrations up to v into memory.
func expectedFactsAt(t *testing.T, v int64) *schemafacts.Facts {
	t.Helper()
	ctx := context.Background()
	uri := fmt.Sprintf("file:expected-%s-%d?mode=memory&cache=shared", strings.ReplaceAll(t.Name(), "/", "-"), v)
	b, err := backend.Open(ctx, uri, backend.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	m, err := migrate.New(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if v > 0 {
		if _, err := m.UpTo(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	f, err := schemafacts.Collect(ctx, b.ReaderDB())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func fileFacts(t *testing.T, path string) (*schemafacts.Facts, int64) {
	t.Helper()
	ctx := context.Background()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	f, err := schemafacts.Collect(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	var v sql.NullInt64
	raw.QueryRowContext(ctx, "SELECT max(version_id) FROM goose_db_version").Scan(&v)
	return f, v.Int64
}

func parityTarget(t *testing.T) *schemafacts.Facts {
	t.Helper()
	f, err := schemafacts.ReadFile(filepath.Join("..", "..", "schemafacts", "testdata", "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestMigrateRoundTripMatchesSchemaJSON(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "ff.db")
	target := parityTarget(t)
	for i, step := range [][]string{{"up"}, {"down-to", "0"}, {"up"}, {"down"}, {"up-by-one"}, {"redo"}, {"reset"}, {"up-to", "13"}, {"up"}} {
		out, errOut, code := runBin(t, nil, append(append([]string{"migrate"}, step...), "--db", db)...)
		if code != 0 {
			t.Fatalf("step %d %v: exit %d\n%s%s", i, step, code, out, errOut)
		}
	}
	got, v := fileFacts(t, db)
	if v != 22 {
		t.Fatalf("version %d", v)
	}
	if d := schemafacts.Diff(target, got); len(d) > 0 {
		t.Fatalf("schema differs from schema.json:\n%s", strings.Join(d, "\n"))
	}
	// After reset, no user table is left.
	runBin(t, nil, "migrate", "reset", "--db", db)
	got, _ = fileFacts(t, db)
	if len(got.Tables) != 0 {
		t.Fatalf("tables after reset: %d", len(got.Tables))
	}
}

func TestMigrateStatusJSONAndExitCode(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "ff.db")
	if _, e, code := runCLI(t, "migrate", "up-to", "5", "--db", db); code != 0 {
		t.Fatal(e)
	}
	out, _, code := runCLI(t, "migrate", "status", "--db", db, "--json")
	if code != 0 {
		t.Fatalf("status exit %d", code)
	}
	var rep migrate.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Current != 5 || rep.Pending != 15 || rep.Latest != 22 || len(rep.Migrations) != 20 || rep.Ledger != migrate.LedgerGoose {
		t.Fatalf("report %+v", rep)
	}
	if rep.Migrations[0].State != "applied" || rep.Migrations[0].AppliedAtMS == nil || rep.Migrations[5].State != "pending" {
		t.Fatalf("rows %+v", rep.Migrations[:6])
	}
	_, errOut, code := runCLI(t, "migrate", "status", "--db", db, "--exit-code")
	if code != exitPending || !strings.Contains(errOut, "15 pending") {
		t.Fatalf("--exit-code: %d %q", code, errOut)
	}
	out, _, code = runCLI(t, "migrate", "status", "--db", db)
	if code != 0 || !strings.Contains(out, "0006_lease_event_outbox") || !strings.Contains(out, "current version 5, latest 22, 15 pending") {
		t.Fatalf("table: %s", out)
	}
	if out, _, code := runCLI(t, "migrate", "version", "--db", db); code != 0 || out != "5\n" {
		t.Fatalf("version %q", out)
	}
	if _, _, code := runCLI(t, "migrate", "validate", "--db", db); code != exitPending {
		t.Fatalf("validate with pending: %d", code)
	}
	if out, _, code := runCLI(t, "migrate", "validate"); code != 0 || !strings.Contains(out, "20 migrations valid") {
		t.Fatalf("validate: %d %q", code, out)
	}
}

func TestMigrateDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "ff.db")
	runCLI(t, "migrate", "up-to", "2", "--db", db)
	before, _ := os.ReadFile(db)
	out, _, code := runCLI(t, "migrate", "up", "--dry-run", "--db", db)
	if code != 0 || !strings.Contains(out, "-- dry run: up 0003_dispatch_outbox") || !strings.Contains(out, "ALTER TABLE") {
		t.Fatalf("dry-run up: %d\n%s", code, out)
	}
	out, _, code = runCLI(t, "migrate", "down", "--dry-run", "--db", db, "--json")
	var plan struct {
		DryRun bool           `json:"dry_run"`
		Steps  []migrate.Step `json:"steps"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &plan) != nil || len(plan.Steps) != 1 || plan.Steps[0].Version != 2 || plan.Steps[0].Direction != "down" {
		t.Fatalf("dry-run down: %d %s", code, out)
	}
	after, _ := os.ReadFile(db)
	if !bytes.Equal(before, after) {
		t.Fatal("dry run changed the database")
	}
	if _, v := fileFacts(t, db); v != 2 {
		t.Fatalf("version after dry runs: %d", v)
	}
}

func TestConcurrentMigrateUpTwoProcesses(t *testing.T) {
	t.Parallel()
	for round := 0; round < 3; round++ {
		db := filepath.Join(t.TempDir(), "ff.db")
		runCLI(t, "init", "--db", db) // create the file so both contend on migrations, not creation
		runCLI(t, "migrate", "reset", "--db", db)
		var wg sync.WaitGroup
		codes := make([]int, 2)
		errs := make([]string, 2)
		outs := make([]string, 2)
		for i := 0; i < 2; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				outs[i], errs[i], codes[i] = runBin(t, nil, "migrate", "up", "--db", db, "--json")
			}(i)
		}
		wg.Wait()
		applied := 0
		for i := 0; i < 2; i++ {
			if codes[i] != 0 {
				t.Fatalf("round %d process %d: exit %d: %s", round, i, codes[i], errs[i])
			}
			var r runOutput
			if err := json.Unmarshal([]byte(outs[i]), &r); err != nil {
				t.Fatal(err)
			}
			applied += len(r.Results)
		}
		if applied != 20 {
			t.Fatalf("round %d: %d migrations applied in total, want exactly 20", round, applied)
		}
		got, v := fileFacts(t, db)
		if v != 22 || len(schemafacts.Diff(parityTarget(t), got)) > 0 {
			t.Fatalf("round %d: version %d, diff %v", round, v, schemafacts.Diff(parityTarget(t), got))
		}
	}
}

func TestKillDuringMigrateThenRerun(t *testing.T) {
	t.Parallel()
	midway := 0
	for _, target := range []int64{1, 4, 9, 14, 17, 20} {
		db := filepath.Join(t.TempDir(), "ff.db")
		cmd := binCmd(t, nil, "migrate", "up", "--db", db)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitForVersion(t, db, target)
		cmd.Process.Kill()
		cmd.Wait()
		got, v := fileFacts(t, db)
		if d := schemafacts.Diff(expectedFactsAt(t, v), got); len(d) > 0 {
			t.Fatalf("killed after version %d: version %d is not clean: %v", target, v, d)
		}
		if v > 0 && v < 22 {
			midway++
		}
		assertLedgersInStep(t, db, fmt.Sprintf("killed after version %d (file at %d)", target, v))
		t.Logf("killed after reaching version %d: file at version %d", target, v)
		if _, errOut, code := runBin(t, nil, "migrate", "up", "--db", db); code != 0 {
			t.Fatalf("killed after version %d: re-run exit %d: %s", target, code, errOut)
		}
		got, v = fileFacts(t, db)
		if v != 22 || len(schemafacts.Diff(parityTarget(t), got)) > 0 {
			t.Fatalf("killed after version %d: after re-run version %d", target, v)
		}
		assertLedgersInStep(t, db, "re-run after the kill")
	}
	if midway == 0 {
		t.Fatal("no kill landed in the middle of a migration run: the test exercised nothing")
	}
}

// waitForVersion polls db from a separate connection until its goose
// version reaches v (a condition, not a clock: the sleep only paces the
// reads).
func waitForVersion(t *testing.T, db string, v int64) {
	t.Helper()
	raw, err := sql.Open("sqlite", db+"?_pragma=busy_timeout(1000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var cur sql.NullInt64
		if raw.QueryRow("SELECT max(version_id) FROM goose_db_version").Scan(&cur) == nil && cur.Int64 >= v {
			return
		}
		time.Sleep(200 * time.Microsecond)
	}
	t.Fatalf("migration never reached version %d", v)
}

func TestBadDatabaseInputs(t *testing.T) {
	t.Parallel()
	notes := []byte("not a database at all, just text\n")
	corrupt := append([]byte("SQLite format 3\x00"), bytes.Repeat([]byte{0xCD}, 4096)...)
	cases := []struct {
		name    string
		content []byte // nil: file absent
		args    []string
		path    func(dir string) string
		want    string
	}{
		{"not sqlite", notes, []string{"migrate", "up"}, nil, "not a SQLite database"},
		{"not sqlite init", notes, []string{"init"}, nil, "not a SQLite database"},
		{"corrupt", corrupt, []string{"migrate", "status"}, nil, "ffsqlite:"},
		{"missing parent", nil, []string{"migrate", "up"}, func(d string) string { return filepath.Join(d, "nope", "ff.db") }, "parent directory does not exist"},
		{"missing file for status", nil, []string{"migrate", "status"}, nil, "database file does not exist"},
		{"read-only location", nil, []string{"init"}, func(string) string { return "/proc/ffsqlite-test/ff.db" }, "ffsqlite:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			db := filepath.Join(dir, "ff.db")
			if tc.path != nil {
				db = tc.path(dir)
			}
			if tc.content != nil {
				os.WriteFile(db, tc.content, 0o644)
			}
			out, errOut, code := runBin(t, nil, append(tc.args, "--db", db)...)
			if code != exitBadDatabase {
				t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", code, exitBadDatabase, out, errOut)
			}
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			last := lines[len(lines)-1]
			errLine := lines[len(lines)-2]
			if !strings.HasPrefix(last, "Try: ") || !strings.Contains(errLine, tc.want) {
				t.Fatalf("stderr %q", errOut)
			}
			if strings.Contains(errOut, "goroutine") || strings.Contains(errOut, "panic") {
				t.Fatalf("stack trace: %s", errOut)
			}
			if tc.content != nil {
				if got, _ := os.ReadFile(db); !bytes.Equal(got, tc.content) {
					t.Fatal("file modified")
				}
			}
			if entries, _ := os.ReadDir(dir); tc.content == nil && len(entries) != 0 {
				t.Fatalf("files left: %v", entries)
			}
		})
	}
}

func TestSchemaAheadOfBinary(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "ff.db")
	runCLI(t, "init", "--db", db)
	raw, _ := sql.Open("sqlite", db)
	raw.Exec("INSERT INTO goose_db_version(version_id, is_applied) VALUES (23, 1)")
	raw.Close()
	before, _ := os.ReadFile(db)
	_, errOut, code := runBin(t, nil, "migrate", "up", "--db", db)
	if code != exitBadDatabase || !strings.Contains(errOut, "database is at version 23, this ffsqlite knows up to 22") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if after, _ := os.ReadFile(db); !bytes.Equal(before, after) {
		t.Fatal("file modified")
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	cases := [][]string{
		{"frobnicate"},
		{"migrate", "up-to", "--db", "x.db"},
		{"migrate", "up-to", "abc", "--db", "x.db"},
		{"migrate", "status", "--no-such-flag"},
		{"init", "--log-format", "xml", "--db", ":memory:"},
		{"init", "--pool-size", "0", "--db", ":memory:"},
	}
	for _, args := range cases {
		_, errOut, code := runCLI(t, args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, errOut)
		}
		if !strings.Contains(errOut, "Try: ") {
			t.Errorf("%v: no hint in %q", args, errOut)
		}
	}
	dir := t.TempDir()
	if _, errOut, code := runCLI(t, "migrate", "up-to", "15", "--db", filepath.Join(dir, "a.db")); code != exitUsage || !strings.Contains(errOut, "no migration has version 15") {
		t.Errorf("unknown version: %d %q", code, errOut)
	}
}

func TestVersionAndHelp(t *testing.T) {
	t.Parallel()
	out, _, code := runCLI(t, "--version")
	if code != 0 || !strings.Contains(out, "schema version 22") {
		t.Fatalf("--version: %q", out)
	}
	out, _, code = runCLI(t, "--help")
	if code != 0 || !strings.Contains(out, "EXIT CODES") || !strings.Contains(out, "FF_DEV_MODE") {
		t.Fatalf("--help: %q", out)
	}
	if out, _, code := runCLI(t, "completion", "bash"); code != 0 || !strings.Contains(out, "complete -o default") {
		t.Fatalf("completion: %d", code)
	}
}

func TestFlagPrecedence(t *testing.T) {
	dir := t.TempDir()
	envDB := filepath.Join(dir, "env.db")
	flagDB := filepath.Join(dir, "flag.db")
	t.Setenv("FF_SQLITE_PATH", envDB)
	if _, e, code := runCLI(t, "init"); code != 0 {
		t.Fatal(e)
	}
	if _, err := os.Stat(envDB); err != nil {
		t.Fatal("env path not used")
	}
	if _, e, code := runCLI(t, "init", "--db", flagDB); code != 0 {
		t.Fatal(e)
	}
	if _, err := os.Stat(flagDB); err != nil {
		t.Fatal("flag did not win over env")
	}
}

func TestAdoptUpstreamDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "upstream.db")
	makeUpstreamDB(t, db)
	out, _, code := runCLI(t, "migrate", "status", "--db", db, "--json")
	var rep migrate.Report
	json.Unmarshal([]byte(out), &rep)
	// migrate status and inspect agree: by upstream's ledger nothing is
	// pending; the note says to adopt.
	if code != 0 || rep.Ledger != migrate.LedgerUpstream || rep.Pending != 0 || rep.Current != 22 || !strings.Contains(rep.Note, "migrate adopt") {
		t.Fatalf("status on upstream db: %d %+v", code, rep)
	}
	before, _ := os.ReadFile(db)
	if _, errOut, code := runCLI(t, "migrate", "up", "--db", db); code != exitBadDatabase || !strings.Contains(errOut, "migrate adopt") {
		t.Fatalf("up on upstream db: %d %q", code, errOut)
	}
	if after, _ := os.ReadFile(db); !bytes.Equal(before, after) {
		t.Fatal("refused up modified the file")
	}
	out, errOut, code := runCLI(t, "migrate", "adopt", "--db", db)
	if code != 0 || !strings.Contains(out, "recorded 20 goose versions") {
		t.Fatalf("adopt: %d %s %s", code, out, errOut)
	}
	out, _, _ = runCLI(t, "migrate", "status", "--db", db, "--json")
	json.Unmarshal([]byte(out), &rep)
	if rep.Ledger != migrate.LedgerGoose || rep.Pending != 0 || rep.Current != 22 {
		t.Fatalf("after adopt: %+v", rep)
	}
	if out, _, code := runCLI(t, "migrate", "adopt", "--db", db); code != 0 || !strings.Contains(out, "already managed") {
		t.Fatalf("second adopt: %q", out)
	}
	// A drifted upstream database is refused and left alone.
	bad := filepath.Join(t.TempDir(), "drifted.db")
	makeUpstreamDB(t, bad)
	raw, _ := sql.Open("sqlite", bad)
	raw.ExecContext(ctx, "ALTER TABLE ff_lane_registry ADD COLUMN extra TEXT")
	raw.Close()
	before, _ = os.ReadFile(bad)
	if _, errOut, code := runCLI(t, "migrate", "adopt", "--db", bad); code == 0 || !strings.Contains(errOut, "ff_lane_registry") {
		t.Fatalf("adopt of drifted db: %d %q", code, errOut)
	}
	if after, _ := os.ReadFile(bad); !bytes.Equal(before, after) {
		t.Fatal("refused adopt modified the file")
	}
}

// makeUpstreamDB builds what upstream's sqlx runner leaves: the schema and
// a _sqlx_migrations ledger, no goose table.
func makeUpstreamDB(t *testing.T, path string) {
	t.Helper()
	srcs, err := migrate.Sources()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetMaxOpenConns(1)
	if _, err := raw.Exec(`CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL,
		installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	spec := specLedger(t)
	for i, s := range srcs {
		if _, err := raw.Exec(s.Up); err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if _, err := raw.Exec("INSERT INTO _sqlx_migrations(version, description, success, checksum, execution_time) VALUES (?, ?, 1, ?, 1234567)",
			spec[i].version, spec[i].description, spec[i].checksum); err != nil {
			t.Fatal(err)
		}
	}
}

func TestJSONOutputsAreStable(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "ff.db")
	out, _, _ := runCLI(t, "migrate", "up", "--db", db, "--json")
	var r runOutput
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range r.Results {
		names = append(names, x.Name)
	}
	want := []string{"0001_initial", "0002_budget", "0003_dispatch_outbox", "0004_suspend_signal", "0005_timeout_scanners",
		"0006_lease_event_outbox", "0007_signal_event_outbox", "0008_lease_event_instance_tag", "0009_signal_event_instance_tag",
		"0010_operator_event_outbox", "0011_waitpoint_pending_extensions", "0012_quota_policy", "0013_budget_policy_extensions",
		"0014_cancel_backlog", "0016_started_at_ms", "0017_claim_grant_table", "0018_completion_event_lookup_idx",
		"0020_budget_usage_by_exec", "0021_worker_registry", "0022_worker_registry_event_pk"}
	if !reflect.DeepEqual(names, want) || r.CurrentVersion != 22 {
		t.Fatalf("results %v (version %d)", names, r.CurrentVersion)
	}
}
