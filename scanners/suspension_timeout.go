package scanners

import (
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
)

// SuspensionTimeout applies the timeout behaviour of suspensions whose
// timeout has passed (fail / cancel / expire end the execution,
// auto_resume_with_timeout_signal resumes it, escalate hands it to an
// operator).
const SuspensionTimeout = "suspension-timeout"

// SuspensionTimeoutEnv sets SuspensionTimeout's interval in seconds.
const SuspensionTimeoutEnv = "FF_SUSPENSION_TIMEOUT_INTERVAL_S"

// DefaultSuspensionTimeoutInterval is FF_SUSPENSION_TIMEOUT_INTERVAL_S's
// default.
const DefaultSuspensionTimeoutInterval = 2 * time.Second

// SuspensionTimeoutBatch is how many suspensions one tick handles at most.
const SuspensionTimeoutBatch = 100

func init() {
	register(70, Definition{
		Name:    SuspensionTimeout,
		Summary: "apply the timeout behaviour of suspensions whose timeout has passed",
		Default: DefaultSuspensionTimeoutInterval,
		Env:     SuspensionTimeoutEnv,
		EnvUnit: time.Second,
		Batch:   SuspensionTimeoutBatch,
		New: func(b *backend.Backend, batch int) Reconciler {
			return NewSweep(SuspensionTimeout, batch, b.ExpireSuspensions)
		},
	})
}
