package dbops_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/leakcheck"
)

func TestMain(m *testing.M) {
	os.Setenv(backend.DevModeEnv, "1")
	code := leakcheck.Run(m)
	if snapBench.path != "" && os.Getenv(snapshotBenchDBEnv) == "" {
		os.RemoveAll(filepath.Dir(snapBench.path)) // the generated benchmark database
	}
	os.Exit(code)
}
