package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/inspect"
	"github.com/ffsqlite/ffsqlite/internal/inspecttest"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/migrate"
)

func init() {
	inspectZone = func() *time.Location { return time.UTC } // the golden files show UTC
}

var inspNow = strconv.FormatInt(inspecttest.SeedNowMS, 10)

// inspSeeded builds the deterministic seeded database and closes every
// writable handle on it, so inspect opens it fresh and read-only.
func inspSeeded(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "seed.db")
	b := testdb.OpenPath(t, path)
	if err := inspecttest.Seed(context.Background(), b.WriterDB()); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	return path
}

// inspCLI runs `ffsqlite inspect ARGS --db path --now-ms SEED_NOW`.
func inspCLI(t *testing.T, path string, args ...string) (string, string, int) {
	t.Helper()
	full := append([]string{"inspect"}, args...)
	full = append(full, "--db", path, "--now-ms", inspNow, "--color", "never")
	return runCLI(t, full...)
}

// inspNormalize removes what differs between machines and runs.
func inspNormalize(s, path string) string {
	return inspecttest.Normalize(s, path, backendSQLiteVersion())
}

var inspVersion struct {
	once sync.Once
	v    string
}

func backendSQLiteVersion() string {
	inspVersion.once.Do(func() {
		db, err := sql.Open("sqlite", ":memory:")
		if err == nil {
			db.QueryRow("SELECT sqlite_version()").Scan(&inspVersion.v)
			db.Close()
		}
	})
	return inspVersion.v
}

// inspGolden compares the CLI's output with inspect's golden file of the
// same report: the files belong to the inspect package, which renders
// them (go test ./inspect -run TestGolden -update rewrites them); here
// they prove that each command wires its flags to the right report.
func inspGolden(t *testing.T, name, got string) {
	t.Helper()
	want, err := os.ReadFile(filepath.Join("..", "..", "inspect", "testdata", "golden", name+".golden"))
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Errorf("inspect %s prints something else than inspect's golden file:\n%s", name, got)
	}
}

// inspCases are the CLI forms of inspect's golden cases
// (inspect/render_test.go): name and arguments. Each runs as text and with
// --json.
var inspCases = []struct {
	name string
	args []string
}{
	{"overview", nil},
	{"executions", []string{"executions"}},
	{"executions_delayed", []string{"executions", "--state", "delayed"}},
	{"executions_lane_llm", []string{"executions", "--lane", "llm", "--limit", "2"}},
	{"executions_flow", []string{"executions", "--flow", inspecttest.SeedFlowDiamond}},
	{"execution_retried", []string{"execution", inspecttest.SeedExec(5)}},
	{"execution_suspended", []string{"execution", inspecttest.SeedExec(6)}},
	{"execution_resumed", []string{"execution", inspecttest.SeedExec(10)}},
	{"waitpoints", []string{"waitpoints"}},
	{"execution_waiting", []string{"execution", inspecttest.SeedExec(1)}},
	{"execution_partition3", []string{"execution", inspecttest.SeedUUID(18)}},
	{"flows", []string{"flows"}},
	{"flow_diamond", []string{"flow", inspecttest.SeedFlowDiamond}},
	{"flow_failed", []string{"flow", inspecttest.SeedFlowFailed}},
	{"budgets", []string{"budgets"}},
	{"budget_tokens", []string{"budget", "b-tokens"}},
	{"budget_breached", []string{"budget", "b-breached"}},
	{"quotas", []string{"quotas"}},
	{"workers", []string{"workers"}},
	{"events", []string{"events"}},
	{"events_lease_after", []string{"events", "--outbox", "lease", "--after", "3", "--limit", "2"}},
	{"events_cursor", []string{"events", "--after", "completion:6,lease:6,signal:0,operator:1"}},
	{"schema", []string{"schema"}},
	{"drift", []string{"drift"}},
}

func TestInspectPrintsTheGoldenReports(t *testing.T) {
	path := inspSeeded(t)
	for _, c := range inspCases {
		for _, asJSON := range []bool{false, true} {
			name, args := c.name, c.args
			if asJSON {
				name, args = name+".json", append(append([]string{}, args...), "--json")
			}
			t.Run(name, func(t *testing.T) {
				out, errOut, code := inspCLI(t, path, args...)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				if asJSON && !json.Valid([]byte(out)) {
					t.Fatalf("invalid JSON:\n%s", out)
				}
				inspGolden(t, name, inspNormalize(out, path))
			})
		}
	}
}

