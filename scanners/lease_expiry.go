package scanners

import (
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
)

// LeaseExpiry handles expired leases: the attempt is interrupted and the
// execution goes back to the queue for a reclaim attempt while
// lease_reclaim_count < max_reclaim_count, else it fails.
const LeaseExpiry = "lease-expiry"

// LeaseExpiryEnv sets LeaseExpiry's interval in milliseconds.
const LeaseExpiryEnv = "FF_LEASE_EXPIRY_INTERVAL_MS"

// DefaultLeaseExpiryInterval is FF_LEASE_EXPIRY_INTERVAL_MS's default.
const DefaultLeaseExpiryInterval = 1500 * time.Millisecond

// LeaseExpiryBatch is how many expired leases one tick handles at most.
const LeaseExpiryBatch = 100

func init() {
	register(40, Definition{
		Name:    LeaseExpiry,
		Summary: "return executions whose lease expired to the queue (or fail them past max_reclaim_count)",
		Default: DefaultLeaseExpiryInterval,
		Env:     LeaseExpiryEnv,
		EnvUnit: time.Millisecond,
		Batch:   LeaseExpiryBatch,
		New: func(b *backend.Backend, batch int) Reconciler {
			return NewSweep(LeaseExpiry, batch, b.ExpireLeases)
		},
	})
}
