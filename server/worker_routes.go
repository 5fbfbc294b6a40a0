package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
)

// The worker routes are an ffsqlite extension (docs/http-api.md): upstream
// workers call the engine in-process, so ff-server has no HTTP lease
// loop. Every call is fenced by the lease exactly like the Go API.

type claimBody struct {
	backend.ClaimArgs
	// BlockMS long-polls up to this many milliseconds for work (capped by
	// Config.MaxBlock); absent or 0 answers at once. Kept raw so that an
	// integer of any size is clamped, not overflowed.
	BlockMS json.RawMessage `json:"block_ms"`
}

// errNegativeBlock is block_ms below zero.
var errNegativeBlock = errors.New("block_ms: must not be negative")

// claimBlock turns block_ms into the long-poll's length: an integer,
// clamped to max however large (a value past int64 included); negative is
// an error. A non-integer (a string, 1.5, 1e3) is errBlockType.
func claimBlock(raw json.RawMessage, max time.Duration) (time.Duration, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	if bytes.ContainsAny(raw, ".eE\"") {
		return 0, errBlockType
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	switch {
	case err != nil && errors.Is(err, strconv.ErrRange) && raw[0] == '-':
		return 0, errNegativeBlock
	case err != nil && errors.Is(err, strconv.ErrRange):
		return max, nil
	case err != nil:
		return 0, errBlockType
	case n < 0:
		return 0, errNegativeBlock
	case n >= max.Milliseconds():
		return max, nil
	}
	return time.Duration(n) * time.Millisecond, nil
}

// errBlockType is a block_ms that is not a JSON integer.
var errBlockType = errors.New("block_ms: not an integer")

// POST /v1/worker/claim → 200 lease, or 204 when no work arrived in time.
// The claiming worker is registered (presence) once its claim was valid:
// a request refused with 400 leaves no trace.
func (s *Server) workerClaim(w http.ResponseWriter, r *http.Request) {
	var body claimBody
	if !decodeJSON(w, r, limitDefault, "/v1/worker/claim", &body, "worker_id", "worker_instance_id", "lane_id", "lease_ttl_ms") {
		return
	}
	block, err := claimBlock(body.BlockMS, s.cfg.MaxBlock)
	switch {
	case errors.Is(err, errBlockType):
		invalidJSON(w, http.StatusUnprocessableEntity) // a type error, as serde reports one
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "invalid_input: "+err.Error())
		return
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
		if first {
			s.touchPresence(ctx, body.ClaimArgs)
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
	s.wake.notify() // a flow member's success can make its children claimable
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
