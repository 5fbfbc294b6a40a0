package scanners

import (
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
)

// WorkerTTL is the worker-registry TTL sweep (runtime.md §4.3): worker
// registrations whose last heartbeat + TTL has passed are deleted, each
// with a ttl_swept event.
const WorkerTTL = "worker-ttl"

// DefaultWorkerTTLInterval is the sweep's cadence; upstream hard-codes
// 30 s and reads no environment variable, so neither does ffsqlite.
const DefaultWorkerTTLInterval = 30 * time.Second

func init() {
	register(20, Definition{
		Name:    WorkerTTL,
		Summary: "delete worker registrations whose heartbeat TTL has expired",
		Default: DefaultWorkerTTLInterval,
		Batch:   backend.DefaultWorkerSweepBatch,
		New: func(b *backend.Backend, batch int) Reconciler {
			return NewSweep(WorkerTTL, batch, b.SweepExpiredWorkers)
		},
	})
}
