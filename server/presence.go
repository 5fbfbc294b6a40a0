package server

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
)

// Worker presence: a worker that claims over HTTP is registered in the
// worker registry (namespace "default"), so the dashboard, `inspect
// workers` and the worker-ttl reconciler see it. The registration is
// refreshed at most every presenceRefresh per instance, or when the
// instance claims from a lane it has not used yet, so a busy worker costs
// no extra write per claim.
const (
	presenceNamespace = "default"
	presenceTTL       = 30 * time.Second
	presenceRefresh   = presenceTTL / 3
)

type presence struct {
	mu   sync.Mutex
	seen map[string]presenceEntry // by worker instance id
}

type presenceEntry struct {
	at    time.Time
	lanes []string
	caps  []string
}

func newPresence() *presence { return &presence{seen: map[string]presenceEntry{}} }

// touch registers or refreshes the claiming worker when due. Failures are
// logged by the caller's logger and never fail the claim.
func (s *Server) touchPresence(ctx context.Context, a backend.ClaimArgs) {
	p := s.presence
	now := time.Now()
	p.mu.Lock()
	e, ok := p.seen[a.WorkerInstanceID]
	fresh := ok && now.Sub(e.at) < presenceRefresh && slices.Contains(e.lanes, a.LaneID) && slices.Equal(e.caps, a.Capabilities)
	if !fresh {
		if !slices.Contains(e.lanes, a.LaneID) {
			e.lanes = append(slices.Clone(e.lanes), a.LaneID)
		}
		e.caps, e.at = slices.Clone(a.Capabilities), now
		p.seen[a.WorkerInstanceID] = e
	}
	lanes := slices.Clone(e.lanes)
	p.mu.Unlock()
	if fresh {
		return
	}
	_, err := s.b.RegisterWorker(ctx, backend.RegisterWorkerArgs{
		Namespace: presenceNamespace, WorkerID: a.WorkerID, WorkerInstanceID: a.WorkerInstanceID,
		Lanes: lanes, Capabilities: a.Capabilities, LivenessTTLMS: uint64(presenceTTL.Milliseconds()),
	})
	if err != nil {
		s.cfg.Logger.Warn("register claiming worker", "worker_instance_id", a.WorkerInstanceID, "error", err)
		p.mu.Lock()
		delete(p.seen, a.WorkerInstanceID) // try again on the next claim
		p.mu.Unlock()
	}
}
