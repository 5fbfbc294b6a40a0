package backend

import "context"

// Test-only access to the budget-reset reconciler's two halves and SQL, so
// external tests can interleave an admin reset between them and check the
// query plans.

// BudgetResetSQLForTest returns the reconciler's partition enumeration
// and per-partition due queries.
func BudgetResetSQLForTest() (partitions, due string) { return budgetPartitionsSQL, dueBudgetsSQL }

// DueBudgetForTest is one selected due budget.
type DueBudgetForTest struct{ d dueBudget }

// ID returns the budget id.
func (d DueBudgetForTest) ID() string { return d.d.id }

// SelectDueBudgetsForTest runs the reconciler's selection only.
func (b *Backend) SelectDueBudgetsForTest(ctx context.Context, now int64, limit int) ([]DueBudgetForTest, error) {
	due, err := b.dueBudgets(ctx, now, limit)
	out := make([]DueBudgetForTest, len(due))
	for i, d := range due {
		out[i] = DueBudgetForTest{d}
	}
	return out, err
}

// ApplyDueResetForTest runs the reconciler's per-budget apply only.
func (b *Backend) ApplyDueResetForTest(ctx context.Context, d DueBudgetForTest, now int64) (bool, error) {
	return b.applyDueReset(ctx, d.d, now)
}
