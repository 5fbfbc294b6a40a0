package backend

import (
	"context"
	"database/sql"
	"errors"

	"github.com/ffsqlite/ffsqlite/retry"
)

// ErrReadOnly is returned by write operations on a backend opened with
// Options.ReadOnly.
var ErrReadOnly = errors.New("backend is open read-only")

// writeTx runs fn in a BEGIN IMMEDIATE transaction on the writer
// connection and commits it; a busy or locked error anywhere in it reruns
// fn through retry.Serializable. Concurrent calls are group-committed
// (groupcommit.go): fn may share its transaction with other callers' work,
// inside a savepoint of its own, so fn must not call writeTx itself (that
// would wait for its own batch; such a call fails with code
// "nested_write"). After the transaction has committed, the
// afterCommit hooks recorded on the txn run (wake-ups are only sent once
// the data is visible).
func (b *Backend) writeTx(ctx context.Context, op string, fn func(ctx context.Context, tx *Txn) error) error {
	if b.in.writer == nil {
		return &Error{Kind: KindUnavailable, Op: op, Code: "read_only", Msg: ErrReadOnly.Error(), Err: ErrReadOnly}
	}
	if isInWrite(ctx) {
		return &Error{Kind: KindTransport, Op: op, Code: "nested_write", Msg: errNestedWrite.Error(), Err: errNestedWrite}
	}
	if err := b.PrepareWrite(ctx); err != nil {
		return transport(op, err)
	}
	req := &writeReq{ctx: ctx, fn: fn}
	err := retry.Serializable(ctx, func(context.Context) error {
		return b.in.gc.submit(&b.in.sessions, req)
	})
	if err != nil {
		return transport(op, err)
	}
	for _, f := range req.after {
		f()
	}
	return nil
}

// Txn is a write transaction in progress on the writer connection. Its
// statements run inside the transaction; the engine's hot statements run
// prepared (session.go).
type Txn struct {
	s     *session
	after []func()
}

// ExecContext runs a statement that returns no rows.
func (t *Txn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.s.exec(ctx, query, args...)
}

// QueryContext runs a query that returns rows.
func (t *Txn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.s.query(ctx, query, args...)
}

// PrepareContext prepares a statement on the transaction's connection, for
// a function that runs one statement many times; close it before the
// function returns.
func (t *Txn) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return t.s.conn.PrepareContext(ctx, query)
}

// QueryRowContext runs a query that returns at most one row.
func (t *Txn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.s.queryRow(ctx, query, args...)
}

// AfterCommit schedules f to run once the transaction has committed.
func (t *Txn) AfterCommit(f func()) { t.after = append(t.after, f) }

// WriteTx exposes the engine's write-transaction discipline to sibling
// packages (scanners, tests): BEGIN IMMEDIATE, busy retry, commit.
func (b *Backend) WriteTx(ctx context.Context, op string, fn func(ctx context.Context, tx *Txn) error) error {
	return b.writeTx(ctx, op, fn)
}
