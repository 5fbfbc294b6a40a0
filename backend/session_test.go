package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestSessionHoldsPreparedControl: on a file database the engine's write
// transactions run on one held connection whose BEGIN IMMEDIATE and COMMIT
// are prepared once and reused; statements that are not hot are not
// cached; a memory database borrows its only connection per transaction.
func TestSessionHoldsPreparedControl(t *testing.T) {
	t.Parallel()
	b := gcOpen(t, Options{})
	held := b.in.sessions.held
	if held == nil {
		t.Fatal("no held session after a write")
	}
	begin, commit := held.stmts[qBegin], held.stmts[qCommit]
	if begin == nil || commit == nil {
		t.Fatalf("BEGIN/COMMIT not prepared: %v", held.stmts)
	}
	for i := range 5 {
		if err := b.WriteTx(gcCtx, "insert", gcInsert(i)); err != nil {
			t.Fatal(err)
		}
	}
	if b.in.sessions.held != held || held.stmts[qBegin] != begin || held.stmts[qCommit] != commit {
		t.Fatal("the session or its prepared statements changed between writes")
	}
	for q := range held.stmts {
		if !preparedQueries[q] {
			t.Errorf("cached a statement that is not hot: %q", q)
		}
	}

	m, err := Open(gcCtx, fmt.Sprintf("file:sess-%s?mode=memory&cache=shared", t.Name()), Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(gcCtx)
	if err := m.WriteTx(gcCtx, "setup", func(ctx context.Context, tx *Txn) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if m.in.sessions.held != nil {
		t.Error("a memory database held its only connection after a write")
	}
}

// TestWriteAfterClose: once the backend is closed, a write fails at once
// instead of waiting for a connection.
func TestWriteAfterClose(t *testing.T) {
	t.Parallel()
	b := gcOpen(t, Options{})
	in := b.in
	if err := b.Close(gcCtx); err != nil {
		t.Fatal(err)
	}
	_, _, err := in.sessions.acquire(gcCtx)
	if !errors.Is(err, errSessionClosed) {
		t.Fatalf("acquire after close: %v", err)
	}
	if in.sessions.held != nil {
		t.Fatal("closed sessions still hold a connection")
	}
}

// TestPreparedStatementChecksContext: a prepared statement does not start
// once the caller's context has ended; the transaction then rolls back.
func TestPreparedStatementChecksContext(t *testing.T) {
	t.Parallel()
	b := gcOpen(t, Options{})
	// Prepare SAVEPOINT on the held session.
	if err := b.WriteTx(gcCtx, "prepare", func(ctx context.Context, tx *Txn) error {
		if _, err := tx.ExecContext(ctx, qSavepoint); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, qRelease)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if b.in.sessions.held.stmts[qSavepoint] == nil {
		t.Fatal("SAVEPOINT not prepared")
	}
	ctx, cancel := context.WithCancel(gcCtx)
	err := b.WriteTx(ctx, "cancelled", func(ctx context.Context, tx *Txn) error {
		if err := gcInsert(7)(ctx, tx); err != nil {
			return err
		}
		cancel()
		_, err := tx.ExecContext(ctx, qSavepoint) // prepared on the held session
		if !errors.Is(err, context.Canceled) {
			t.Errorf("prepared statement after cancel: err = %v, want context.Canceled", err)
		}
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if got := fmt.Sprint(gcIDs(t, b)); got != "[]" {
		t.Fatalf("committed ids %s, want none", got)
	}
}

// TestCloseDuringWrites: closing the backend while eight writers are
// running returns cleanly, every writer stops on an error instead of
// hanging, and nothing panics (also under -race).
func TestCloseDuringWrites(t *testing.T) {
	t.Parallel()
	b := gcOpen(t, Options{})
	var wg sync.WaitGroup
	var committed atomic.Int64
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if err := b.WriteTx(gcCtx, "insert", gcInsert(1000*w+i+1)); err != nil {
					return
				}
				committed.Add(1)
			}
		}()
	}
	for committed.Load() < 50 {
		runtime.Gosched()
	}
	if err := b.Close(gcCtx); err != nil {
		t.Fatalf("close: %v", err)
	}
	wg.Wait()
}
