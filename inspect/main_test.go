package inspect_test

import (
	"os"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
)

func TestMain(m *testing.M) {
	os.Setenv(backend.DevModeEnv, "1")
	code := m.Run()
	removeBenchDB()
	os.Exit(code)
}
