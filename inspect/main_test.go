package inspect_test

import (
	"os"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/leakcheck"
)

func TestMain(m *testing.M) {
	os.Setenv(backend.DevModeEnv, "1")
	code := leakcheck.Run(m)
	removeBenchDB()
	os.Exit(code)
}
