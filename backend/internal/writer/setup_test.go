package writer

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"
	"testing"
)

// tempSetup returns a Config.Setup that creates a TEMP table (state that
// lives only on the connection that made it) and counts its runs.
func tempSetup(runs *atomic.Int64, fail *atomic.Bool) func(context.Context, *sql.Conn) error {
	return func(ctx context.Context, conn *sql.Conn) error {
		runs.Add(1)
		if fail != nil && fail.Load() {
			return errors.New("set-up refused")
		}
		_, err := conn.ExecContext(ctx, `CREATE TEMP TABLE IF NOT EXISTS conn_state (n INTEGER)`)
		return err
	}
}

// useTemp is a write function that needs the set-up's TEMP table.
func useTemp(ctx context.Context, tx *Tx) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO temp.conn_state VALUES (1)`)
	return err
}

// TestSetupPerConnection: Config.Setup runs once on the held connection
// and on a borrowed one, before the first transaction needs what it made;
// a borrowed connection that the pool replaces is set up again, and one
// that it hands out again is not.
func TestSetupPerConnection(t *testing.T) {
	t.Parallel()
	for _, memory := range []bool{false, true} {
		var runs atomic.Int64
		e := newEnv(t, opts{memory: memory})
		e.w.sessions.setup = tempSetup(&runs, nil)
		for range 5 {
			if err := e.w.Write(bg, useTemp); err != nil {
				t.Fatalf("memory=%v: %v", memory, err)
			}
		}
		if n := runs.Load(); n != 1 {
			t.Fatalf("memory=%v: set-up ran %d times over five writes on one connection, want 1", memory, n)
		}
	}

	// A pool that keeps no idle connection hands out a new one each time:
	// each is set up before its transaction.
	var runs atomic.Int64
	e := newEnv(t, opts{memory: true})
	e.w.sessions.setup = tempSetup(&runs, nil)
	e.db.SetMaxIdleConns(0)
	for range 3 {
		if err := e.w.Write(bg, useTemp); err != nil {
			t.Fatalf("replaced connection: %v", err)
		}
	}
	if n := runs.Load(); n != 3 {
		t.Fatalf("set-up ran %d times on three fresh connections, want 3", n)
	}
}

// TestSetupFailure: a failing set-up fails the write that needed the
// connection, without running its function, and the next write sets the
// connection up and runs.
func TestSetupFailure(t *testing.T) {
	t.Parallel()
	for _, memory := range []bool{false, true} {
		var (
			runs atomic.Int64
			fail atomic.Bool
		)
		fail.Store(true)
		e := newEnv(t, opts{memory: memory})
		e.w.sessions.setup = tempSetup(&runs, &fail)
		ran := false
		err := e.w.Write(bg, func(ctx context.Context, tx *Tx) error { ran = true; return nil })
		if err == nil || ran {
			t.Fatalf("memory=%v: write after a failed set-up: err %v, function ran %v", memory, err, ran)
		}
		fail.Store(false)
		if err := e.w.Write(bg, useTemp); err != nil {
			t.Fatalf("memory=%v: write after the set-up recovered: %v", memory, err)
		}
		if n := runs.Load(); n != 2 {
			t.Fatalf("memory=%v: set-up ran %d times, want 2 (failed, then done)", memory, n)
		}
	}
}
