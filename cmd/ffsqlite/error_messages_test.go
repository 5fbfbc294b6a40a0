package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPoolSizeErrorNamesItsSource: a bad --pool-size names the flag (the
// variable was never set); a bad FF_SQLITE_POOL_SIZE keeps upstream's
// text naming the variable. Both exit 2 with a Try: line.
func TestPoolSizeErrorNamesItsSource(t *testing.T) {
	db := filepath.Join(t.TempDir(), "ff.db")
	if _, errb, code := runBin(t, nil, "init", "--db", db); code != 0 {
		t.Fatalf("init: exit %d: %s", code, errb)
	}
	for _, c := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"flag zero", nil, []string{"inspect", "--db", db, "--pool-size", "0"}, `invalid --pool-size "0": must be a whole number from 1 to 4294967295`},
		{"flag too big", nil, []string{"inspect", "--db", db, "--pool-size", "99999999999999999999"}, `invalid --pool-size "99999999999999999999"`},
		{"env zero", []string{"FF_SQLITE_POOL_SIZE=0"}, []string{"inspect", "--db", db}, "invalid value for FF_SQLITE_POOL_SIZE: must be > 0 (semaphore size)"},
	} {
		out, errb, code := runBin(t, c.env, c.args...)
		if code != 2 || out != "" || !strings.Contains(errb, c.want) || !strings.Contains(errb, "Try:") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.name, code, out, errb, c.want)
		}
		if c.env == nil && strings.Contains(errb, "FF_SQLITE_POOL_SIZE") {
			t.Errorf("%s: the error names FF_SQLITE_POOL_SIZE, which was not set: %q", c.name, errb)
		}
	}
}

// TestRestoreBadSnapshotNamesIN: restore given an IN that is not SQLite
// blames IN (its own hint), names its path once, exits 4 and changes
// neither file.
func TestRestoreBadSnapshotNamesIN(t *testing.T) {
	dir := t.TempDir()
	dst, in := filepath.Join(dir, "dst.db"), filepath.Join(dir, "in.db")
	if _, errb, code := runBin(t, nil, "init", "--db", dst); code != 0 {
		t.Fatalf("init: exit %d: %s", code, errb)
	}
	if err := os.WriteFile(in, []byte("not a database at all, just text\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(dst)
	out, errb, code := runBin(t, nil, "restore", "--db", dst, in)
	lines := strings.Split(strings.TrimSpace(errb), "\n")
	if code != 4 || out != "" || len(lines) != 2 || strings.Count(lines[0], in) != 1 ||
		!strings.HasPrefix(lines[1], "Try: give restore a snapshot made by") {
		t.Fatalf("restore of a non-SQLite IN: exit %d, stdout %q, stderr %q", code, out, errb)
	}
	if after, _ := os.ReadFile(dst); string(after) != string(before) {
		t.Error("restore changed --db")
	}
	if b, _ := os.ReadFile(in); string(b) != "not a database at all, just text\n" {
		t.Error("restore changed IN")
	}
}

// TestMigrateDownAtVersionZero: rolling back with nothing applied says
// so (not goose's "no next version found"), exits 1 with a Try: line and
// changes nothing.
func TestMigrateDownAtVersionZero(t *testing.T) {
	db := filepath.Join(t.TempDir(), "ff.db")
	if _, errb, code := runBin(t, nil, "init", "--db", db); code != 0 {
		t.Fatalf("init: exit %d: %s", code, errb)
	}
	if _, errb, code := runBin(t, nil, "migrate", "reset", "--db", db); code != 0 {
		t.Fatalf("migrate reset: exit %d: %s", code, errb)
	}
	for _, cmd := range []string{"down", "redo"} {
		out, errb, code := runBin(t, nil, "migrate", cmd, "--db", db)
		_, msg, _ := strings.Cut(errb, "ffsqlite: ") // after the dev-mode banner
		lines := strings.Split(strings.TrimSpace(msg), "\n")
		if code != 1 || out != "" || len(lines) != 2 || lines[0] != "nothing to roll back: no migration is applied" ||
			strings.Contains(errb, "no next version") || !strings.HasPrefix(lines[1], "Try:") {
			t.Errorf("migrate %s at version 0: exit %d, stdout %q, stderr %q", cmd, code, out, errb)
		}
	}
}
