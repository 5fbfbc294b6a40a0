package scanners

import (
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
)

// PendingWaitpointExpiry closes pending waitpoints that no suspend bound
// before their expiry (close reason never_committed).
const PendingWaitpointExpiry = "pending-waitpoint-expiry"

// PendingWaitpointExpiryEnv sets PendingWaitpointExpiry's interval in
// seconds (upstream's name).
const PendingWaitpointExpiryEnv = "FF_PENDING_WP_EXPIRY_INTERVAL_S"

// DefaultPendingWaitpointExpiryInterval is
// FF_PENDING_WP_EXPIRY_INTERVAL_S's default.
const DefaultPendingWaitpointExpiryInterval = 5 * time.Second

// PendingWaitpointExpiryBatch is how many waitpoints one tick closes at
// most.
const PendingWaitpointExpiryBatch = 100

func init() {
	register(80, Definition{
		Name:    PendingWaitpointExpiry,
		Summary: "close pending waitpoints that expired before a suspend bound them",
		Default: DefaultPendingWaitpointExpiryInterval,
		Env:     PendingWaitpointExpiryEnv,
		EnvUnit: time.Second,
		Batch:   PendingWaitpointExpiryBatch,
		New: func(b *backend.Backend, batch int) Reconciler {
			return NewSweep(PendingWaitpointExpiry, batch, b.ExpirePendingWaitpoints)
		},
	})
}
