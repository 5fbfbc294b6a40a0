package backend

import (
	"database/sql"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend/internal/writer"
)

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
		b := gcOpen(t, Options{})
		if got := autocheckpoint(b); got != writer.BackstopPages {
			t.Errorf("writer wal_autocheckpoint = %d, want the %d-page backstop", got, writer.BackstopPages)
		}
		if !b.in.wr.Stats().Checkpointer {
			t.Error("no background checkpointer on a file database")
		}
	})
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		b := gcOpen(t, Options{CheckpointEvery: -1})
		if got := autocheckpoint(b); got != 1000 {
			t.Errorf("writer wal_autocheckpoint = %d, want SQLite's 1000", got)
		}
		for i := range 20 {
			if err := b.write(gcCtx, "insert", gcInsert(i)); err != nil {
				t.Fatal(err)
			}
		}
		if n := mainFileRows(t, b.Path()); n != 0 {
			t.Errorf("database file holds %d rows without a checkpoint", n)
		}
		if b.in.wr.Stats().Checkpointer || b.CheckpointStats() != (CheckpointStats{}) {
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
		if b.in.wr.Stats().Checkpointer || b.CheckpointStats() != (CheckpointStats{}) {
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