// inspFileState is what "unchanged" means for a file: bytes and mtime.
type inspFileState struct {
	exists bool
	sum    [32]byte
	mtime  time.Time
	size   int64
}

func inspStat(t *testing.T, path string) inspFileState {
	t.Helper()
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return inspFileState{}
	}
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return inspFileState{exists: true, sum: sha256.Sum256(data), mtime: st.ModTime(), size: st.Size()}
}

// inspAllCommands is every inspect command (follow aside), for the
// read-only proofs.
func inspAllCommands() [][]string {
	var out [][]string
	for _, c := range inspCases {
		out = append(out, c.args, append(append([]string{}, c.args...), "--json"))
	}
	return out
}

// inspAssertUntouched runs every inspect command against path and fails
// when the database file or its WAL changes (bytes or mtime). The -shm
// index is SQLite's shared memory, which every WAL reader maps.
func inspAssertUntouched(t *testing.T, path string) {
	t.Helper()
	db, wal := inspStat(t, path), inspStat(t, path+"-wal")
	for _, args := range inspAllCommands() {
		out, errOut, code := inspCLI(t, path, args...)
		if code != 0 && code != exitDrift {
			t.Fatalf("inspect %v: exit %d: %s\n%s", args, code, errOut, out)
		}
		if got := inspStat(t, path); got != db {
			t.Fatalf("inspect %v changed the database file: %+v -> %+v", args, db, got)
		}
		if got := inspStat(t, path+"-wal"); wal.exists && got != wal {
			t.Fatalf("inspect %v changed the WAL: %+v -> %+v", args, wal, got)
		}
	}
}

func TestInspectReadOnlyAtRest(t *testing.T) {
	path := inspSeeded(t)
	inspAssertUntouched(t, path)
}

// inspLiveWriter opens a writer that commits rows into the WAL and never
// checkpoints them (as serve does between checkpoints); close it to end.
func inspLiveWriter(t *testing.T, path string) *sql.DB {
	t.Helper()
	w, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=wal_autocheckpoint(0)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	w.SetMaxOpenConns(1)
	if _, err := w.Exec(`INSERT INTO ff_lane_registry (lane_id, registered_at_ms, registered_by) VALUES ('wal-only', 1, 'test')`); err != nil {
		t.Fatal(err)
	}
	if st := inspStat(t, path+"-wal"); !st.exists || st.size == 0 {
		t.Fatal("the writer left no WAL frames")
	}
	return w
}

func TestInspectReadOnlyWithLiveWALWriter(t *testing.T) {
	path := inspSeeded(t)
	w := inspLiveWriter(t, path)
	defer w.Close()
	inspAssertUntouched(t, path)
	out, errOut, code := inspCLI(t, path)
	if code != 0 || !strings.Contains(out, "wal-only") {
		t.Fatalf("overview does not see the WAL's committed lane (exit %d, %s):\n%s", code, errOut, out)
	}
}

