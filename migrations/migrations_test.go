package migrations

import (
	"bufio"
	"context"
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite"
)

func TestVersionsMatchFiles(t *testing.T) {
	t.Parallel()
	names, err := fs.Glob(FS(), "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, n := range names {
		v, err := strconv.ParseInt(n[:4], 10, 64)
		if err != nil || n[4] != '_' {
			t.Fatalf("bad migration file name %q", n)
		}
		got = append(got, v)
	}
	if !slices.Equal(got, Versions()) {
		t.Fatalf("files give versions %v, Versions() = %v", got, Versions())
	}
	if last := Versions()[len(Versions())-1]; last != LatestVersion {
		t.Fatalf("last version %d != LatestVersion %d", last, LatestVersion)
	}
	for _, v := range AnnotatedVersions() {
		if !slices.Contains(Versions(), v) {
			t.Fatalf("annotated version %d has no migration", v)
		}
	}
}

func TestManifestAndSkipFile(t *testing.T) {
	t.Parallel()
	manifest := readLines(t, "pg-manifest.txt")
	sqlFiles, _ := filepath.Glob("*.sql")
	want := slices.Sorted(slices.Values(append(slices.Clone(sqlFiles), "0019_flow_summary.sql")))
	if !slices.Equal(manifest, want) {
		t.Fatalf("pg-manifest.txt = %v, want %v", manifest, want)
	}
	var entries []string
	for _, l := range readLines(t, ".sqlite-skip") {
		if l != "" && !strings.HasPrefix(l, "#") {
			entries = append(entries, strings.Fields(l)[0])
		}
	}
	if !slices.Equal(entries, []string{"0019_flow_summary.sql"}) {
		t.Fatalf(".sqlite-skip entries = %v", entries)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, strings.TrimSpace(sc.Text()))
	}
	return out
}

// openMigrated opens a fresh database migrated up to version v.
func openMigrated(t *testing.T, v int64) (*sql.DB, *goose.Provider) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "ff.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p, err := goose.NewProvider(goose.DialectSQLite3, db, FS())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(context.Background(), v); err != nil {
		t.Fatalf("up to %d: %v", v, err)
	}
	return db, p
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestStartedAtBackfill(t *testing.T) {
	t.Parallel()
	db, p := openMigrated(t, 14)
	ins := `INSERT INTO ff_exec_core (partition_key, execution_id, lane_id, lifecycle_phase, ownership_state,
		eligibility_state, public_state, attempt_state, created_at_ms) VALUES (0, ?, 'l', 'p', 'o', 'e', 'ps', 'as', 1)`
	mustExec(t, db, ins, []byte("e1"))
	mustExec(t, db, ins, []byte("e2"))
	att := `INSERT INTO ff_attempt (partition_key, execution_id, attempt_index, started_at_ms) VALUES (0, ?, ?, ?)`
	mustExec(t, db, att, []byte("e1"), 0, nil)
	mustExec(t, db, att, []byte("e1"), 1, 500) // lowest attempt with a start time
	mustExec(t, db, att, []byte("e1"), 2, 100) // smaller time, higher index: not chosen
	mustExec(t, db, att, []byte("e2"), 0, nil)
	if _, err := p.UpTo(context.Background(), 16); err != nil {
		t.Fatal(err)
	}
	got := map[string]sql.NullInt64{}
	rows, err := db.Query(`SELECT execution_id, started_at_ms FROM ff_exec_core`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id []byte
		var v sql.NullInt64
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		got[string(id)] = v
	}
	if got["e1"] != (sql.NullInt64{Int64: 500, Valid: true}) || got["e2"].Valid {
		t.Fatalf("backfilled started_at_ms = %v", got)
	}
}

func TestWorkerRegistryEventRebuild(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, p := openMigrated(t, 21)
	ins := `INSERT INTO ff_worker_registry_event (namespace, worker_instance_id, event_kind, event_at_ms, reason) VALUES ('ns', 'w', ?, ?, ?)`
	mustExec(t, db, ins, "registered", 1, "boot")
	mustExec(t, db, ins, "heartbeat", 2, nil)
	if _, err := db.Exec(ins, "heartbeat", 1, nil); err == nil {
		t.Fatal("0021 PK accepted two events in the same millisecond")
	}
	if _, err := p.UpTo(ctx, 22); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM ff_worker_registry_event`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 2 {
		t.Fatalf("rows after 0022 up = %d, want 2", n)
	}
	mustExec(t, db, ins, "heartbeat", 1, nil) // now allowed
	if _, err := p.DownTo(ctx, 21); err == nil {
		t.Fatal("0022 down succeeded although rows collide under the 0021 PK")
	}
	mustExec(t, db, `DELETE FROM ff_worker_registry_event WHERE event_kind = 'heartbeat' AND event_at_ms = 1`)
	if _, err := p.DownTo(ctx, 21); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Fatalf("rows after 0022 down = %d, want 2", n)
	}
	var reason string
	if err := db.QueryRow(`SELECT reason FROM ff_worker_registry_event WHERE event_at_ms = 1`).Scan(&reason); err != nil || reason != "boot" {
		t.Fatalf("reason = %q, err %v", reason, err)
	}
}
