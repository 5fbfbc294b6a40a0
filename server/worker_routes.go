package server

import (
	"context"
	"net/http"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
)

// The worker routes are an ffsqlite extension (docs/http-api.md): upstream
// workers call the engine in-process, so ff-server has no HTTP lease
// loop. Every call is fenced by the lease exactly like the Go API.

type claimBody struct {
	backend.ClaimArgs
	// BlockMS long-polls up to this long for work (capped by
	// Config.MaxBlock); 0 answers at once.
	BlockMS int64 `json:"block_ms"`
}

// POST /v1/worker/claim → 200 lease, or 204 when no work arrived in time.
func (s *Server) workerClaim(w http.ResponseWriter, r *http.Request) {
	var body claimBody
	if !decodeJSON(w, r, limitDefault, "/v1/worker/claim", &body, "worker_id", "worker_instance_id", "lane_id", "lease_ttl_ms") {
		return
	}
	s.touchPresence(r.Context(), body.ClaimArgs)
	block := time.Duration(body.BlockMS) * time.Millisecond
	if block > s.cfg.MaxBlock {
		block = s.cfg.MaxBlock
	}
	deadline := time.Now().Add(block)
	ctx := r.Context()
	for first := true; ; first = false {
		woken := s.wake.wait() // before the claim, so no create slips between
		if !first {
			// Waiting on an idle lane reads only; the write lock is taken
			// once there is something to claim.
			if ok, err := s.b.PeekClaimable(ctx, body.ClaimArgs); err != nil {
				writeEngineError(w, err)
				return
			} else if !ok {
				if !s.waitForWork(w, ctx, woken, deadline) {
					return
				}
				continue
			}
		}
		lease, err := s.b.Claim(ctx, body.ClaimArgs)
		if err != nil {
			writeEngineError(w, err)
			return
		}
		if lease != nil {
			writeJSON(w, http.StatusOK, lease)
			return
		}
		if !s.waitForWork(w, ctx, woken, deadline) {
			return
		}
	}
}

// waitForWork sleeps until a wake-up, the next poll or the deadline. It
// reports false once the response is settled: 204 at the deadline or on
// shutdown, nothing when the client went away.
func (s *Server) waitForWork(w http.ResponseWriter, ctx context.Context, woken <-chan struct{}, deadline time.Time) bool {
	left := time.Until(deadline)
	if left <= 0 {
		w.WriteHeader(http.StatusNoContent)
		return false
	}
	t := time.NewTimer(min(left, s.cfg.ClaimPoll))
	defer t.Stop()
	if s.hooks.claimWait != nil {
		s.hooks.claimWait()
	}
	select {
	case <-ctx.Done():
		return false
	case <-s.quit:
		w.WriteHeader(http.StatusNoContent)
		return false
	case <-woken:
	case <-t.C:
	}
	return true
}

type handleBody struct {
	Handle backend.Handle `json:"handle"`
}

// POST /v1/worker/renew {"handle","lease_ttl_ms"}
func (s *Server) workerRenew(w http.ResponseWriter, r *http.Request) {
	var body struct {
		handleBody
		LeaseTTLMS int64 `json:"lease_ttl_ms"`
	}
	if !decodeJSON(w, r, limitDefault, "/v1/worker/renew", &body, "handle", "lease_ttl_ms") {
		return
	}
	res, err := s.b.Renew(r.Context(), body.Handle, body.LeaseTTLMS)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// POST /v1/worker/complete {"handle","result":[bytes]}
func (s *Server) workerComplete(w http.ResponseWriter, r *http.Request) {
	var body struct {
		handleBody
		Result backend.Bytes `json:"result"`
	}
	if !decodeJSON(w, r, limitCreate, "/v1/worker/complete", &body, "handle") {
		return
	}
	if err := s.b.Complete(r.Context(), body.Handle, body.Result); err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, "Completed")
}

// POST /v1/worker/fail {"handle","class","reason"}
func (s *Server) workerFail(w http.ResponseWriter, r *http.Request) {
	var body struct {
		handleBody
		backend.FailArgs
	}
	if !decodeJSON(w, r, limitDefault, "/v1/worker/fail", &body, "handle", "class") {
		return
	}
	res, err := s.b.Fail(r.Context(), body.Handle, body.FailArgs)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	if res.RetryScheduled {
		s.wake.notify()
	}
	writeJSON(w, http.StatusOK, res)
}
