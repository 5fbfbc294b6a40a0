package writer

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// hotInsert marks qInsert hot.
func hotInsert(q string) bool { return q == qInsert }

// TestSessionHoldsPreparedControl: with Hold the writer's transactions run
// on one held connection whose BEGIN IMMEDIATE and COMMIT are prepared
// once and reused, and so are the hot statements; statements that are
// not hot are not cached. Without Hold (memory) nothing is held.
func TestSessionHoldsPreparedControl(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{hot: hotInsert})
	if err := e.w.Write(bg, func(ctx context.Context, tx *Tx) error {
		if err := insert(100)(ctx, tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE t SET v = 'y' WHERE id = 100`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	held := e.w.sessions.held
	if held == nil {
		t.Fatal("no held session after a write")
	}
	begin, commit, ins := held.control[qBegin], held.control[qCommit], held.stmts[qInsert]
	if begin == nil || commit == nil || ins == nil {
		t.Fatalf("BEGIN/COMMIT/hot insert not prepared: %v %v", held.control, held.stmts)
	}
	for i := range 5 {
		if err := e.w.Write(bg, insert(i)); err != nil {
			t.Fatal(err)
		}
	}
	if e.w.sessions.held != held || held.control[qBegin] != begin || held.control[qCommit] != commit || held.stmts[qInsert] != ins {
		t.Fatal("the session or its prepared statements changed between writes")
	}
	if len(held.stmts) != 1 {
		t.Errorf("cached statements that are not hot: %v", held.stmts)
	}
	if st := e.db.Stats(); st.InUse != 1 {
		t.Errorf("%d writer connections in use between writes, want the held one", st.InUse)
	}

	m := newEnv(t, opts{memory: true, hot: hotInsert})
	if err := m.w.Write(bg, insert(1)); err != nil {
		t.Fatal(err)
	}
	if m.w.sessions.held != nil {
		t.Error("a memory writer held its only connection after a write")
	}
}

// TestWriteAfterClose: once the writer is closed, a write fails at once
// instead of waiting for a connection, with a held connection or not.
func TestWriteAfterClose(t *testing.T) {
	t.Parallel()
	for _, memory := range []bool{false, true} {
		e := newEnv(t, opts{memory: memory})
		if err := e.w.Write(bg, insert(1)); err != nil {
			t.Fatal(err)
		}
		if err := e.w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := e.w.Write(bg, insert(2)); !errors.Is(err, ErrClosed) {
			t.Fatalf("memory=%v: write after close: %v, want ErrClosed", memory, err)
		}
		if e.w.sessions.held != nil {
			t.Fatal("a closed writer still holds a connection")
		}
		if st := e.db.Stats(); st.InUse != 0 {
			t.Fatalf("memory=%v: %d connections in use after close", memory, st.InUse)
		}
	}
}

// TestPreparedStatementChecksContext: a prepared statement does not start
// once the caller's context has ended; the transaction then rolls back.
func TestPreparedStatementChecksContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{hot: hotInsert})
	if err := e.w.Write(bg, insert(1)); err != nil { // prepares the hot insert
		t.Fatal(err)
	}
	if e.w.sessions.held.stmts[qInsert] == nil {
		t.Fatal("hot insert not prepared")
	}
	ctx, cancel := context.WithCancel(bg)
	err := e.w.Write(ctx, func(ctx context.Context, tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (7, 'cold')`); err != nil {
			return err
		}
		cancel()
		_, err := tx.ExecContext(ctx, qInsert, 8) // prepared on the held session
		if !errors.Is(err, context.Canceled) {
			t.Errorf("prepared statement after cancel: err = %v, want context.Canceled", err)
		}
		var n int
		if err := tx.QueryRowContext(ctx, qInsert+" RETURNING id", 9).Scan(&n); !errors.Is(err, context.Canceled) {
			t.Errorf("unprepared query after cancel: err = %v, want context.Canceled", err)
		}
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if got := e.ids(); got != "[1]" {
		t.Fatalf("committed ids %s, want only the first write's", got)
	}
}

// TestCloseDuringWrites: closing the writer while eight writers are
// running returns cleanly, every writer stops on an error instead of
// hanging, and nothing panics (also under -race).
func TestCloseDuringWrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	var wg sync.WaitGroup
	var committed atomic.Int64
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if err := e.w.Write(bg, insert(1000*w+i+1)); err != nil {
					return
				}
				committed.Add(1)
			}
		}()
	}
	for committed.Load() < 50 {
		runtime.Gosched()
	}
	if err := e.w.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	wg.Wait()
}
