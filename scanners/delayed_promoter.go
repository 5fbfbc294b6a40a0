package scanners

import (
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
)

// DelayedPromoter promotes delayed executions (a future delay_until, or a
// retry backoff) whose time has come to waiting.
const DelayedPromoter = "delayed-promoter"

// DelayedPromoterEnv sets DelayedPromoter's interval in milliseconds.
const DelayedPromoterEnv = "FF_DELAYED_PROMOTER_INTERVAL_MS"

// DefaultDelayedPromoterInterval is FF_DELAYED_PROMOTER_INTERVAL_MS's
// default.
const DefaultDelayedPromoterInterval = 750 * time.Millisecond

// DelayedPromoterBatch is how many executions one tick promotes at most.
const DelayedPromoterBatch = 100

func init() {
	register(30, Definition{
		Name:    DelayedPromoter,
		Summary: "move delayed executions whose delay has passed to waiting",
		Default: DefaultDelayedPromoterInterval,
		Env:     DelayedPromoterEnv,
		EnvUnit: time.Millisecond,
		Batch:   DelayedPromoterBatch,
		New: func(b *backend.Backend, batch int) Reconciler {
			return NewSweep(DelayedPromoter, batch, b.PromoteDelayed)
		},
	})
}