// A writer that died with committed frames in its WAL: the next connection
// to close last would checkpoint them into the main file. inspect must not.
func TestInspectReadOnlyAfterCrashedWriter(t *testing.T) {
	path := inspSeeded(t)
	w := inspLiveWriter(t, path)
	crashed := filepath.Join(t.TempDir(), "crashed.db")
	for _, suffix := range []string{"", "-wal"} { // the files a killed writer leaves
		data, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(crashed+suffix, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	inspAssertUntouched(t, crashed)
	out, _, code := inspCLI(t, crashed, "--json")
	if code != 0 || !strings.Contains(out, `"lane": "wal-only"`) {
		t.Fatalf("overview of the crashed file (exit %d):\n%s", code, out)
	}
}

func TestInspectDriftAfterOutOfBandAlter(t *testing.T) {
	path := inspSeeded(t)
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("ALTER TABLE ff_lane_registry ADD COLUMN x"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	out, errOut, code := inspCLI(t, path, "drift")
	if code != exitDrift {
		t.Fatalf("drift exit %d, want %d: %s", code, exitDrift, errOut)
	}
	if !strings.Contains(out, "ff_lane_registry") || !strings.Contains(out, "extra column x") {
		t.Fatalf("drift output does not name the extra column:\n%s", out)
	}
	if !strings.Contains(errOut, "schema drift: 1 difference(s)") {
		t.Fatalf("stderr: %q", errOut)
	}
	out, _, code = inspCLI(t, path, "drift", "--json")
	var d inspect.DriftReport
	if err := json.Unmarshal([]byte(out), &d); err != nil || code != exitDrift || !d.Drift || len(d.Differences) != 1 ||
		!strings.HasPrefix(d.Differences[0], "table ff_lane_registry: extra column x") {
		t.Fatalf("drift --json (exit %d): %+v %v\n%s", code, d, err, out)
	}
}

func inspOverviewJSON(t *testing.T, path string) inspect.OverviewReport {
	t.Helper()
	out, errOut, code := inspCLI(t, path, "--json")
	if code != 0 {
		t.Fatalf("overview exit %d: %s", code, errOut)
	}
	var r inspect.OverviewReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestInspectOlderSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	ctx := context.Background()
	b := testdb.OpenPath(t, path)
	m, err := migrate.New(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.DownTo(ctx, 14); err != nil {
		t.Fatal(err)
	}
	// An execution as a version-14 engine stored it (no started_at_ms, no
	// lease_reclaim_count).
	if _, err := b.WriterDB().Exec(`INSERT INTO ff_exec_core (partition_key, execution_id, lane_id, lifecycle_phase, ownership_state,
		eligibility_state, public_state, attempt_state, blocking_reason, created_at_ms, raw_fields)
		VALUES (0, x'00000000000040008000000000000001', 'old', 'runnable', 'unowned', 'eligible_now', 'waiting',
		'pending_first_attempt', 'waiting_for_worker', 1, '{}')`); err != nil {
		t.Fatal(err)
	}
	b.Close(ctx)

	r := inspOverviewJSON(t, path)
	want := []int64{16, 17, 18, 20, 21, 22}
	if r.Schema.Ledger != "goose" || r.Schema.Version != 14 || !slices.Equal(r.Schema.Pending, want) {
		t.Fatalf("schema status %+v, want version 14 pending %v", r.Schema, want)
	}
	if r.Executions.Total != 1 || r.Executions.ByState["waiting"] != 1 || !slices.Contains(r.MissingTables, "ff_worker_registry") {
		t.Fatalf("overview of a version-14 file: %+v missing %v", r.Executions, r.MissingTables)
	}
	out, _, _ := inspCLI(t, path)
	if !strings.Contains(out, "version 14 of 22 (ledger goose), 6 pending: 16, 17, 18, 20, 21, 22") {
		t.Fatalf("overview text does not show the pending migrations:\n%s", out)
	}
	if out, errOut, code := inspCLI(t, path, "execution", "00000000-0000-4000-8000-000000000001"); code != 0 || !strings.Contains(out, "waiting") {
		t.Fatalf("execution on a version-14 file: exit %d %s\n%s", code, errOut, out)
	}
	_, errOut, code := inspCLI(t, path, "workers")
	if code != exitBadDatabase || !strings.Contains(errOut, "no ff_worker_registry table") {
		t.Fatalf("workers on a version-14 file: exit %d %q", code, errOut)
	}
}

func TestInspectEmptyDatabase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := inspOverviewJSON(t, path)
	if r.Schema.Ledger != "none" || r.Schema.Version != 0 || len(r.Schema.Pending) != 20 || r.Executions.Total != 0 ||
		len(r.MissingTables) != 9 || r.SizeBytes != 0 {
		t.Fatalf("overview of an empty file: %+v", r)
	}
	out, _, code := inspCLI(t, path)
	if code != 0 || !strings.Contains(out, "version 0 of 22 (ledger none), 20 pending") || !strings.Contains(out, "no lanes") {
		t.Fatalf("overview text of an empty file (exit %d):\n%s", code, out)
	}
	if _, errOut, code := inspCLI(t, path, "executions"); code != exitBadDatabase || !strings.Contains(errOut, "no ff_exec_core table") {
		t.Fatalf("executions on an empty file: exit %d %q", code, errOut)
	}
	if out, _, code := inspCLI(t, path, "drift"); code != exitDrift || !strings.Contains(out, "missing table ff_exec_core") {
		t.Fatalf("drift on an empty file: exit %d\n%s", code, out)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != 0 {
		t.Fatalf("the empty file changed: %v %v", st, err)
	}
}

// inspUpstreamDB builds what upstream FlowFabric's own runner leaves: the
// embedded migrations' SQL applied directly, a _sqlx_migrations ledger and
// no goose table; then seeds it.
func inspUpstreamDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "upstream.db")
	makeUpstreamDB(t, path)
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := inspecttest.Seed(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestInspectUpstreamLedger(t *testing.T) {
	path := inspUpstreamDB(t)
	r := inspOverviewJSON(t, path)
	if r.Schema.Ledger != "sqlx" || r.Schema.Version != 22 || len(r.Schema.Pending) != 0 ||
		!strings.Contains(r.Schema.Note, "ffsqlite migrate adopt") || r.Executions.Total != 18 {
		t.Fatalf("overview of an upstream database: %+v %+v", r.Schema, r.Executions)
	}
	out, _, _ := inspCLI(t, path)
	if !strings.Contains(out, "(ledger sqlx)") || !strings.Contains(out, "_sqlx_migrations") {
		t.Fatalf("overview text does not say the ledger is upstream's:\n%s", out)
	}
	seeded := inspSeeded(t)
	for _, c := range inspCases {
		if c.name == "overview" || c.name == "schema" {
			continue // the file and ledger differ by design
		}
		got, errOut, code := inspCLI(t, path, append(c.args, "--json")...)
		if code != 0 {
			t.Fatalf("%s on an upstream database: exit %d %s", c.name, code, errOut)
		}
		want, _, _ := inspCLI(t, seeded, append(c.args, "--json")...)
		if inspNormalize(got, path) != inspNormalize(want, seeded) {
			t.Errorf("%s differs between the upstream and the goose database:\n%s\n---\n%s", c.name, got, want)
		}
	}
	inspAssertUntouched(t, path)
}

// inspSyncBuffer is a bytes.Buffer safe for a writer and a reader
// goroutine.
type inspSyncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *inspSyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *inspSyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func inspWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestInspectEventsFollowJSONLines(t *testing.T) {
	path := inspSeeded(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb inspSyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"ffsqlite", "inspect", "events", "--follow", "--json", "--outbox", "completion,lease",
			"--after", "completion:6,lease:7", "--db", path, "--now-ms", inspNow}, &out, &errb)
	}()
	lines := func() []string { return strings.Split(strings.TrimSpace(out.String()), "\n") }
	inspWaitFor(t, "the first page", func() bool { return strings.Contains(out.String(), `"event_id":7`) })

	w, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Exec(`INSERT INTO ff_completion_event (partition_key, execution_id, outcome, occurred_at_ms)
		VALUES (0, x'00000000000040008000000000000004', 'success', 1767225601000)`); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Exec(`INSERT INTO ff_signal_event (execution_id, signal_id, delivered_at_ms, partition_key)
		VALUES ('{fp:0}:00000000-0000-4000-8000-000000000004', 'not-followed', 1767225601000, 0)`); err != nil {
		t.Fatal(err)
	}
	inspWaitFor(t, "the new event", func() bool { return len(lines()) == 2 })
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("follow exit %d: %s", code, errb.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not stop on cancel")
	}
	var evs []inspect.Event
	for _, l := range lines() {
		var e inspect.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		evs = append(evs, e)
	}
	if len(evs) != 2 || evs[0].Outbox != "completion" || evs[0].EventID != 7 || evs[1].EventID != 8 ||
		evs[1].ExecutionID != inspecttest.SeedExec(4) || evs[1].Type != "success" {
		t.Fatalf("followed events: %+v", evs)
	}
}

func TestInspectWhileWriting(t *testing.T) {
	path := inspSeeded(t)
	w, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.SetMaxOpenConns(1)
	stop := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tx, err := w.Begin()
			if err == nil {
				_, err = tx.Exec(`INSERT INTO ff_lane_registry (lane_id, registered_at_ms, registered_by) VALUES (?, 1, 'writer')`, fmt.Sprintf("w-%d", i))
				if err == nil {
					err = tx.Commit()
				} else {
					tx.Rollback()
				}
			}
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	for i := 0; i < 10; i++ {
		for _, args := range [][]string{nil, {"executions"}, {"events"}} {
			if _, errOut, code := inspCLI(t, path, args...); code != 0 {
				t.Fatalf("inspect %v while a writer commits: exit %d %s", args, code, errOut)
			}
		}
	}
	close(stop)
	if err := <-errs; err != nil {
		t.Fatalf("the writer failed beside inspect: %v", err)
	}
}

func TestInspectUsageAndLookupErrors(t *testing.T) {
	path := inspSeeded(t)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bogus"}, exitUsage, `unknown inspect subcommand "bogus"`},
		{[]string{"executions", "--state", "running"}, exitUsage, `unknown state "running"`},
		{[]string{"executions", "--flow", "nope"}, exitUsage, "invalid uuid"},
		{[]string{"executions", "--limit", "-1"}, exitUsage, "invalid --limit"},
		{[]string{"execution"}, exitUsage, "needs exactly one ID argument"},
		{[]string{"execution", "{fp:x}:y"}, exitUsage, "invalid execution id"},
		{[]string{"execution", inspecttest.SeedUUID(99)}, exitFailure, "execution " + inspecttest.SeedUUID(99) + " not found"},
		{[]string{"flow", "f0000000-0000-4000-8000-000000000099"}, exitFailure, "not found"},
		{[]string{"budget", "b-nope"}, exitFailure, "budget b-nope not found"},
		{[]string{"events", "--outbox", "stream"}, exitUsage, `unknown outbox "stream"`},
		{[]string{"events", "--after", "lease:x"}, exitUsage, "invalid cursor"},
		{[]string{"workers", "extra"}, exitUsage, `unexpected argument "extra"`},
	} {
		out, errOut, code := inspCLI(t, path, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("inspect %v: exit %d (want %d), stderr %q (want %q), stdout %q", c.args, code, c.code, errOut, c.want, out)
		}
	}
	if _, errOut, code := runCLI(t, "inspect", "--db", path, "--color", "pink"); code != exitUsage || !strings.Contains(errOut, "invalid --color") {
		t.Errorf("--color pink: exit %d %q", code, errOut)
	}
	missing := filepath.Join(t.TempDir(), "missing.db")
	if _, errOut, code := inspCLI(t, missing); code != exitBadDatabase || !strings.Contains(errOut, "does not exist") {
		t.Fatalf("inspect of a missing file: exit %d %q", code, errOut)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("inspect created the missing database")
	}
}

func TestInspectGuardAndBanner(t *testing.T) {
	path := inspSeeded(t)
	dir := filepath.Dir(path)
	before, _ := os.ReadDir(dir)
	_, errOut, code := runBin(t, []string{"FF_DEV_MODE=0"}, "inspect", "--db", path)
	if code != exitDevMode || !strings.HasPrefix(errOut, guardLine) {
		t.Fatalf("inspect without FF_DEV_MODE: exit %d %q", code, errOut)
	}
	if after, _ := os.ReadDir(dir); len(after) != len(before) {
		t.Fatalf("the refused inspect touched the directory: %v -> %v", before, after)
	}
	out, errOut, code := runBin(t, nil, "inspect", "workers", "--db", path)
	if code != 0 || strings.Count(errOut, backend.BannerText) != 1 || strings.Contains(out, backend.BannerText) {
		t.Fatalf("banner: exit %d, stderr %q", code, errOut)
	}
}

func TestInspectColourOnlyWhenAsked(t *testing.T) {
	path := inspSeeded(t)
	plain, _, _ := runCLI(t, "inspect", "executions", "--db", path, "--now-ms", inspNow)
	if strings.Contains(plain, "\x1b[") {
		t.Fatal("colour codes on a non-terminal with --color auto")
	}
	coloured, _, _ := runCLI(t, "inspect", "executions", "--db", path, "--now-ms", inspNow, "--color", "always")
	if !strings.Contains(coloured, "\x1b[32mcompleted\x1b[0m") || !strings.Contains(coloured, "\x1b[31mfailed\x1b[0m") {
		t.Fatalf("--color always does not colour states:\n%s", coloured)
	}
	js, _, _ := runCLI(t, "inspect", "executions", "--db", path, "--now-ms", inspNow, "--color", "always", "--json")
	if strings.Contains(js, "\x1b[") {
		t.Fatal("colour codes in JSON")
	}
}
