package backend_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// mainFileExecutions counts ff_exec_core rows in the database file alone,
// ignoring the WAL (immutable=1 makes SQLite read the file as it is), so
// it sees only what a checkpoint has copied there: 0 while even the
// schema (migrations commit to the WAL too) has not reached the file.
func mainFileExecutions(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&immutable=1")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM sqlite_master WHERE name = 'ff_exec_core'").Scan(&n); err != nil || n == 0 {
		return 0
	}
	if err := db.QueryRow("SELECT count(*) FROM ff_exec_core").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBackgroundCheckpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	autocheckpoint := func(b *backend.Backend) int {
		t.Helper()
		var n int
		if err := b.WriterDB().QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const every, creates = 4, 20

	t.Run("on", func(t *testing.T) {
		// That the file catches up through the background checkpoints is
		// TestBackgroundCheckpointCatchesUp (internal: it waits on a hook).
		t.Parallel()
		b := testdb.Open(t, func(o *backend.Options) { o.CheckpointEvery = every })
		if got := autocheckpoint(b); got != 10_000 {
			t.Errorf("writer wal_autocheckpoint = %d, want the 10000-page backstop", got)
		}
	})

	t.Run("off", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "ff.db")
		b := testdb.OpenPath(t, path, func(o *backend.Options) { o.CheckpointEvery = -1 })
		if got := autocheckpoint(b); got != 1000 {
			t.Errorf("writer wal_autocheckpoint = %d, want SQLite's 1000", got)
		}
		for range creates {
			if _, err := b.CreateExecution(ctx, engArgs()); err != nil {
				t.Fatal(err)
			}
		}
		// Far below 1000 pages: nothing has reached the file.
		if n := mainFileExecutions(t, path); n != 0 {
			t.Errorf("database file holds %d executions without a checkpoint", n)
		}
		if st := b.CheckpointStats(); st != (backend.CheckpointStats{}) {
			t.Errorf("stats %+v with the checkpointer off", st)
		}
	})

	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		b := testdb.OpenMemory(t)
		if _, err := b.CreateExecution(ctx, engArgs()); err != nil {
			t.Fatal(err)
		}
		if st := b.CheckpointStats(); st != (backend.CheckpointStats{}) {
			t.Errorf("stats %+v on a memory database", st)
		}
	})
}
