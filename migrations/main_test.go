package migrations

import (
	"testing"

	"github.com/ffsqlite/ffsqlite/internal/leakcheck"
)

// TestMain fails the suite when a test leaves goroutines running.
func TestMain(m *testing.M) { leakcheck.Main(m) }
