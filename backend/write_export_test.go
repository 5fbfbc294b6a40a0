package backend

import (
	"context"

	"github.com/ffsqlite/ffsqlite/backend/internal/writer"
)

// Txn is the write transaction a WriteTx function gets (tests only).
type Txn = writer.Tx

// WriteTx runs fn as an engine write (write: group commit, busy retry,
// after-commit hooks) for tests that set up or alter rows directly. It is
// compiled into the package's tests only; the product writes through
// write.
func (b *Backend) WriteTx(ctx context.Context, op string, fn func(ctx context.Context, tx *Txn) error) error {
	return b.write(ctx, op, func(w *wtx) error { return fn(w.ctx, w.Tx) })
}
