package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func versionOf(t *testing.T, db string) int64 {
	t.Helper()
	_, v := fileFacts(t, db)
	return v
}

func executionsIn(t *testing.T, db string) int {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var n int
	raw.QueryRow("SELECT count(*) FROM ff_exec_core").Scan(&n)
	return n
}

// Destructive commands refuse while serve has the file, naming its pid,
// command and address, and change nothing; after serve stops they work.
func TestDestructiveCommandsRefuseWhileServing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "ff.db")
	p := startReadyServe(t, db)
	if code, body := p.post("/v1/executions", createBody("{fp:1}:6f1c2d3e-4b5a-4697-8877-665544332211")); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	snap := filepath.Join(dir, "snap.db")
	if _, e, code := runBin(t, nil, "snapshot", "--db", db, snap); code != 0 { // not destructive: allowed
		t.Fatal(e)
	}
	pid := strconv.Itoa(p.ready.PID)
	addr := strings.TrimPrefix(p.ready.API, "http://")
	for _, args := range [][]string{
		{"migrate", "down", "--db", db}, {"migrate", "down-to", "13", "--db", db}, {"migrate", "redo", "--db", db},
		{"migrate", "reset", "--db", db}, {"reset", "--db", db}, {"restore", "--db", db, snap},
		{"snapshot", "--db", snap, db, "--force"}, // a snapshot written over the served file
	} {
		_, errOut, code := runBin(t, nil, args...)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		msg := lines[len(lines)-2]
		if code != exitBusy || !strings.Contains(msg, "ffsqlite serve (pid "+pid+", "+addr+")") ||
			!strings.HasPrefix(lines[len(lines)-1], "Try: stop ffsqlite serve") || !strings.Contains(lines[len(lines)-1], "kill "+pid) {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	if v := versionOf(t, db); v != 22 {
		t.Fatalf("version %d after refused rollbacks", v)
	}
	if n := executionsIn(t, db); n != 1 {
		t.Fatalf("%d executions after refused resets", n)
	}
	// Non-destructive commands still run beside serve.
	for _, args := range [][]string{{"migrate", "up"}, {"migrate", "status"}, {"inspect"}} {
		if _, e, code := runBin(t, nil, append(args, "--db", db)...); code != 0 {
			t.Errorf("%v beside serve: %s", args, e)
		}
	}
	if code := p.stop(); code != 0 {
		t.Fatalf("serve exit %d", code)
	}
	if _, e, code := runBin(t, nil, "migrate", "down", "--db", db); code != 0 {
		t.Fatalf("down after serve stopped: %s", e)
	}
}

// scan holds the lock too; a killed serve leaves none behind.
func TestProcessLockScanAndKill(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "ff.db")
	runBin(t, nil, "init", "--db", db)
	scan := binCmd(t, nil, "scan", "--db", db, "--log-level", "debug")
	stderr, _ := scan.StderrPipe()
	if err := scan.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { scan.Process.Kill(); scan.Wait() })
	ticking := waitLine(t, stderr, "reconciler") // registered before its first tick
	awaitLine(t, ticking, "a scan tick")
	_, errOut, code := runBin(t, nil, "migrate", "down", "--db", db)
	if code != exitBusy || !strings.Contains(errOut, fmt.Sprintf("ffsqlite scan (pid %d)", scan.Process.Pid)) {
		t.Fatalf("down beside scan: %d %q", code, errOut)
	}
	scan.Process.Kill()
	scan.Wait()

	p := startReadyServe(t, db)
	p.cmd.Process.Kill() // SIGKILL: no clean-up runs, the kernel drops the flock
	<-p.done
	if _, e, code := runBin(t, nil, "migrate", "down", "--db", db); code != 0 {
		t.Fatalf("down after serve was killed: %d %s", code, e)
	}
	if v := versionOf(t, db); v != 21 {
		t.Fatalf("version %d", v)
	}
}

// A second serve of one file refuses by default, naming the first one's
// pid and address; --allow-second-process starts it.
func TestSecondServeRefusedUnlessAllowed(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "ff.db")
	first := startReadyServe(t, db)
	_, errOut, code := runBinWithin(t, 30*time.Second, "serve", "--listen", "127.0.0.1:0", "--db", db)
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	want := fmt.Sprintf("is already served by ffsqlite serve (pid %d, %s)", first.ready.PID, strings.TrimPrefix(first.ready.API, "http://"))
	if code != exitBusy || !strings.Contains(lines[len(lines)-2], want) || !strings.Contains(lines[len(lines)-1], first.ready.API) ||
		!strings.Contains(lines[len(lines)-1], "--allow-second-process") {
		t.Fatalf("second serve: exit %d, stderr %q", code, errOut)
	}
	second := startReadyServe(t, db, "--allow-second-process")
	if second.ready.PID == first.ready.PID {
		t.Fatal("same pid")
	}
	// Both hold the lock: a rollback names both.
	_, errOut, code = runBin(t, nil, "migrate", "down", "--db", db)
	if code != exitBusy || !strings.Contains(errOut, strconv.Itoa(first.ready.PID)) || !strings.Contains(errOut, strconv.Itoa(second.ready.PID)) {
		t.Fatalf("down beside two serves: %d %q", code, errOut)
	}
	second.stop()
	first.stop()
}

// runBinWithin is runBin for a command that must exit by itself: one still
// running after limit is killed and fails the test (a serve that should
// have refused would otherwise run forever).
func runBinWithin(t *testing.T, limit time.Duration, args ...string) (string, string, int) {
	t.Helper()
	cmd := binCmd(t, nil, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), errb.String(), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), 0
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v still running after %v:\n%s", args, limit, errb.String())
	}
	return "", "", 0
}
