package server_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/server"
)

// /healthz answers 503 with a reason once the schema is not the one the
// server started on, or the file is gone, replaced or overwritten; a
// healthy database (file or memory) answers 200.
func TestHealthzDetectsBrokenDatabase(t *testing.T) {
	t.Parallel()
	const ok = `{"status":"ok"}`
	unhealthy := func(t *testing.T, a *api, want string) {
		t.Helper()
		r := a.do("GET", "/healthz", nil)
		if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, want) ||
			!strings.HasSuffix(r.body, `","kind":"unavailable","retryable":false}`) {
			t.Fatalf("healthz: %d %s, want 503 naming %q", r.status, r.body, want)
		}
	}
	open := func(t *testing.T) (*api, string) {
		path := filepath.Join(t.TempDir(), "h.db")
		a := newAPI(t, testdb.OpenPath(t, path), server.Config{})
		a.do("GET", "/healthz", nil).wantJSON(t, http.StatusOK, ok)
		return a, path
	}
	t.Run("dropped table", func(t *testing.T) {
		t.Parallel()
		a, _ := open(t)
		if _, err := a.b.WriterDB().Exec("DROP TABLE ff_quota_policy"); err != nil {
			t.Fatal(err)
		}
		unhealthy(t, a, "database schema changed since the server started")
	})
	t.Run("another migration", func(t *testing.T) {
		t.Parallel()
		a, _ := open(t)
		if _, err := a.b.WriterDB().Exec("CREATE TABLE later_migration (x)"); err != nil {
			t.Fatal(err)
		}
		unhealthy(t, a, "restart ffsqlite serve")
	})
	t.Run("file removed", func(t *testing.T) {
		t.Parallel()
		a, path := open(t)
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		unhealthy(t, a, "database unreadable: open database file:")
	})
	t.Run("file replaced", func(t *testing.T) {
		t.Parallel()
		a, path := open(t)
		other := filepath.Join(filepath.Dir(path), "other.db")
		testdb.OpenPath(t, other)
		if err := os.Rename(other, path); err != nil {
			t.Fatal(err)
		}
		unhealthy(t, a, "was replaced since the server started")
	})
	t.Run("header overwritten", func(t *testing.T) {
		t.Parallel()
		a, path := open(t)
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte("garbage garbage!"), 0); err != nil {
			t.Fatal(err)
		}
		f.Close()
		unhealthy(t, a, "file header is no longer SQLite's")
	})
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		a := newAPI(t, testdb.OpenMemory(t), server.Config{})
		a.do("GET", "/healthz", nil).wantJSON(t, http.StatusOK, ok)
		a.create(0, nil) // writes do not change the schema
		a.do("GET", "/healthz", nil).wantJSON(t, http.StatusOK, ok)
	})
}
