// Package writer runs the engine's write transactions on SQLite: one
// writer connection, concurrent writes group-committed, and WAL
// checkpoints beside it. It knows nothing of the engine's schema.
//
// The contract is Writer.Write: run a function in a write transaction
// (inside a savepoint of its own when the transaction is shared with
// other callers' functions), commit, then run the function's AfterCommit
// hooks. A busy or locked error reruns the function from scratch
// (retry.Serializable); a transaction lost to another function's failure
// reruns the functions it carried. A function may not start another write
// (ErrNested) nor run transaction control statements (TxControlError); a
// panic in a function is returned as a *PanicError. Stats returns the
// group commit and checkpoint counters; Close waits for the transaction in
// progress and closes the connections the writer holds.
//
// Files: session.go holds the writer connection and its prepared
// statements, groupcommit.go the request queue and the batch runner, tx.go
// the transaction handed to functions, txcontrol.go the statement check,
// nested.go the nested-write check, checkpoint.go the checkpointer.
package writer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ffsqlite/ffsqlite/retry"
)

// Func is a write transaction's function. It runs with the caller's
// context and may run again from scratch (busy retry, lost transaction),
// so it must set its results afresh on every call.
type Func func(ctx context.Context, tx *Tx) error

// Config sets up a Writer.
type Config struct {
	// DB is the pool the writer's transactions run on; the writer takes
	// one connection of it for each transaction, or, with Hold, one for
	// its whole life.
	DB *sql.DB
	// Hold keeps one connection of DB and the statements prepared on it
	// (file databases). Without it each transaction borrows a connection
	// and nothing is prepared (a memory database's only connection, which
	// reads need between writes).
	Hold bool
	// Hot reports the statements worth preparing once on the held
	// connection (the engine's hot write paths); nil prepares none. The
	// writer's own BEGIN, COMMIT and savepoint statements are always
	// prepared on a held connection.
	Hot func(query string) bool
	// Checkpoint, when set, is a one-connection pool on the same database
	// on which a PASSIVE WAL checkpoint runs every CheckpointEvery (at
	// least 1) committed writes (checkpoint.go). The writer closes it.
	Checkpoint      *sql.DB
	CheckpointEvery int
	// Logger receives the checkpointer's debug logs; nil discards them.
	Logger *slog.Logger
	// Setup, when set, prepares a connection before the writer's first
	// transaction on it: per-connection state such as TEMP tables, which
	// exist only on the connection that made them. It runs once on a held
	// connection when the session opens, and on a borrowed one whenever
	// the pool hands out a connection other than the last one set up (a
	// replaced connection). It must be idempotent (CREATE … IF NOT
	// EXISTS) and must not leave a transaction open; an error fails the
	// write that needed the connection, and the next write tries again.
	Setup func(ctx context.Context, conn *sql.Conn) error
}

// Writer is the engine's writer: the group commit queue over one writer
// session, and the checkpointer.
type Writer struct {
	sessions sessions
	gc       groupCommit
	ckpt     *checkpointer // nil: no background checkpoints
	// refuse answers refused QueryRowContext calls (tx.go), opened on the
	// first. Write functions run under sessions.mu, which guards it.
	refuse *sql.DB
}

// New returns a writer on cfg's pools and starts its checkpointer, if any.
// It runs no statement.
func New(cfg Config) *Writer {
	w := &Writer{sessions: sessions{db: cfg.DB, hold: cfg.Hold, hot: cfg.Hot, setup: cfg.Setup}}
	if cfg.Checkpoint != nil {
		logger := cfg.Logger
		if logger == nil {
			logger = slog.New(slog.DiscardHandler)
		}
		w.ckpt = startCheckpointer(cfg.Checkpoint, int64(max(cfg.CheckpointEvery, 1)), logger)
		w.gc.onCommit = w.ckpt.committed
	}
	return w
}

// Errors a write can return besides the database's own and its function's.
var (
	// ErrClosed is returned by writes that start after Close.
	ErrClosed = errors.New("backend is closed")
	// ErrNested is returned by a write started from inside a write
	// function, which would otherwise wait for its own transaction
	// forever (nested.go).
	ErrNested = errors.New("write transaction started inside another write transaction")
)

// PanicError is returned to a caller whose write function panicked. The
// panic is recovered where the function runs (often another caller's
// goroutine, the batch leader), its transaction or savepoint is rolled
// back and the group goes on, so one bug can neither leave the writer
// locked nor stall every later write.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("panic in write transaction: %v", e.Value)
}

// Write runs fn in a write transaction and commits it, then runs the
// AfterCommit hooks fn recorded. Concurrent calls are group-committed
// (groupcommit.go). A busy or locked error anywhere in the transaction
// reruns fn through retry.Serializable. It returns once the transaction
// that ran fn has committed or failed, even if ctx ends meanwhile; fn does
// not start once ctx has ended.
func (w *Writer) Write(ctx context.Context, fn Func) error {
	if w.gc.running.Load() && insideWriteFunc() {
		return ErrNested
	}
	r := &request{ctx: ctx, fn: fn}
	err := retry.Serializable(ctx, func(context.Context) error {
		return w.gc.submit(w, r)
	})
	if err != nil {
		return err
	}
	for _, f := range r.after {
		f()
	}
	return nil
}

// Stats are the writer's counters.
type Stats struct {
	// Batches is the number of write transactions run, Grouped how many of
	// them carried more than one request, MaxBatch the most requests one
	// transaction carried.
	Batches, Grouped, MaxBatch int64
	// Checkpointer reports whether background checkpoints run;
	// CheckpointRuns counts the checkpoints run, CheckpointFailures those
	// that returned an error.
	Checkpointer                       bool
	CheckpointRuns, CheckpointFailures int64
}

// Stats returns the writer's counters.
func (w *Writer) Stats() Stats {
	g := &w.gc
	st := Stats{Batches: g.batches.Load(), Grouped: g.grouped.Load(), MaxBatch: g.maxSize.Load()}
	if c := w.ckpt; c != nil {
		st.Checkpointer = true
		st.CheckpointRuns, st.CheckpointFailures = c.runs.Load(), c.failures.Load()
	}
	return st
}

// Close waits for the transaction in progress, if any, closes the held
// connection and its statements and stops the checkpointer. Later writes
// fail with ErrClosed. It does not close Config.DB.
func (w *Writer) Close() error {
	errs := []error{w.sessions.close()} // no function runs from here on
	if w.ckpt != nil {
		errs = append(errs, w.ckpt.close())
	}
	if w.refuse != nil {
		errs = append(errs, w.refuse.Close())
	}
	return errors.Join(errs...)
}
