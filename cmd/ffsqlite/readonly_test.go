package main

import (
	"bytes"
	"database/sql"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// nobody is the user the read-only test runs the binary as when the tests
// run as root (root writes any file, whatever its mode).
const nobody = 65534

// readOnlyRunner returns a function that runs ffsqlite as a process that
// cannot write db: as the user nobody when the test runs as root (with a
// copy of the test binary it can execute), else as the current user on a
// file made read-only with chmod.
func readOnlyRunner(t *testing.T, db string) func(args ...string) (string, string, int) {
	t.Helper()
	if err := os.Chmod(db, 0o444); err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		cred = &syscall.Credential{Uid: nobody, Gid: nobody}
		tmp := t.TempDir()
		bin := filepath.Join(tmp, "bin")
		os.Mkdir(bin, 0o755)
		// nobody must reach the copy and the database: the test's temp
		// directories are root's and private.
		for _, d := range []string{tmp, filepath.Dir(tmp), filepath.Dir(db), filepath.Dir(filepath.Dir(db))} {
			os.Chmod(d, 0o755)
		}
		os.Chmod(filepath.Dir(db), 0o777)
		copyExe := filepath.Join(bin, "ffsqlite.test")
		src, err := os.Open(exe)
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.OpenFile(copyExe, os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(dst, src)
		src.Close()
		dst.Close()
		exe = copyExe
	}
	return func(args ...string) (string, string, int) {
		cmd := exec.Command(exe, args...)
		cmd.Env = append(os.Environ(), reexecEnv+"=1", "NO_COLOR=1", "HOME=/tmp")
		cmd.Dir = "/"
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
}

// Read-only commands work on a file the process cannot write, as inspect
// does; commands that write refuse with exit 4 and a hint.
func TestReadOnlyCommandsOnAReadOnlyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.Chmod(dir, 0o777) // SQLite may need to create the -shm beside a WAL file
	db := filepath.Join(dir, "ff.db")
	if _, e, code := runBin(t, nil, "migrate", "up-to", "13", "--db", db); code != 0 {
		t.Fatal(e)
	}
	upstream := filepath.Join(dir, "upstream.db")
	makeUpstreamDB(t, upstream)
	before, _ := os.ReadFile(db)
	run := readOnlyRunner(t, db)
	os.Chmod(upstream, 0o444)
	for _, c := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"migrate", "status", "--db", db}, "current version 13, latest 22, 7 pending", 0},
		{[]string{"migrate", "status", "--db", db, "--exit-code"}, "", exitPending},
		{[]string{"migrate", "version", "--db", db}, "13", 0},
		{[]string{"migrate", "up", "--dry-run", "--db", db}, "-- dry run: up 0014_cancel_backlog", 0},
		{[]string{"migrate", "down", "--dry-run", "--db", db}, "-- dry run: down 0013_budget_policy_extensions", 0},
		{[]string{"migrate", "up-to", "17", "--dry-run", "--db", db}, "-- dry run: up 0017_claim_grant_table", 0},
		{[]string{"migrate", "validate", "--db", db}, "20 migrations valid", exitPending},
		{[]string{"migrate", "adopt", "--dry-run", "--db", upstream}, "would record 20", 0},
		{[]string{"inspect", "--db", db}, "version 13 of 22", 0},
		{[]string{"inspect", "drift", "--db", db}, "", exitDrift},
		{[]string{"snapshot", "--db", db, filepath.Join(dir, "snap.db")}, "snapshot ", 0},
	} {
		out, errOut, code := run(c.args...)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("%v: exit %d (want %d)\nstdout %s\nstderr %s", c.args, code, c.code, out, errOut)
		}
		if strings.Contains(errOut, "permission denied") {
			t.Errorf("%v: %s", c.args, errOut)
		}
	}
	// Writing commands refuse cleanly.
	for _, args := range [][]string{{"migrate", "up", "--db", db}, {"migrate", "adopt", "--db", upstream}} {
		_, errOut, code := run(args...)
		if code != exitBadDatabase || !strings.Contains(errOut, "Try: ") {
			t.Errorf("%v: exit %d %s", args, code, errOut)
		}
	}
	if after, _ := os.ReadFile(db); !bytes.Equal(before, after) {
		t.Fatal("a command changed the read-only file")
	}
}

// A WAL database in a directory this process cannot write (a read-only
// mount, a fixture owned by someone else) is a read-only file: the README
// promises the read-only commands work on it and leave it as it was.
func TestReadOnlyCommandsInReadOnlyDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ro")
	os.Mkdir(dir, 0o755)
	db := filepath.Join(dir, "ro.db")
	if _, errb, code := runBin(t, nil, "init", "--db", db); code != 0 {
		t.Fatalf("init: exit %d: %s", code, errb)
	}
	os.Remove(db + "-lock")
	run := readOnlyRunner(t, db)
	// readOnlyRunner opens the directory up; make it unwritable again.
	mode := os.FileMode(0o755) // root's directory: nobody cannot write it
	if os.Geteuid() != 0 {
		mode = 0o555
	}
	os.Chmod(dir, mode)
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	before, _ := os.ReadFile(db)
	for _, args := range [][]string{
		{"migrate", "status"}, {"migrate", "version"}, {"inspect"}, {"inspect", "drift"},
	} {
		out, errb, code := run(append(args, "--db", db)...)
		if code != 0 || out == "" {
			t.Errorf("%s on a read-only WAL file in a read-only directory: exit %d, stdout %q, stderr %q",
				strings.Join(args, " "), code, out, errb)
		}
	}
	if after, _ := os.ReadFile(db); string(after) != string(before) {
		t.Error("the file changed")
	}
}

// TestReadOnlyDirectoryWithALog: the same read-only directory, but the
// file's write-ahead log still holds frames (the copy of a database that
// was not closed cleanly). Reading without it would show an older
// database, and SQLite reads it only through a -shm file it cannot make
// there: a one-line error saying so, exit 4, and the files untouched.
func TestReadOnlyDirectoryWithALog(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src.db")
	if _, errb, code := runBin(t, nil, "init", "--db", src); code != 0 {
		t.Fatalf("init: exit %d: %s", code, errb)
	}
	live, err := sql.Open("sqlite", "file:"+src+"?_pragma=wal_autocheckpoint(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if _, err := live.Exec(`CREATE TABLE late (x); INSERT INTO late VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "ro.db")
	for _, suffix := range []string{"", "-wal"} { // a copy while the log holds the table
		b, err := os.ReadFile(src + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 {
			t.Fatalf("%s%s is empty", src, suffix)
		}
		if err := os.WriteFile(db+suffix, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := readOnlyRunner(t, db)
	if err := os.Chmod(db+"-wal", 0o444); err != nil {
		t.Fatal(err)
	}
	mode := os.FileMode(0o755)
	if os.Geteuid() != 0 {
		mode = 0o555
	}
	os.Chmod(dir, mode)
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	before, _ := os.ReadFile(db + "-wal")
	out, errb, code := run("inspect", "--db", db)
	if code != 4 || out != "" || !strings.Contains(errb, "write-ahead log") || strings.Count(strings.TrimSpace(errb), "\n") != 1 {
		t.Fatalf("inspect: exit %d, stdout %q, stderr %q; want exit 4 and the one-line error with its Try: line", code, out, errb)
	}
	if after, _ := os.ReadFile(db + "-wal"); string(after) != string(before) {
		t.Error("the write-ahead log changed")
	}
}
