package backend_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
)

const budBenchDue = 20

// budBenchSeed fills a fresh database with n budgets (each with one usage
// row), of which budBenchDue are due at budT0, in one transaction through
// prepared statements.
func budBenchSeed(tb testing.TB, n int) *backend.Backend {
	tb.Helper()
	b, _ := budEnv(tb, nil)
	err := b.WriteTx(context.Background(), "seed", func(ctx context.Context, tx *backend.Txn) error {
		pol, err := tx.PrepareContext(ctx, `INSERT INTO ff_budget_policy
			(partition_key, budget_id, policy_json, created_at_ms, updated_at_ms, next_reset_at_ms)
			VALUES (0, ?, '{"hard_limits":{"tokens":1000000},"soft_limits":{},"reset_interval_ms":60000}', 0, 0, ?)`)
		if err != nil {
			return err
		}
		defer pol.Close()
		use, err := tx.PrepareContext(ctx, `INSERT INTO ff_budget_usage
			(partition_key, budget_id, dimensions_key, current_value, updated_at_ms) VALUES (0, ?, 'tokens', 42, 0)`)
		if err != nil {
			return err
		}
		defer use.Close()
		for i := range n {
			id := fmt.Sprintf("bench-%07d", i)
			next := budT0 + 3_600_000 + int64(i) // not due
			if i%(n/budBenchDue) == 0 {
				next = budT0 - 1 // due
			}
			if _, err := pol.ExecContext(ctx, id, next); err != nil {
				return err
			}
			if _, err := use.ExecContext(ctx, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	budBenchRearm(tb, b)
	return b
}

// budBenchRearm makes the budBenchDue budgets due again after a tick.
func budBenchRearm(tb testing.TB, b *backend.Backend) {
	err := b.WriteTx(context.Background(), "rearm", func(ctx context.Context, tx *backend.Txn) error {
		_, err := tx.ExecContext(ctx, `UPDATE ff_budget_policy SET next_reset_at_ms = ? WHERE partition_key = 0 AND next_reset_at_ms > ? AND next_reset_at_ms < ?`,
			budT0-1, budT0, budT0+3_600_000)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkBudgetResetTick measures one budget-reset tick over 1,000 and
// over 100,000 budgets with 20 due in each. The tick reads through the
// partial index, so its cost depends on the due rows, not the table: the
// budgets=100000 case reports x-vs-1k, its time per tick over the
// budgets=1000 case's (target: within 2×). Run both sub-benchmarks
// together (-bench BudgetResetTick) to get the ratio.
func BenchmarkBudgetResetTick(b *testing.B) {
	var perTick1k time.Duration
	dbs := map[int]*backend.Backend{}
	for _, n := range []int{1000, 100_000} {
		dbs[n] = budBenchSeed(b, n)
	}
	for _, n := range []int{1000, 100_000} {
		b.Run(fmt.Sprintf("budgets=%d", n), func(b *testing.B) {
			be := dbs[n]
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				budBenchRearm(b, be)
				b.StartTimer()
				rep, err := be.ResetDueBudgets(ctx, budT0, 0)
				if err != nil || rep.Processed != budBenchDue || rep.Errors != 0 {
					b.Fatalf("tick = %+v, %v", rep, err)
				}
			}
			per := b.Elapsed() / time.Duration(b.N)
			switch {
			case n == 1000:
				perTick1k = per
			case perTick1k > 0:
				b.ReportMetric(float64(per)/float64(perTick1k), "x-vs-1k")
			}
		})
	}
}
