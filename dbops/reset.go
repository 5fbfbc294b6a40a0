package dbops

import (
	"context"
	"fmt"
	"slices"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/dblock"
	"github.com/ffsqlite/ffsqlite/migrate"
)

// NotReadyError is a database whose schema is not at this binary's latest
// version, which reset and seed need.
type NotReadyError struct {
	Path    string
	Ledger  migrate.Ledger
	Pending int
}

func (e *NotReadyError) Error() string {
	switch e.Ledger {
	case migrate.LedgerUpstream:
		return fmt.Sprintf("%s was created by FlowFabric's own migration runner and is not adopted", e.Path)
	case migrate.LedgerNone:
		return fmt.Sprintf("%s has no ffsqlite schema", e.Path)
	}
	return fmt.Sprintf("%s has %d pending migration(s); this command needs the latest schema", e.Path, e.Pending)
}

// ResetOptions tunes Reset.
type ResetOptions struct {
	Backend backend.Options
}

// ResetResult says what Reset deleted.
type ResetResult struct {
	Path string `json:"path"`
	// Deleted is the number of rows deleted per emptied table.
	Deleted map[string]int64 `json:"deleted"`
	// DeletedTotal sums Deleted.
	DeletedTotal int64 `json:"deleted_total"`
	// BudgetsKept and QuotasKept count the policies kept, their runtime
	// state cleared.
	BudgetsKept int64 `json:"budgets_kept"`
	QuotasKept  int64 `json:"quotas_kept"`
	// Kept lists the tables left as they were (besides the policies').
	Kept []string `json:"kept"`
}

// Reset empties every engine table of the database at path (executions,
// attempts, flows, edges, waitpoints, signals, streams, budgets' usage,
// quotas' windows, events, workers) in one transaction, keeping the
// schema, both migration ledgers, the HMAC keys and the budget and quota
// policies (their breach counters and active counts start over). It holds
// the migration lock and the exclusive process lock, so it refuses while
// an ffsqlite serve or scan has the file, and it needs the latest schema.
func Reset(ctx context.Context, path string, o ResetOptions) (*ResetResult, error) {
	if backend.IsMemoryURI(path) {
		return nil, ErrNeedsFile
	}
	bo := o.Backend
	bo.ReadOnly, bo.MustExist = false, true
	b, err := backend.Open(ctx, path, bo)
	if err != nil {
		return nil, err
	}
	defer b.Close(ctx)
	ml, err := dblock.LockMigration(ctx, b.Path())
	if err != nil {
		return nil, err
	}
	defer ml.Release()
	x, err := ml.Exclusive()
	if err != nil {
		return nil, err
	}
	defer x.Release()
	if err := requireLatest(ctx, b); err != nil {
		return nil, err
	}
	res := &ResetResult{Path: b.Path(), Deleted: map[string]int64{}, Kept: []string{}}
	for t := range keptTables() {
		if t != "ff_budget_policy" && t != "ff_quota_policy" {
			res.Kept = append(res.Kept, t)
		}
	}
	slices.Sort(res.Kept)
	err = b.WriteTx(ctx, "reset", func(ctx context.Context, tx *backend.Txn) error {
		res.Deleted, res.DeletedTotal = map[string]int64{}, 0
		present, err := tableSet(ctx, tx)
		if err != nil {
			return err
		}
		for _, t := range emptiedTables() {
			if !present[t] {
				continue
			}
			r, err := tx.ExecContext(ctx, "DELETE FROM "+t)
			if err != nil {
				return fmt.Errorf("empty %s: %w", t, err)
			}
			n, err := r.RowsAffected()
			if err != nil {
				return err
			}
			res.Deleted[t] = n
			res.DeletedTotal += n
		}
		now := b.Now()
		r, err := tx.ExecContext(ctx, `UPDATE ff_budget_policy SET breach_count = 0, soft_breach_count = 0,
			last_breach_at_ms = NULL, last_breach_dim = NULL, updated_at_ms = ?`, now)
		if err != nil {
			return fmt.Errorf("clear budget counters: %w", err)
		}
		if res.BudgetsKept, err = r.RowsAffected(); err != nil {
			return err
		}
		r, err = tx.ExecContext(ctx, `UPDATE ff_quota_policy SET active_concurrency = 0, updated_at_ms = ?`, now)
		if err != nil {
			return fmt.Errorf("clear quota counts: %w", err)
		}
		res.QuotasKept, err = r.RowsAffected()
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// requireLatest refuses a database that is not at this binary's latest
// schema under ffsqlite's ledger.
func requireLatest(ctx context.Context, b *backend.Backend) error {
	l, err := migrate.ReadLedgers(ctx, b.ReaderDB())
	if err != nil {
		return err
	}
	if p := l.Pending(); l.Kind != migrate.LedgerGoose || len(p) > 0 {
		return &NotReadyError{Path: b.Path(), Ledger: l.Kind, Pending: len(p)}
	}
	return nil
}
