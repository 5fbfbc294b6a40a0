package backend_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
)

// The admin reset lands between the reconciler's selection and its apply:
// the apply re-checks due-ness inside BEGIN IMMEDIATE and leaves the budget
// (and the usage reported after the admin reset) alone.
func TestBudgetResetAdminBetweenSelectAndApply(t *testing.T) {
	t.Parallel()
	b, clock := budEnv(t, nil)
	ctx := context.Background()
	now := clock.MS()
	budCreate(t, b, "x", 60_000, []string{"d"}, []uint64{0}, []uint64{0})
	budReport(t, b, "x", map[string]uint64{"d": 9}, "")
	budSetNext(t, b, "x", now-1)

	due, err := b.SelectDueBudgetsForTest(ctx, now, 20)
	if err != nil || len(due) != 1 || due[0].ID() != "x" {
		t.Fatalf("select = %v, %v", due, err)
	}
	if _, err := b.ResetBudget(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	budReport(t, b, "x", map[string]uint64{"d": 4}, "") // usage after the admin reset
	done, err := b.ApplyDueResetForTest(ctx, due[0], now)
	if err != nil || done {
		t.Fatalf("apply = %v, %v; want a skipped (not due) budget", done, err)
	}
	if st := budStatus(t, b, "x"); st.Usage["d"] != 4 || budNext(st) != now+60_000 {
		t.Fatalf("double reset: %+v", st)
	}

	// The same holds when the schedule was cleared or the row deleted.
	budSetNext(t, b, "x", nil)
	if done, err := b.ApplyDueResetForTest(ctx, due[0], now); err != nil || done {
		t.Fatalf("apply on NULL schedule = %v, %v", done, err)
	}
	err = b.WriteTx(ctx, "test", func(ctx context.Context, tx *backend.Txn) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM ff_budget_policy WHERE budget_id = 'x'`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if done, err := b.ApplyDueResetForTest(ctx, due[0], now); err != nil || done {
		t.Fatalf("apply on deleted budget = %v, %v", done, err)
	}
}

// Both reconciler queries are served by ff_budget_policy_reset_due_idx,
// without a table scan or a sort.
func TestBudgetResetQueryPlanUsesPartialIndex(t *testing.T) {
	t.Parallel()
	b, _ := budEnv(t, nil)
	parts, due := backend.BudgetResetSQLForTest()
	for _, q := range []struct {
		sql  string
		args []any
	}{{parts, nil}, {due, []any{0, int64(1), 20}}} {
		plan := engQueryPlan(t, b, q.sql, q.args...)
		joined := strings.Join(plan, "\n")
		if !strings.Contains(joined, "ff_budget_policy_reset_due_idx") {
			t.Errorf("plan for %q does not use the partial index:\n%s", q.sql, joined)
		}
		for _, line := range plan {
			if strings.HasPrefix(line, "SCAN ff_budget_policy") && !strings.Contains(line, "INDEX") {
				t.Errorf("plan scans the table: %s", line)
			}
			if strings.Contains(line, "TEMP B-TREE") {
				t.Errorf("plan sorts: %s", line)
			}
		}
		t.Logf("%s\n%s", q.sql, joined)
	}
}
