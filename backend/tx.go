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

// writeTx runs fn in one BEGIN IMMEDIATE transaction on the writer
// connection and commits it; a busy or locked error anywhere in it reruns
// the whole transaction through retry.Serializable. After the function
// returns successfully, afterCommit hooks recorded on the txn run (wake-ups
// are only sent once the data is visible).
func (b *Backend) writeTx(ctx context.Context, op string, fn func(ctx context.Context, tx *Txn) error) error {
	if b.in.writer == nil {
		return &Error{Kind: KindUnavailable, Op: op, Code: "read_only", Msg: ErrReadOnly.Error(), Err: ErrReadOnly}
	}
	if err := b.PrepareWrite(ctx); err != nil {
		return transport(op, err)
	}
	var after []func()
	err := retry.Serializable(ctx, func(ctx context.Context) error {
		after = nil
		sqlTx, err := b.in.writer.BeginTx(ctx, nil) // _txlock=immediate: BEGIN IMMEDIATE
		if err != nil {
			return err
		}
		t := &Txn{Tx: sqlTx}
		if err := fn(ctx, t); err != nil {
			_ = sqlTx.Rollback()
			return err
		}
		// The driver rolls back a failed COMMIT before the connection
		// returns to the pool.
		if err := sqlTx.Commit(); err != nil {
			return err
		}
		after = t.after
		return nil
	})
	if err != nil {
		return transport(op, err)
	}
	for _, f := range after {
		f()
	}
	return nil
}

// Txn is a write transaction in progress.
type Txn struct {
	*sql.Tx
	after []func()
}

// AfterCommit schedules f to run once the transaction has committed.
func (t *Txn) AfterCommit(f func()) { t.after = append(t.after, f) }

// WriteTx exposes the engine's write-transaction discipline to sibling
// packages (scanners, tests): BEGIN IMMEDIATE, busy retry, commit.
func (b *Backend) WriteTx(ctx context.Context, op string, fn func(ctx context.Context, tx *Txn) error) error {
	return b.writeTx(ctx, op, fn)
}
