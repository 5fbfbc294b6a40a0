package scanners

import (
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
)

// BudgetReset is the budget-reset reconciler (runtime.md §4.2): due
// budgets, earliest first, are re-checked inside BEGIN IMMEDIATE, their
// usage zeroed, last-breach fields cleared and the next reset scheduled at
// now + interval; lifetime breach counters are kept.
const BudgetReset = "budget-reset"

// BudgetResetEnv sets BudgetReset's interval in seconds.
const BudgetResetEnv = "FF_BUDGET_RESET_INTERVAL_S"

// DefaultBudgetResetInterval is upstream's FF_BUDGET_RESET_INTERVAL_S
// default.
const DefaultBudgetResetInterval = 15 * time.Second

func init() {
	register(10, Definition{
		Name:    BudgetReset,
		Summary: "zero the usage of budgets whose reset is due and reschedule them",
		Default: DefaultBudgetResetInterval,
		Env:     BudgetResetEnv,
		EnvUnit: time.Second,
		Batch:   backend.DefaultBudgetResetBatch,
		New: func(b *backend.Backend, batch int) Reconciler {
			return NewSweep(BudgetReset, batch, b.ResetDueBudgets)
		},
	})
}
