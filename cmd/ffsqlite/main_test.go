package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"testing"

	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// reexecEnv makes the test binary behave as the ffsqlite binary, so tests
// can run real processes (exit codes, stderr, signals, two processes on one
// file) without a separate go build.
const reexecEnv = "FFSQLITE_TEST_REEXEC"

func TestMain(m *testing.M) {
	if os.Getenv(reexecEnv) == "1" {
		main()
		return
	}
	testdb.Main(m)
}

// runCLI runs the command in-process and returns stdout, stderr and the
// exit code.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"ffsqlite"}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

// binCmd builds a real process running ffsqlite with args. env entries are
// added to a copy of the test's environment (FF_DEV_MODE=1 included unless
// overridden).
func binCmd(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(append(os.Environ(), reexecEnv+"=1", "NO_COLOR=1"), env...)
	return cmd
}

// runBin runs ffsqlite as a process and returns stdout, stderr and the
// exit code.
func runBin(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := binCmd(t, env, args...)
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

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
