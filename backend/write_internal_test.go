package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend/internal/writer"
)

// Tests of the engine's write entry point (write.go) and its wiring to the
// writer (backend/internal/writer, which has the group commit tests), on a
// plain table of their own: no migrations needed. FF_DEV_MODE comes from
// TestMain (open_test.go).

var gcCtx = context.Background()

// gcOpen opens a fresh backend (a file, or a memory URI when path is
// empty and memory is set) with table t(id, v).
func gcOpen(t *testing.T, o Options) *Backend {
	t.Helper()
	return gcOpenPath(t, filepath.Join(t.TempDir(), "gc.db"), o)
}

func gcOpenPath(t *testing.T, path string, o Options) *Backend {
	t.Helper()
	o.Logger = slog.New(slog.DiscardHandler)
	b, err := Open(gcCtx, path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(gcCtx) })
	if err := b.write(gcCtx, "setup", func(w *wtx) error {
		_, err := w.exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return b
}

// gcInsert returns a write function inserting the given ids.
func gcInsert(ids ...int) func(w *wtx) error {
	return func(w *wtx) error {
		for _, id := range ids {
			if _, err := w.exec(`INSERT INTO t (id, v) VALUES (?, 'x')`, id); err != nil {
				return err
			}
		}
		return nil
	}
}

// gcIDs returns the committed ids, read through the reader pool.
func gcIDs(t *testing.T, b *Backend) string {
	t.Helper()
	rows, err := b.ReaderDB().QueryContext(gcCtx, `SELECT id FROM t ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return fmt.Sprint(ids)
}

func wantCode(t *testing.T, err error, k Kind, code string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Kind != k || e.Code != code {
		t.Fatalf("err = %v, want kind %s code %q", err, k, code)
	}
}

// A write started from inside a write function fails at once with code
// nested_write, whether it carries the function's context or a fresh one,
// and the backend goes on: a later write and Close do not hang.
func TestNestedWriteFails(t *testing.T) {
	t.Parallel()
	for _, fresh := range []bool{false, true} {
		t.Run(fmt.Sprintf("fresh=%v", fresh), func(t *testing.T) {
			t.Parallel()
			b := gcOpen(t, Options{})
			done := make(chan error, 1)
			go func() {
				done <- b.write(gcCtx, "outer", func(w *wtx) error {
					ctx := w.ctx
					if fresh {
						ctx = context.Background()
					}
					return b.write(ctx, "inner", gcInsert(1))
				})
			}()
			select {
			case err := <-done:
				wantCode(t, err, KindTransport, "nested_write")
				if !errors.Is(err, writer.ErrNested) {
					t.Fatalf("err = %v, want it to wrap the writer's ErrNested", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("nested write hangs")
			}
			if err := b.write(gcCtx, "after", gcInsert(2)); err != nil {
				t.Fatal(err)
			}
			if got := gcIDs(t, b); got != "[2]" {
				t.Fatalf("committed ids %s, want [2]", got)
			}
		})
	}
}

// A write function that runs transaction control gets code
// transaction_control, and nothing of it commits.
func TestTransactionControlRefused(t *testing.T) {
	t.Parallel()
	b := gcOpen(t, Options{})
	err := b.write(gcCtx, "commit", func(w *wtx) error {
		if err := gcInsert(1)(w); err != nil {
			return err
		}
		_, err := w.exec(`INSERT INTO t (id, v) VALUES (2, 'x'); COMMIT`)
		return err
	})
	wantCode(t, err, KindTransport, "transaction_control")
	var tc *writer.TxControlError
	if !errors.As(err, &tc) || tc.Keyword != "COMMIT" {
		t.Fatalf("err = %v, want a TxControlError for COMMIT", err)
	}
	if got := gcIDs(t, b); got != "[]" {
		t.Fatalf("committed ids %s, want none", got)
	}
}

// A panicking write function gives its caller a *WritePanicError.
func TestWritePanicError(t *testing.T) {
	t.Parallel()
	b := gcOpen(t, Options{})
	err := b.write(gcCtx, "boom", func(w *wtx) error { panic("bug") })
	var wp *WritePanicError
	if !errors.As(err, &wp) || wp.Value != "bug" {
		t.Fatalf("err = %v, want a *WritePanicError", err)
	}
	wantCode(t, err, KindTransport, "sqlite")
}

// Options.ReadOnly on a memory database refuses writes like on a file:
// code read_only wrapping ErrReadOnly, no writer pool, and the one
// connection is query_only.
func TestReadOnlyMemoryRefusesWrites(t *testing.T) {
	t.Parallel()
	uri := fmt.Sprintf("file:ro-%s?mode=memory&cache=shared", t.Name())
	b, err := Open(gcCtx, uri, Options{ReadOnly: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(gcCtx)
	err = b.write(gcCtx, "seed", func(w *wtx) error {
		_, err := w.exec(`CREATE TABLE t (id INTEGER PRIMARY KEY)`)
		return err
	})
	wantCode(t, err, KindUnavailable, "read_only")
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("err = %v, want ErrReadOnly", err)
	}
	if !b.ReadOnly() || b.WriterDB() != nil {
		t.Fatalf("ReadOnly() = %v, has a writer pool = %v; want a read-only backend without one", b.ReadOnly(), b.WriterDB() != nil)
	}
	if _, err := b.SeedWaitpointSecret(gcCtx, DefaultKid, []byte("secret")); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("SeedWaitpointSecret: %v, want ErrReadOnly", err)
	}
	if err := b.PrepareWrite(gcCtx); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("PrepareWrite: %v, want ErrReadOnly", err)
	}
	if _, err := b.ReaderDB().ExecContext(gcCtx, `CREATE TABLE x (a)`); err == nil {
		t.Fatal("the read-only memory connection ran CREATE TABLE")
	}
	if st := b.GroupCommitStats(); st != (GroupCommitStats{}) {
		t.Fatalf("group commit stats %+v on a read-only backend", st)
	}
}

// A file backend's writer holds one writer connection between writes; a
// memory backend's gives its only connection back after each write, so
// reads can use it.
func TestWriterConnections(t *testing.T) {
	t.Parallel()
	f := gcOpen(t, Options{})
	if n := f.WriterDB().Stats().InUse; n != 1 {
		t.Errorf("file: %d writer connections in use between writes, want the held one", n)
	}
	m := gcOpenPath(t, fmt.Sprintf("file:conns-%s?mode=memory&cache=shared", t.Name()), Options{})
	if n := m.WriterDB().Stats().InUse; n != 0 {
		t.Errorf("memory: %d connections in use between writes, want none", n)
	}
	if got := gcIDs(t, m); got != "[]" {
		t.Errorf("memory read after a write: %s", got)
	}
}

// Once the backend is closed, a write fails at once.
func TestWriteAfterClose(t *testing.T) {
	t.Parallel()
	for _, memory := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "closed.db")
		if memory {
			path = fmt.Sprintf("file:closed-%s?mode=memory&cache=shared", t.Name())
		}
		b := gcOpenPath(t, path, Options{})
		if err := b.Close(gcCtx); err != nil {
			t.Fatal(err)
		}
		err := b.write(gcCtx, "late", gcInsert(1))
		wantCode(t, err, KindTransport, "sqlite")
		if !errors.Is(err, writer.ErrClosed) {
			t.Fatalf("memory=%v: write after close: %v, want the writer's ErrClosed", memory, err)
		}
	}
}
