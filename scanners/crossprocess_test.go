package scanners_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/scanners"
)

// Reconciler ticks run while a second connection pool on the same file
// (standing in for another process: a serve, a script) writes to the same
// tables. Neither side sees a busy error and no update is lost.
func TestReconcilersWithAnotherWriter(t *testing.T) {
	t.Parallel()
	b, clock := openDB(t)
	ctx := context.Background()
	const dueBudgets, rounds = 5, 200

	for _, id := range []string{"counter", "engine-counter"} {
		if _, err := b.CreateBudget(ctx, backend.CreateBudgetArgs{BudgetID: id}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.ReportUsage(ctx, id, backend.ReportUsageArgs{Dimensions: map[string]uint64{"n": 0}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range dueBudgets {
		if _, err := b.CreateBudget(ctx, backend.CreateBudgetArgs{BudgetID: fmt.Sprintf("due-%d", i), ResetIntervalMS: 1000,
			Dimensions: []string{"n"}, HardLimits: []uint64{0}, SoftLimits: []uint64{0}}); err != nil {
			t.Fatal(err)
		}
	}

	other, err := sql.Open("sqlite", "file:"+b.Path()+"?_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.SetMaxOpenConns(2)

	s, err := scanners.ForBackend(b, scanners.DefaultConfig(), scanners.Options{})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	ticks := 0
	wg.Go(func() { // the engine process: reconciler passes back to back
		for {
			for _, r := range s.RunOnce(ctx, clock.MS()) {
				if r.Err != nil || r.Errors != 0 {
					t.Errorf("tick %+v: %v", r, r.Err)
				}
			}
			ticks++
			select {
			case <-stop:
				return
			default:
			}
		}
	})
	wg.Go(func() { // the engine's own writes, through the same backend
		for range rounds {
			if _, err := b.ReportUsage(ctx, "engine-counter", backend.ReportUsageArgs{Dimensions: map[string]uint64{"n": 1}}); err != nil {
				t.Errorf("engine write: %v", err)
			}
		}
	})
	for i := range rounds { // the other process
		tx, err := other.BeginTx(ctx, nil)
		if err != nil {
			t.Fatalf("other BEGIN: %v", err)
		}
		stmts := []struct {
			q    string
			args []any
		}{
			{`UPDATE ff_budget_usage SET current_value = current_value + 1 WHERE budget_id = 'counter'`, nil},
			{`UPDATE ff_budget_usage SET current_value = current_value + 1 WHERE budget_id = ?`, []any{fmt.Sprintf("due-%d", i%dueBudgets)}},
			{`UPDATE ff_budget_policy SET next_reset_at_ms = 0 WHERE budget_id = ?`, []any{fmt.Sprintf("due-%d", i%dueBudgets)}},
			{`INSERT INTO ff_worker_registry VALUES ('ns', ?, 'w', '', '', 0, 1, 0)`, []any{fmt.Sprintf("gone-%d", i)}},
		}
		for _, st := range stmts {
			if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
				tx.Rollback()
				t.Fatalf("other write %d: %v", i, err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatalf("other COMMIT %d: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
	if ticks == 0 {
		t.Fatal("no reconciler pass ran")
	}

	// One last pass settles what the other writer left due.
	for _, r := range s.RunOnce(ctx, clock.MS()) {
		if r.Err != nil || r.Errors != 0 {
			t.Fatalf("final tick %+v: %v", r, r.Err)
		}
	}
	for id, want := range map[string]uint64{"counter": rounds, "engine-counter": rounds} {
		st, err := b.GetBudgetStatus(ctx, id)
		if err != nil || st.Usage["n"] != want {
			t.Errorf("%s = %v, %v; want %d (lost update)", id, st.Usage, err, want)
		}
	}
	for i := range dueBudgets {
		st, _ := b.GetBudgetStatus(ctx, fmt.Sprintf("due-%d", i))
		if st.Usage["n"] != 0 || st.NextResetAt == nil || *st.NextResetAt != clock.MS()+1000 {
			t.Errorf("due-%d not reset: %+v", i, st)
		}
	}
	var workers, swept int
	b.ReaderDB().QueryRow(`SELECT count(*) FROM ff_worker_registry`).Scan(&workers)
	b.ReaderDB().QueryRow(`SELECT count(*) FROM ff_worker_registry_event WHERE event_kind = 'ttl_swept'`).Scan(&swept)
	if workers != 0 || swept != rounds {
		t.Errorf("workers left %d, swept events %d; want 0 and %d", workers, swept, rounds)
	}
}
