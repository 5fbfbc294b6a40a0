package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"

	"github.com/ffsqlite/ffsqlite/backend"
)

// claim_next: POST /v1/worker/complete and /v1/worker/fail accept
// "claim_next": {…claim fields…} and then, once the lease is settled,
// claim the worker's next execution in the same request, saving the
// worker one round trip per job. The answer is {"result": <the route's
// usual answer>, "next": <a lease, or null when none came within the
// claim's block_ms>}.
//
// The claim fields are checked before the lease is settled, with the
// claim route's rules (a bad claim_next is refused and changes nothing).
// A complete and its first claim are one write transaction
// (Backend.CompleteAndClaim): an engine error undoes both and is the
// answer, so the handle can be completed again. A fail is settled first
// and its result stands: a claim that then fails in the engine answers
// "next": null (and is logged), so the worker neither retries a settled
// lease nor loses its result, and claims again on its own.

// parseClaimNext checks a claim_next object. It returns nil, true when
// there is none, and false after writing the refusal.
func (s *Server) parseClaimNext(w http.ResponseWriter, raw json.RawMessage) (*claimRequest, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, true
	}
	var fields map[string]json.RawMessage
	var body claimBody
	if _, foldable := bodyShape(raw); foldable { // as decodeBody does
		raw, _ = dropCaseVariants(raw, reflect.TypeOf(body))
	}
	if json.Unmarshal(raw, &fields) != nil || json.Unmarshal(raw, &body) != nil {
		invalidJSON(w, http.StatusUnprocessableEntity)
		return nil, false
	}
	for _, f := range claimFields {
		if v, ok := fields[f]; !ok || string(v) == "null" {
			invalidJSON(w, http.StatusUnprocessableEntity)
			return nil, false
		}
	}
	if _, ok := fields["max"]; ok {
		writeError(w, http.StatusBadRequest, "invalid_input: claim_next.max: not accepted (next is one lease; claim a batch with /v1/worker/claim)")
		return nil, false
	}
	req, status, err := s.parseClaim(body)
	if err != nil {
		msg := err.Error()
		if status == http.StatusBadRequest {
			// "invalid_input: lane_id: …" → "invalid_input: claim_next.lane_id: …"
			if code, detail, ok := strings.Cut(msg, ": "); ok {
				msg = code + ": claim_next." + detail
			}
		}
		writeError(w, status, msg)
		return nil, false
	}
	return &req, true
}

// nextAnswer is the answer of a complete or fail with claim_next.
type nextAnswer struct {
	Result any            `json:"result"`
	Next   *backend.Lease `json:"next"`
}

// answerWithNext claims for next (long-polling as the claim route does)
// and answers result with the lease, or null.
func (s *Server) answerWithNext(w http.ResponseWriter, r *http.Request, result any, next *claimRequest) {
	ctx := r.Context()
	leases, err := s.claimWait(ctx, *next)
	if ctx.Err() != nil {
		return // the client went away
	}
	if err != nil {
		s.cfg.Logger.Warn("claim_next after a settled lease", "worker_instance_id", next.args.WorkerInstanceID, "error", err)
	}
	ans := nextAnswer{Result: result}
	if len(leases) > 0 {
		ans.Next = leases[0]
	}
	writeJSON(w, http.StatusOK, ans)
}

// completeAndClaim answers a complete with claim_next: the complete and
// the first claim share one write transaction (Backend.CompleteAndClaim,
// one commit per job); when that finds nothing and next has block_ms, it
// long-polls as the claim route does.
func (s *Server) completeAndClaim(w http.ResponseWriter, r *http.Request, h backend.Handle, result []byte, next *claimRequest) {
	ctx := r.Context()
	lease, err := s.b.CompleteAndClaim(ctx, h, result, next.args)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	s.wake.notify() // a flow member's success can make its children claimable
	s.touchPresence(ctx, next.args)
	if lease == nil && next.block > 0 {
		s.answerWithNext(w, r, "Completed", next)
		return
	}
	writeJSON(w, http.StatusOK, nextAnswer{Result: "Completed", Next: lease})
}
