package scanners

import (
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
)

// AttemptTimeout fails running attempts that exceeded their policy's
// timeout_policy.attempt_timeout_ms (failure class timeout; the retry
// policy applies).
const AttemptTimeout = "attempt-timeout"

// AttemptTimeoutEnv sets AttemptTimeout's interval in seconds.
const AttemptTimeoutEnv = "FF_ATTEMPT_TIMEOUT_INTERVAL_S"

// DefaultAttemptTimeoutInterval is FF_ATTEMPT_TIMEOUT_INTERVAL_S's default.
const DefaultAttemptTimeoutInterval = 2 * time.Second

// AttemptTimeoutBatch is how many attempts one tick times out at most.
const AttemptTimeoutBatch = 100

func init() {
	register(50, Definition{
		Name:    AttemptTimeout,
		Summary: "fail attempts that ran longer than the policy's attempt timeout",
		Default: DefaultAttemptTimeoutInterval,
		Env:     AttemptTimeoutEnv,
		EnvUnit: time.Second,
		Batch:   AttemptTimeoutBatch,
		New: func(b *backend.Backend, batch int) Reconciler {
			return NewSweep(AttemptTimeout, batch, b.TimeoutAttempts)
		},
	})
}
