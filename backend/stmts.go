package backend

import (
	"context"
	"database/sql"
)

// preparedQueries are the statements the writer session prepares once
// and reuses (session.go): the transaction control statements and the
// statements of the hot write paths (create, claim, renew, complete,
// fail), registered with hotStmt. It is filled while the package
// initializes and only read afterwards.
var preparedQueries = map[string]bool{
	qBegin: true, qCommit: true, qRollback: true,
	qSavepoint: true, qRollbackTo: true, qRelease: true,
}

// hotStmt registers q as a hot statement and returns it.
func hotStmt(q string) string {
	preparedQueries[q] = true
	return q
}

// wtx is a write transaction with the engine's helpers: cached statements
// and outbox wake-ups scheduled once per outbox after commit.
type wtx struct {
	*Txn
	ctx    context.Context
	b      *Backend
	now    int64
	wakeup [outboxCount]bool
}

func (w *wtx) exec(q string, args ...any) (sql.Result, error) {
	return w.ExecContext(w.ctx, q, args...)
}

func (w *wtx) query(q string, args ...any) (*sql.Rows, error) {
	return w.QueryContext(w.ctx, q, args...)
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

// write runs fn in one engine write transaction (writeTx: BEGIN IMMEDIATE,
// busy retry, after-commit hooks). The clock is read once per attempt.
func (b *Backend) write(ctx context.Context, op string, fn func(w *wtx) error) error {
	return b.writeTx(ctx, op, func(ctx context.Context, tx *Txn) error {
		return fn(&wtx{Txn: tx, ctx: ctx, b: b, now: b.Now()})
	})
}
