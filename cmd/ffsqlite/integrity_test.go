package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// corruptDB builds a migrated database with a few thousand executions in
// rollback-journal mode (as a file copied from elsewhere might be), then
// overwrites four of its table pages, the way a bad disk or a stray write
// would: SQLite still opens it and reads its schema, but PRAGMA
// quick_check fails.
func corruptDB(t *testing.T, dir string) string {
	t.Helper()
	db := filepath.Join(dir, "ff.db")
	if _, e, code := runBin(t, nil, "init", "--db", db); code != 0 {
		t.Fatal(e)
	}
	var entries []string
	for range 3000 {
		b, _ := json.Marshal(createBody("{fp:1}:" + uuid.NewString()))
		entries = append(entries, string(b))
	}
	seed := filepath.Join(dir, "seed.json")
	os.WriteFile(seed, []byte(`{"executions":[`+strings.Join(entries, ",")+`]}`), 0o644)
	if _, e, code := runBin(t, nil, "seed", "--db", db, seed); code != 0 {
		t.Fatal(e)
	}
	os.Remove(seed)
	raw, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	var pageSize, pages int64
	raw.QueryRow("PRAGMA journal_mode=DELETE").Scan(new(string))
	raw.QueryRow("PRAGMA page_size").Scan(&pageSize)
	raw.QueryRow("PRAGMA page_count").Scan(&pages)
	raw.Close()
	f, err := os.OpenFile(db, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := bytes.Repeat([]byte{0xCD}, int(pageSize))
	for _, frac := range []int64{40, 55, 70, 85} { // data pages, far from the schema's
		if _, err := f.WriteAt(junk, (pages*frac/100)*pageSize); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	for _, s := range []string{"-wal", "-shm", "-lock"} {
		os.Remove(db + s)
	}
	// The premise: it opens and its schema reads, but it is damaged.
	raw, _ = sql.Open("sqlite", "file:"+db+"?mode=ro")
	defer raw.Close()
	var n int
	if err := raw.QueryRow("SELECT count(*) FROM sqlite_master").Scan(&n); err != nil || n == 0 {
		t.Fatalf("corrupt file does not open: %v", err)
	}
	var res string
	if raw.QueryRow("PRAGMA quick_check").Scan(&res); res == "ok" {
		t.Fatal("the overwritten pages did not damage the file")
	}
	return db
}

// No command writes a byte to a damaged file, and each says so: exit 4,
// one line naming the problem, a hint.
func TestCorruptDatabaseIsNeverWritten(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := corruptDB(t, dir)
	snap := filepath.Join(dir, "snap.db")
	good := filepath.Join(t.TempDir(), "good.db")
	runBin(t, nil, "init", "--db", good)
	goodSnap := filepath.Join(t.TempDir(), "good-snap.db")
	if _, e, code := runBin(t, nil, "snapshot", "--db", good, goodSnap); code != 0 {
		t.Fatal(e)
	}
	seed := filepath.Join(t.TempDir(), "seed.json")
	os.WriteFile(seed, []byte(`{"executions":[]}`), 0o644)
	before, _ := os.ReadFile(db)
	cases := [][]string{
		{"init", "--db", db},
		{"migrate", "up", "--db", db},
		{"migrate", "down", "--db", db},
		{"migrate", "adopt", "--db", db},
		{"migrate", "status", "--db", db},
		{"inspect", "drift", "--db", db},
		{"scan", "--once", "--db", db},
		{"serve", "--listen", "127.0.0.1:0", "--db", db},
		{"snapshot", "--db", db, snap},
		{"restore", "--db", db, goodSnap},
		{"restore", "--db", filepath.Join(t.TempDir(), "new.db"), db},
		{"reset", "--db", db},
		{"seed", "--db", db, seed},
	}
	for _, args := range cases {
		out, errOut, code := runBin(t, nil, args...)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code != exitBadDatabase || len(lines) < 2 || !strings.Contains(lines[len(lines)-2], "corrupt") ||
			!strings.HasPrefix(lines[len(lines)-1], "Try: ") {
			t.Errorf("%v: exit %d\nstdout %s\nstderr %s", args, code, out, errOut)
		}
		if after, _ := os.ReadFile(db); !bytes.Equal(before, after) {
			t.Fatalf("%v wrote to the damaged file", args)
		}
	}
	if _, err := os.Stat(snap); err == nil {
		t.Fatal("snapshot of a damaged file was written")
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 3 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("files left beside the damaged one: %v", names)
	}
}

// BenchmarkIntegrityCheck lives in dbops; this records what a check says.
func TestCorruptErrorNamesTheProblem(t *testing.T) {
	t.Parallel()
	db := corruptDB(t, t.TempDir())
	_, errOut, _ := runBin(t, nil, "migrate", "up", "--db", db)
	if !strings.Contains(errOut, fmt.Sprintf("%s is corrupt (PRAGMA quick_check: ", db)) || !strings.Contains(errOut, "ffsqlite writes nothing to it") {
		t.Fatalf("stderr %q", errOut)
	}
}
