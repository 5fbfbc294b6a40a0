// Package leakcheck fails a test binary that leaves goroutines running
// after its tests: every package whose code or tests start goroutines calls
// Main (or Run) from its TestMain. It holds the one list of third-party
// background goroutines the check ignores, each with its reason. It is
// test-only; nothing in production imports it.
package leakcheck

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// ignored are goroutines the check tolerates. Each is a long-lived
// background goroutine of a library that is not ours to stop; anything of
// ffsqlite's own (subscriptions, scanners, the checkpointer, group commit,
// servers) must be gone when the tests end.
var ignored = []goleak.Option{}

// Options returns the goleak options of the shared ignore list, for
// tests that call goleak.VerifyNone themselves.
func Options() []goleak.Option { return append([]goleak.Option(nil), ignored...) }

// Run runs the tests and then checks for leaked goroutines; it returns the
// exit code (non-zero when a test failed or a goroutine leaked). Use it
// when TestMain has clean-up to do after the tests.
func Run(m *testing.M) int {
	code := m.Run()
	if code != 0 {
		return code
	}
	if err := goleak.Find(ignored...); err != nil {
		fmt.Fprintf(os.Stderr, "goleak: goroutines leaked by the tests: %v\n", err)
		return 1
	}
	return 0
}

// Main runs the tests with the leak check and exits with their code.
func Main(m *testing.M) { os.Exit(Run(m)) }
