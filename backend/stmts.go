package backend

import (
	"context"
	"database/sql"
)

// hotQueries are the statements of the hot write paths (create, claim,
// renew, complete, fail). They are prepared once on the writer connection
// and bound to each transaction with Tx.StmtContext, so the writer does
// not re-parse them on every call.
var hotQueries []string

// hotStmt registers q as a hot statement and returns it.
func hotStmt(q string) string {
	hotQueries = append(hotQueries, q)
	return q
}

// warmStmts prepares the hot statements on the writer. It must run outside
// a write transaction: preparing needs the writer's only connection. A
// failure leaves the cache empty and statements are parsed per call.
func (b *Backend) warmStmts(ctx context.Context) {
	in := b.in
	in.stmtMu.Lock()
	ready := in.stmts != nil
	in.stmtMu.Unlock()
	if ready || in.writer == nil {
		return
	}
	// Prepare without holding stmtMu: a transaction in progress holds the
	// writer connection and may read the cache meanwhile.
	m := make(map[string]*sql.Stmt, len(hotQueries))
	closeAll := func() {
		for _, s := range m {
			s.Close()
		}
	}
	for _, q := range hotQueries {
		s, err := in.writer.PrepareContext(ctx, q)
		if err != nil {
			closeAll()
			in.opts.Logger.Debug("prepare hot statement failed", "err", err)
			return
		}
		m[q] = s
	}
	in.stmtMu.Lock()
	if in.stmts != nil {
		in.stmtMu.Unlock()
		closeAll()
		return
	}
	in.stmts = m
	in.stmtMu.Unlock()
	in.onClose(func(context.Context) {
		in.stmtMu.Lock()
		defer in.stmtMu.Unlock()
		for _, s := range in.stmts {
			s.Close()
		}
		in.stmts = map[string]*sql.Stmt{}
	})
}

func (b *Backend) cachedStmt(q string) *sql.Stmt {
	b.in.stmtMu.Lock()
	s := b.in.stmts[q]
	b.in.stmtMu.Unlock()
	return s
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
	if s := w.b.cachedStmt(q); s != nil {
		return w.Tx.StmtContext(w.ctx, s).ExecContext(w.ctx, args...)
	}
	return w.Tx.ExecContext(w.ctx, q, args...)
}

func (w *wtx) query(q string, args ...any) (*sql.Rows, error) {
	if s := w.b.cachedStmt(q); s != nil {
		return w.Tx.StmtContext(w.ctx, s).QueryContext(w.ctx, args...)
	}
	return w.Tx.QueryContext(w.ctx, q, args...)
}

func (w *wtx) queryRow(q string, args ...any) *sql.Row {
	if s := w.b.cachedStmt(q); s != nil {
		return w.Tx.StmtContext(w.ctx, s).QueryRowContext(w.ctx, args...)
	}
	return w.Tx.QueryRowContext(w.ctx, q, args...)
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
	b.warmStmts(ctx)
	return b.writeTx(ctx, op, func(ctx context.Context, tx *Txn) error {
		return fn(&wtx{Txn: tx, ctx: ctx, b: b, now: b.Now()})
	})
}
