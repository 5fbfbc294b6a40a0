package server

import (
	"net/http"
	"strconv"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
)

// Routes 17–21 (flows) with ff-server's shapes, the two flow reads
// ffsqlite adds (GET /v1/flows/{id}, GET /v1/flows/{id}/edges) and the
// worker's wait for children. As in ff-server, the body is read before
// the path's flow id is parsed, and a body must repeat the path's
// flow_id.

// pathFlowID parses the {id} segment as a FlowId (a UUID): 400 "invalid
// flow_id: …" otherwise.
func pathFlowID(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool) {
	u, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid flow_id: "+err.Error())
		return uuid.UUID{}, false
	}
	return u, true
}

// flowMatches checks the path's flow id against the body's (400 "path
// flow_id does not match body flow_id").
func flowMatches(w http.ResponseWriter, r *http.Request, body uuid.UUID) bool {
	id, ok := pathFlowID(w, r)
	if !ok {
		return false
	}
	if id != body {
		writeError(w, http.StatusBadRequest, "path flow_id does not match body flow_id")
		return false
	}
	return true
}

// Route 17: POST /v1/flows → 201 Created / 200 AlreadySatisfied.
func (s *Server) createFlow(w http.ResponseWriter, r *http.Request) {
	var args backend.CreateFlowArgs
	if !decodeJSON(w, r, limitDefault, "/v1/flows", &args, args.RequiredFields()...) {
		return
	}
	res, err := s.b.CreateFlow(r.Context(), args)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	writeJSON(w, status, res)
}

// Route 18: POST /v1/flows/{id}/members → 201 Added / 200 AlreadyMember.
func (s *Server) addFlowMember(w http.ResponseWriter, r *http.Request) {
	var args backend.AddExecutionToFlowArgs
	if !decodeJSON(w, r, limitDefault, "/v1/flows/{id}/members", &args, args.RequiredFields()...) || !flowMatches(w, r, args.FlowID) {
		return
	}
	res, err := s.b.AddExecutionToFlow(r.Context(), args)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	status := http.StatusCreated
	if res.AlreadyMember {
		status = http.StatusOK
	}
	writeJSON(w, status, res)
}

// Route 19: POST /v1/flows/{id}/cancel[?wait=true|1] → 200.
func (s *Server) cancelFlow(w http.ResponseWriter, r *http.Request) {
	var args backend.CancelFlowArgs
	if !decodeJSON(w, r, limitDefault, "/v1/flows/{id}/cancel", &args, args.RequiredFields()...) || !flowMatches(w, r, args.FlowID) {
		return
	}
	wait := r.URL.Query().Get("wait")
	res, err := s.b.CancelFlow(r.Context(), args, wait == "true" || wait == "1")
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// Route 20: POST /v1/flows/{id}/edges → 201 Staged.
func (s *Server) stageFlowEdge(w http.ResponseWriter, r *http.Request) {
	var args backend.StageDependencyEdgeArgs
	if !decodeJSON(w, r, limitDefault, "/v1/flows/{id}/edges", &args, args.RequiredFields()...) || !flowMatches(w, r, args.FlowID) {
		return
	}
	res, err := s.b.StageDependencyEdge(r.Context(), args)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, res)
}

// Route 21: POST /v1/flows/{id}/edges/apply → 200 Applied /
// "AlreadyApplied".
func (s *Server) applyFlowEdge(w http.ResponseWriter, r *http.Request) {
	var args backend.ApplyDependencyToChildArgs
	if !decodeJSON(w, r, limitDefault, "/v1/flows/{id}/edges/apply", &args, args.RequiredFields()...) || !flowMatches(w, r, args.FlowID) {
		return
	}
	res, err := s.b.ApplyDependencyToChild(r.Context(), args)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	s.wake.notify() // an edge to a finished upstream can leave the child eligible
	writeJSON(w, http.StatusOK, res)
}

// GET /v1/flows?limit=N (ffsqlite extension): the newest flows
// (default 50, at most 1,000).
func (s *Server) listFlows(w http.ResponseWriter, r *http.Request) {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			http.Error(w, "Failed to deserialize query string: limit: expected usize", http.StatusBadRequest)
			return
		}
		limit = n
	}
	flows, err := s.b.ListFlows(r.Context(), limit)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Flows []backend.FlowSummary `json:"flows"`
	}{flows})
}

// GET /v1/flows/{id} (ffsqlite extension): the flow, its members and
// edge groups.
func (s *Server) getFlow(w http.ResponseWriter, r *http.Request) {
	id, ok := pathFlowID(w, r)
	if !ok {
		return
	}
	info, err := s.b.DescribeFlow(r.Context(), id)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// GET /v1/flows/{id}/edges (ffsqlite extension): {"flow_id","edges":[…]}
// in staging order.
func (s *Server) getFlowEdges(w http.ResponseWriter, r *http.Request) {
	id, ok := pathFlowID(w, r)
	if !ok {
		return
	}
	edges, err := s.b.FlowEdges(r.Context(), id)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		FlowID uuid.UUID              `json:"flow_id"`
		Edges  []backend.FlowEdgeInfo `json:"edges"`
	}{id, edges})
}

// POST /v1/worker/wait-children {"handle"} → {"Waiting":{…}},
// "AlreadySatisfied" or "Skipped" (ffsqlite's worker loop).
func (s *Server) workerWaitChildren(w http.ResponseWriter, r *http.Request) {
	var body handleBody
	if !decodeJSON(w, r, limitDefault, "/v1/worker/wait-children", &body, "handle") {
		return
	}
	res, err := s.b.WaitForChildren(r.Context(), body.Handle)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
