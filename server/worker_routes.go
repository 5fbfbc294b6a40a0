package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	// Max, when given, asks for up to Max leases (1 to
	// backend.MaxClaimBatch) in one transaction, answered as
	// {"leases":[…]}. Kept raw for the same reason as BlockMS.
	Max json.RawMessage `json:"max"`
}

// claimFields are the claim body's required fields.
var claimFields = []string{"worker_id", "worker_instance_id", "lane_id", "lease_ttl_ms"}

// errNegativeBlock is block_ms below zero.
var errNegativeBlock = errors.New("block_ms: must not be negative")

// jsonInt parses a raw JSON integer: absent or null is ok=false; a value
// that is not a JSON integer (a string, 1.5, 1e3) is errNotInteger; an
// integer past int64 is clamped to its sign's end with ErrRange.
func jsonInt(raw json.RawMessage) (n int64, ok bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false, nil
	}
	if bytes.ContainsAny(raw, ".eE\"") {
		return 0, true, errNotInteger
	}
	n, err = strconv.ParseInt(string(raw), 10, 64)
	switch {
	case err != nil && errors.Is(err, strconv.ErrRange):
		return n, true, strconv.ErrRange
	case err != nil:
		return 0, true, errNotInteger
	}
	return n, true, nil
}

// errNotInteger is a field that is not a JSON integer: a type error,
// answered 422 as serde reports one.
var errNotInteger = errors.New("not an integer")

// claimBlock turns block_ms into the long-poll's length: an integer,
// clamped to max however large (a value past int64 included); negative is
// an error. A non-integer is errNotInteger.
func claimBlock(raw json.RawMessage, max time.Duration) (time.Duration, error) {
	n, _, err := jsonInt(raw)
	switch {
	case errors.Is(err, strconv.ErrRange) && n < 0:
		return 0, errNegativeBlock
	case errors.Is(err, strconv.ErrRange):
		return max, nil
	case err != nil:
		return 0, err
	case n < 0:
		return 0, errNegativeBlock
	case n >= max.Milliseconds():
		return max, nil
	}
	return time.Duration(n) * time.Millisecond, nil
}

// claimMax turns max into a batch size: 0 when absent (one lease, the
// single-lease answer), else 1 to backend.MaxClaimBatch.
func claimMax(raw json.RawMessage) (int, error) {
	n, ok, err := jsonInt(raw)
	switch {
	case !ok:
		return 0, nil
	case errors.Is(err, errNotInteger):
		return 0, err
	case err != nil || n < 1 || n > backend.MaxClaimBatch:
		return 0, fmt.Errorf("max: must be 1..=%d (got %s)", backend.MaxClaimBatch, bytes.TrimSpace(raw))
	}
	return int(n), nil
}

// claimRequest is a checked claim: the worker's args, the long-poll and
// the batch size (0: one lease, answered alone).
type claimRequest struct {
	args  backend.ClaimArgs
	block time.Duration
	max   int
}

// parseClaim checks a decoded claim body's block_ms, max and claim fields
// (in that order) without claiming. On error it returns the status and
// the message of the answer: 422 for a type error, 400 otherwise.
func (s *Server) parseClaim(body claimBody) (claimRequest, int, error) {
	block, err := claimBlock(body.BlockMS, s.cfg.MaxBlock)
	if err == nil {
		var max int
		if max, err = claimMax(body.Max); err == nil {
			if err = backend.ValidateClaimArgs(body.ClaimArgs); err == nil {
				return claimRequest{args: body.ClaimArgs, block: block, max: max}, 0, nil
			}
			status, env := engineStatus(err)
			return claimRequest{}, status, errors.New(env.Error)
		}
	}
	if errors.Is(err, errNotInteger) {
		return claimRequest{}, http.StatusUnprocessableEntity, errors.New("invalid JSON: " + http.StatusText(http.StatusUnprocessableEntity))
	}
	return claimRequest{}, http.StatusBadRequest, errors.New("invalid_input: " + err.Error())
}

// leasesAnswer is the answer to a claim with max: the leases granted.
type leasesAnswer struct {
	Leases []*backend.Lease `json:"leases"`
}

