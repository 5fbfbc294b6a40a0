package writer

import (
	"database/sql"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestBackgroundCheckpointCatchesUp: with the background checkpointer, the
// database file receives the committed rows through its checkpoints (the
// writer's own automatic checkpoint is far away at BackstopPages). The
// test waits on the checkpointer's hook, not on a clock.
func TestBackgroundCheckpointCatchesUp(t *testing.T) {
	t.Parallel()
	const every = 3
	e := newEnv(t, opts{checkpointEvery: every})
	ran := make(chan struct{}, 64)
	e.w.ckpt.hooks.ran = func() { ran <- struct{}{} }

	// 21 writes from three writers, so some commits carry several (group
	// commit). The 21st write in all passes a multiple of 3, whichever
	// commit carries it, so a checkpoint runs after the last commit.
	const writers, each = 3, 7
	const inserts = writers * each
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := e.w.Write(bg, insert(100*w+i)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	safety := time.After(time.Minute) // only if the checkpointer never runs
	for mainFileRows(t, e.path) != inserts {
		select {
		case <-ran:
		case <-safety:
			t.Fatalf("database file holds %d rows after the checkpoints, want %d; stats %+v",
				mainFileRows(t, e.path), inserts, e.w.Stats())
		}
	}
	if st := e.w.Stats(); !st.Checkpointer || st.CheckpointRuns < 1 || st.CheckpointFailures != 0 {
		t.Errorf("stats %+v, want runs and no failures", st)
	}
}

// TestNoCheckpointer: without Config.Checkpoint nothing checkpoints beside
// the writer and the stats say so.
func TestNoCheckpointer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	for i := range 5 {
		if err := e.w.Write(bg, insert(i)); err != nil {
			t.Fatal(err)
		}
	}
	if st := e.w.Stats(); st.Checkpointer || st.CheckpointRuns != 0 || e.w.ckpt != nil {
		t.Errorf("stats %+v without a checkpointer", st)
	}
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
