package backend

import (
	"context"
	"database/sql"
	"errors"

	"github.com/ffsqlite/ffsqlite/backend/internal/writer"
)

// Engine writes. Every engine write goes through write, which runs its
// function in one transaction of the writer (backend/internal/writer: the
// held writer connection, group commit with a savepoint per function,
// busy retry, after-commit hooks, background checkpoints) and maps the
// writer's errors to engine errors. Engine code writes with the *wtx
// helpers below.

// ErrReadOnly is returned by write operations on a backend opened with
// Options.ReadOnly.
var ErrReadOnly = errors.New("backend is open read-only")

// Txn is a write transaction in progress on the writer connection, handed
// to a WriteTx function: ExecContext, QueryContext, QueryRowContext and
// PrepareContext run inside it (hot statements prepared once), AfterCommit
// schedules a hook for after the commit. Transaction control statements
// are refused (code transaction_control).
type Txn = writer.Tx

// WritePanicError is returned to a caller whose write function panicked:
// the panic was recovered where the function ran (often another caller's
// goroutine, the group commit leader), its work was rolled back and the
// writer went on.
type WritePanicError = writer.PanicError

// preparedQueries are the statements of the hot write paths (create,
// claim, renew, complete, fail), registered with hotStmt, which the
// writer prepares once on its held connection. It is filled while the
// package initializes and only read afterwards.
var preparedQueries = map[string]bool{}

// hotStmt registers q as a hot statement and returns it.
func hotStmt(q string) string {
	preparedQueries[q] = true
	return q
}

func isHot(q string) bool { return preparedQueries[q] }

// wtx is a write transaction with the engine's helpers: the caller's
// context, the clock read once per attempt, and outbox wake-ups scheduled
// once per outbox after commit.
type wtx struct {
	*Txn
	ctx    context.Context
	b      *Backend
	now    int64
	wakeup [outboxCount]bool
	// flows is the transaction's dependency cascade (flow_resolve.go).
	flows flowTx
}

func (w *wtx) exec(q string, args ...any) (sql.Result, error) {
	return w.ExecContext(w.ctx, q, args...)
}

func (w *wtx) queryRow(q string, args ...any) *sql.Row {
	return w.QueryRowContext(w.ctx, q, args...)
}

// affected runs an UPDATE/DELETE and returns the number of rows changed.
func (w *wtx) affected(q string, args ...any) (int64, error) {
	res, err := w.exec(q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// write runs fn in one engine write transaction and commits it: BEGIN
// IMMEDIATE on the writer connection, possibly shared with other callers'
// functions (each in a savepoint of its own), fn rerun from scratch on a
// busy or locked error, and the after-commit hooks fn recorded run once
// the data is visible. fn must not start another write (code
// "nested_write") nor run transaction control statements (code
// "transaction_control"). The clock is read once per attempt.
func (b *Backend) write(ctx context.Context, op string, fn func(w *wtx) error) error {
	wr := b.in.wr
	if wr == nil {
		return &Error{Kind: KindUnavailable, Op: op, Code: "read_only", Msg: ErrReadOnly.Error(), Err: ErrReadOnly}
	}
	if err := b.PrepareWrite(ctx); err != nil {
		return transport(op, err)
	}
	err := wr.Write(ctx, func(ctx context.Context, tx *writer.Tx) error {
		return fn(&wtx{Txn: tx, ctx: ctx, b: b, now: b.Now()})
	})
	var e *Error
	var tc *writer.TxControlError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e):
		return err // fn's own engine error, or a nested write's
	case errors.Is(err, writer.ErrNested):
		return &Error{Kind: KindTransport, Op: op, Code: "nested_write", Msg: writer.ErrNested.Error(), Err: err}
	case errors.As(err, &tc):
		return &Error{Kind: KindTransport, Op: op, Code: "transaction_control", Msg: tc.Error(), Err: err}
	}
	return transport(op, err)
}

// WriteTx runs fn as one engine write transaction, with write's rules
// (group commit, busy retry, after-commit hooks, no nested writes, no
// transaction control), for packages beside the engine that change rows
// themselves: dbops' reset. Engine code uses write.
func (b *Backend) WriteTx(ctx context.Context, op string, fn func(ctx context.Context, tx *Txn) error) error {
	return b.write(ctx, op, func(w *wtx) error { return fn(w.ctx, w.Txn) })
}

// GroupCommitStats are the writer's group commit counters.
type GroupCommitStats struct {
	// Batches is the number of write transactions run, Grouped how many of
	// them carried more than one request, MaxBatch the most requests one
	// transaction carried.
	Batches, Grouped, MaxBatch int64
}

// GroupCommitStats returns the group commit counters of the shared
// backend (zero when read-only).
func (b *Backend) GroupCommitStats() GroupCommitStats {
	if b.in.wr == nil {
		return GroupCommitStats{}
	}
	st := b.in.wr.Stats()
	return GroupCommitStats{Batches: st.Batches, Grouped: st.Grouped, MaxBatch: st.MaxBatch}
}

// CheckpointStats are the background checkpointer's counters.
type CheckpointStats struct {
	// Runs counts checkpoints run, Failures those that returned an error.
	Runs, Failures int64
}

// CheckpointStats returns the background checkpointer's counters (zero
// when it does not run: memory, read-only or non-WAL databases, or
// Options.CheckpointEvery < 0).
func (b *Backend) CheckpointStats() CheckpointStats {
	if b.in.wr == nil {
		return CheckpointStats{}
	}
	st := b.in.wr.Stats()
	return CheckpointStats{Runs: st.CheckpointRuns, Failures: st.CheckpointFailures}
}
