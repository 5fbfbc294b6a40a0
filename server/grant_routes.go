package server

import (
	"fmt"
	"net/http"

	"github.com/ffsqlite/ffsqlite/backend"
)

// Claim grants and lease reclaim (docs/http-api.md, "Claim grants and
// reclaim"): routes 13 and 14 issue grants as ff-server does; upstream
// workers turn a grant into a lease in process, so ffsqlite's worker
// extension adds POST /v1/worker/claim-grant and POST /v1/worker/reclaim.

// claimForWorkerBody is route 14's body (the worker id is in the path).
type claimForWorkerBody struct {
	LaneID           string   `json:"lane_id"`
	WorkerInstanceID string   `json:"worker_instance_id"`
	Capabilities     []string `json:"capabilities"`
	GrantTTLMS       int64    `json:"grant_ttl_ms"`
}

// POST /v1/workers/{worker_id}/claim (route 14) → 200 grant, or 204 when
// nothing is grantable.
func (s *Server) claimForWorker(w http.ResponseWriter, r *http.Request) {
	var body claimForWorkerBody
	if !decodeJSON(w, r, limitDefault, "/v1/workers/{worker_id}/claim", &body,
		"lane_id", "worker_instance_id", "grant_ttl_ms") {
		return
	}
	g, err := s.b.IssueClaimGrant(r.Context(), backend.ClaimGrantArgs{WorkerID: r.PathValue("worker_id"),
		WorkerInstanceID: body.WorkerInstanceID, LaneID: body.LaneID, Capabilities: body.Capabilities,
		GrantTTLMS: body.GrantTTLMS})
	switch {
	case err != nil:
		writeEngineError(w, err)
	case g == nil:
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, http.StatusOK, g)
	}
}

// grantConsumeBody is the body of POST /v1/worker/claim-grant and
// POST /v1/worker/reclaim.
type grantConsumeBody struct {
	WorkerID         string `json:"worker_id"`
	WorkerInstanceID string `json:"worker_instance_id"`
	LaneID           string `json:"lane_id"`
	ExecutionID      string `json:"execution_id"`
	GrantKey         string `json:"grant_key"`
	LeaseTTLMS       int64  `json:"lease_ttl_ms"`
}

var grantConsumeFields = []string{"worker_id", "worker_instance_id", "lane_id", "execution_id", "grant_key", "lease_ttl_ms"}

// decodeGrantConsume reads a consumption body and its execution id,
// answering 4xx itself when it reports false.
func decodeGrantConsume(w http.ResponseWriter, r *http.Request, route string) (grantConsumeBody, backend.ExecutionID, bool) {
	var body grantConsumeBody
	if !decodeJSON(w, r, limitDefault, route, &body, grantConsumeFields...) {
		return body, backend.ExecutionID{}, false
	}
	id, err := backend.ParseExecutionID(body.ExecutionID)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_input: execution_id: "+invalidInput(err))
		return body, id, false
	}
	return body, id, true
}

// POST /v1/worker/claim-grant → 200 lease (the shape of /v1/worker/claim).
func (s *Server) workerClaimGrant(w http.ResponseWriter, r *http.Request) {
	body, id, ok := decodeGrantConsume(w, r, "/v1/worker/claim-grant")
	if !ok {
		return
	}
	lease, err := s.b.ClaimFromGrant(r.Context(), backend.ClaimFromGrantArgs{WorkerID: body.WorkerID,
		WorkerInstanceID: body.WorkerInstanceID, LaneID: body.LaneID, ExecutionID: id, GrantKey: body.GrantKey,
		LeaseTTLMS: body.LeaseTTLMS})
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, lease)
}

// POST /v1/executions/{id}/reclaim (route 13) → 200, tagged by status:
// granted, not_reclaimable or reclaim_cap_exceeded.
func (s *Server) issueReclaimGrant(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var body backend.ReclaimGrantArgs
	if !decodeJSON(w, r, limitDefault, "/v1/executions/{id}/reclaim", &body,
		"worker_id", "worker_instance_id", "lane_id", "grant_ttl_ms") {
		return
	}
	body.ExecutionID = id
	res, err := s.b.IssueReclaimGrant(r.Context(), body)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// POST /v1/worker/reclaim → 200 lease with handle kind Reclaimed, or 409
// reclaim_cap_exceeded when the reclaim cap failed the execution.
func (s *Server) workerReclaim(w http.ResponseWriter, r *http.Request) {
	body, id, ok := decodeGrantConsume(w, r, "/v1/worker/reclaim")
	if !ok {
		return
	}
	res, err := s.b.ReclaimExecution(r.Context(), backend.ReclaimArgs{WorkerID: body.WorkerID,
		WorkerInstanceID: body.WorkerInstanceID, LaneID: body.LaneID, ExecutionID: id, GrantKey: body.GrantKey,
		LeaseTTLMS: body.LeaseTTLMS})
	switch {
	case err != nil:
		writeEngineError(w, err)
	case res.CapExceeded:
		writeJSON(w, http.StatusConflict, envelope{
			Error: fmt.Sprintf("reclaim_cap_exceeded: reclaim_count %d; the execution failed", res.ReclaimCount),
			Kind:  backend.ReclaimCapExceeded, Retryable: boolPtr(false)})
	default:
		writeJSON(w, http.StatusOK, res.Lease)
	}
}
