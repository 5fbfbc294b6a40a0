package backend_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"
	"time"

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
		t.Parallel()
		path := filepath.Join(t.TempDir(), "ff.db")
		b := testdb.OpenPath(t, path, func(o *backend.Options) { o.CheckpointEvery = every })
		if got := autocheckpoint(b); got != 10_000 {
			t.Errorf("writer wal_autocheckpoint = %d, want the 10000-page backstop", got)
		}
		// Four writers, so some commits carry several writes (group commit).
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range creates / 4 {
					if _, err := b.CreateExecution(ctx, engArgs()); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		// The 20 writes pass a multiple of 4 with their last commit, which
		// requests a checkpoint after it, so the file catches up without
		// any commit checkpointing: wait for it (a background goroutine,
		// no clock to inject).
		deadline := time.Now().Add(30 * time.Second)
		for mainFileExecutions(t, path) != creates {
			if time.Now().After(deadline) {
				t.Fatalf("database file holds %d executions, want %d; stats %+v",
					mainFileExecutions(t, path), creates, b.CheckpointStats())
			}
			time.Sleep(5 * time.Millisecond)
		}
		if st := b.CheckpointStats(); st.Runs < 1 || st.Failures != 0 {
			t.Errorf("stats %+v, want runs and no failures", st)
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
