package scanners

import (
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
)

// ExecutionDeadline expires non-terminal executions whose deadline has
// passed (terminal / expired; a held lease is released).
const ExecutionDeadline = "execution-deadline"

// ExecutionDeadlineEnv sets ExecutionDeadline's interval in seconds.
const ExecutionDeadlineEnv = "FF_EXECUTION_DEADLINE_INTERVAL_S"

// DefaultExecutionDeadlineInterval is FF_EXECUTION_DEADLINE_INTERVAL_S's
// default.
const DefaultExecutionDeadlineInterval = 5 * time.Second

// ExecutionDeadlineBatch is how many executions one tick expires at most.
const ExecutionDeadlineBatch = 100

func init() {
	register(60, Definition{
		Name:    ExecutionDeadline,
		Summary: "expire executions whose deadline has passed",
		Default: DefaultExecutionDeadlineInterval,
		Env:     ExecutionDeadlineEnv,
		EnvUnit: time.Second,
		Batch:   ExecutionDeadlineBatch,
		New: func(b *backend.Backend, batch int) Reconciler {
			return NewSweep(ExecutionDeadline, batch, b.ExpireDeadlines)
		},
	})
}