// POST /v1/worker/claim → 200 lease (or {"leases":[…]} with max), or 204
// when no work arrived in time. The claiming worker is registered
// (presence) once its claim was valid: a request refused with 400 leaves
// no trace.
func (s *Server) workerClaim(w http.ResponseWriter, r *http.Request) {
	var body claimBody
	if !decodeJSON(w, r, limitDefault, "/v1/worker/claim", &body, claimFields...) {
		return
	}
	req, status, err := s.parseClaim(body)
	if err != nil {
		writeError(w, status, err.Error())
		return
	}
	leases, err := s.claimWait(r.Context(), req)
	switch {
	case r.Context().Err() != nil:
		// The client went away: nothing to answer.
	case err != nil:
		writeEngineError(w, err)
	case len(leases) == 0:
		w.WriteHeader(http.StatusNoContent)
	case req.max > 0:
		writeJSON(w, http.StatusOK, leasesAnswer{Leases: leases})
	default:
		writeJSON(w, http.StatusOK, leases[0])
	}
}

// claimWait claims for req, long-polling up to req.block for work: it
// returns the leases granted (one, or up to req.max), none when no work
// came in time or the server is shutting down, or the engine's error.
func (s *Server) claimWait(ctx context.Context, req claimRequest) ([]*backend.Lease, error) {
	deadline := time.Now().Add(req.block)
	for first := true; ; first = false {
		woken := s.wake.wait() // before the claim, so no create slips between
		if !first {
			// Waiting on an idle lane reads only; the write lock is taken
			// once there is something to claim.
			ok, err := s.b.PeekClaimable(ctx, req.args)
			if err != nil {
				return nil, err
			}
			if !ok {
				if !s.waitForWork(ctx, woken, deadline) {
					return nil, nil
				}
				continue
			}
		}
		var leases []*backend.Lease
		var err error
		if req.max > 0 {
			leases, err = s.b.ClaimMany(ctx, req.args, req.max)
		} else {
			var l *backend.Lease
			if l, err = s.b.Claim(ctx, req.args); l != nil {
				leases = []*backend.Lease{l}
			}
		}
		if err != nil {
			return nil, err
		}
		if first {
			s.touchPresence(ctx, req.args)
		}
		if len(leases) > 0 {
			return leases, nil
		}
		if !s.waitForWork(ctx, woken, deadline) {
			return nil, nil
		}
	}
}

// waitForWork sleeps until a wake-up, the next poll or the deadline. It
// reports false when the wait is over: at the deadline, on shutdown or
// when ctx ends.
func (s *Server) waitForWork(ctx context.Context, woken <-chan struct{}, deadline time.Time) bool {
	left := time.Until(deadline)
	if left <= 0 {
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

// POST /v1/worker/complete {"handle","result":[bytes],"claim_next"?}
// → "Completed", or {"result":"Completed","next":…} with claim_next
// (worker_next.go).
func (s *Server) workerComplete(w http.ResponseWriter, r *http.Request) {
	var body struct {
		handleBody
		Result    backend.Bytes   `json:"result"`
		ClaimNext json.RawMessage `json:"claim_next"`
	}
	if !decodeJSON(w, r, limitCreate, "/v1/worker/complete", &body, "handle") {
		return
	}
	next, ok := s.parseClaimNext(w, body.ClaimNext)
	if !ok {
		return
	}
	if next != nil {
		s.completeAndClaim(w, r, body.Handle, body.Result, next)
		return
	}
	if err := s.b.Complete(r.Context(), body.Handle, body.Result); err != nil {
		writeEngineError(w, err)
		return
	}
	s.wake.notify() // a flow member's success can make its children claimable
	writeJSON(w, http.StatusOK, "Completed")
}

// POST /v1/worker/fail {"handle","class","reason","claim_next"?} → the
// failure's outcome, or {"result":…,"next":…} with claim_next.
func (s *Server) workerFail(w http.ResponseWriter, r *http.Request) {
	var body struct {
		handleBody
		backend.FailArgs
		ClaimNext json.RawMessage `json:"claim_next"`
	}
	if !decodeJSON(w, r, limitDefault, "/v1/worker/fail", &body, "handle", "class") {
		return
	}
	next, ok := s.parseClaimNext(w, body.ClaimNext)
	if !ok {
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
	if next != nil {
		s.answerWithNext(w, r, res, next)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
