package backend

import (
	"database/sql"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestBackgroundCheckpointCatchesUp: with the background checkpointer, the
// database file receives the committed rows through its checkpoints (the
// writer's own automatic checkpoint is far away at 10,000 pages). The test
// waits on the checkpointer's hook, not on a clock.
func TestBackgroundCheckpointCatchesUp(t *testing.T) {
	t.Parallel()
	const every = 3
	b := gcOpen(t, Options{CheckpointEvery: every}) // 1 write: CREATE TABLE
	ran := make(chan struct{}, 64)
	b.in.ckpt.hooks.ran = func() { ran <- struct{}{} }

	// 20 more writes from four writers, so some commits carry several
	// (group commit). The 21st write in all passes a multiple of 3,
	// whichever commit carries it, so a checkpoint runs after the last
	// commit.
	const writers, each = 4, 5
	const inserts = writers * each
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := b.WriteTx(gcCtx, "insert", gcInsert(100*w+i)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	safety := time.After(time.Minute) // only if the checkpointer never runs
	for mainFileRows(t, b.Path()) != inserts {
		select {
		case <-ran:
		case <-safety:
			t.Fatalf("database file holds %d rows after the checkpoints, want %d; stats %+v",
				mainFileRows(t, b.Path()), inserts, b.CheckpointStats())
		}
	}
	if st := b.CheckpointStats(); st.Runs < 1 || st.Failures != 0 {
		t.Errorf("stats %+v, want runs and no failures", st)
	}
}

// TestCheckpointerSettings: with the background checkpointer the writer's
// own automatic checkpoint is only a backstop; turned off, or on a memory
// database, there is no checkpointer and SQLite's automatic checkpoint
// stays (nothing reaches the file below its 1,000 pages).
func TestCheckpointerSettings(t *testing.T) {
	t.Parallel()
	autocheckpoint := func(b *Backend) int {
		t.Helper()
		var n int
		if err := b.WriterDB().QueryRowContext(gcCtx, "PRAGMA wal_autocheckpoint").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	t.Run("on", func(t *testing.T) {
		t.Parallel()
		if got := autocheckpoint(gcOpen(t, Options{})); got != checkpointBackstopPages {
			t.Errorf("writer wal_autocheckpoint = %d, want the %d-page backstop", got, checkpointBackstopPages)
		}
	})
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		b := gcOpen(t, Options{CheckpointEvery: -1})
		if got := autocheckpoint(b); got != 1000 {
			t.Errorf("writer wal_autocheckpoint = %d, want SQLite's 1000", got)
		}
		for i := range 20 {
			if err := b.WriteTx(gcCtx, "insert", gcInsert(i)); err != nil {
				t.Fatal(err)
			}
		}
		if n := mainFileRows(t, b.Path()); n != 0 {
			t.Errorf("database file holds %d rows without a checkpoint", n)
		}
		if b.in.ckpt != nil || b.CheckpointStats() != (CheckpointStats{}) {
			t.Errorf("a checkpointer runs although it is off: %+v", b.CheckpointStats())
		}
	})
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		b, err := Open(gcCtx, "file:ckpt-mem?mode=memory&cache=shared", Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close(gcCtx)
		if b.in.ckpt != nil || b.CheckpointStats() != (CheckpointStats{}) {
			t.Errorf("a checkpointer runs on a memory database: %+v", b.CheckpointStats())
		}
	})
}

// mainFileRows counts table t's rows in the database file alone, ignoring
// the WAL (immutable=1 reads the file as it is): 0 while not even the
// table has reached the file.
func mainFileRows(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(path)+"?mode=ro&immutable=1")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
		return 0 // no such table yet
	}
	return n
}
