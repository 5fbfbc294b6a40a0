package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// openPTY opens a pseudo-terminal and returns its terminal side (what a
// user's shell gives a command as stdin).
func openPTY(t *testing.T) *os.File {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ptmx.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlockpt: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ptmx.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("ptsname: %v", e)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pts.Close() })
	return pts
}

// On a terminal, reset asks for --yes and changes nothing without it.
func TestResetAsksForYesOnATerminal(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "ff.db")
	runBin(t, nil, "init", "--db", db)
	seed := filepath.Join(t.TempDir(), "seed.json")
	os.WriteFile(seed, []byte(`{"executions":[`+mustJSON(createBody("{fp:1}:6f1c2d3e-4b5a-4697-8877-665544332211"))+`]}`), 0o644)
	runBin(t, nil, "seed", "--db", db, seed)
	tty := openPTY(t)
	run := func(args ...string) (string, int) {
		cmd := binCmd(t, nil, args...)
		cmd.Stdin = tty
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(interface{ ExitCode() int }); ok {
			code = ee.ExitCode()
		}
		return string(out), code
	}
	out, code := run("reset", "--db", db)
	if code != exitUsage || !strings.Contains(out, "confirm with --yes") || !strings.Contains(out, "Try: ffsqlite reset --db "+db+" --yes") {
		t.Fatalf("reset on a terminal without --yes: %d %s", code, out)
	}
	if n := executionsIn(t, db); n != 1 {
		t.Fatalf("%d executions after the refused reset", n)
	}
	if out, code := run("reset", "--db", db, "--yes"); code != 0 || !strings.Contains(out, "deleted 2 rows") {
		t.Fatalf("reset --yes: %d %s", code, out)
	}
	if n := executionsIn(t, db); n != 0 {
		t.Fatalf("%d executions after reset --yes", n)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
