package server

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/ffsqlite/ffsqlite/backend"
)

// pathID parses the {id} path segment (the mux has already
// percent-decoded it). A bad id is a plain 400 naming the problem.
func pathID(w http.ResponseWriter, r *http.Request) (backend.ExecutionID, bool) {
	id, err := backend.ParseExecutionID(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, invalidInput(err))
		return id, false
	}
	return id, true
}

// invalidInput renders a validation error's message for a 400.
func invalidInput(err error) string {
	var e *backend.Error
	if errors.As(err, &e) && e.Msg != "" {
		return e.Msg
	}
	return err.Error()
}

// Route 1: GET /v1/executions?partition=&cursor=&limit=
func (s *Server) listExecutions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, err := strconv.ParseUint(q.Get("partition"), 10, 16)
	if err != nil {
		http.Error(w, "Failed to deserialize query string: partition: expected u16", http.StatusBadRequest)
		return
	}
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			http.Error(w, "Failed to deserialize query string: limit: expected usize", http.StatusBadRequest)
			return
		}
		limit = n
	}
	part := uint16(p)
	page, err := s.b.ListExecutions(r.Context(), q.Get("cursor"), limit, backend.ListExecutionsFilter{Partition: &part})
	if err != nil {
		if backend.KindOf(err) == backend.KindValidation {
			writeError(w, http.StatusBadRequest, invalidInput(err)) // upstream: 400 "invalid cursor: …"
			return
		}
		writeEngineError(w, err)
		return
	}
	if page.Executions == nil {
		page.Executions = []backend.ExecutionID{}
	}
	writeJSON(w, http.StatusOK, page)
}

// Route 2: POST /v1/executions
func (s *Server) createExecution(w http.ResponseWriter, r *http.Request) {
	var args backend.CreateExecutionArgs
	if !decodeJSON(w, r, limitCreate, "/v1/executions", &args, args.RequiredFields()...) {
		return
	}
	res, err := s.b.CreateExecution(r.Context(), args)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	status := http.StatusCreated
	if res.Duplicate {
		status = http.StatusOK
	} else {
		s.wake.notify()
	}
	writeJSON(w, status, res)
}

// Route 3: GET /v1/executions/{id}
func (s *Server) getExecution(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	info, err := s.b.GetExecutionInfo(r.Context(), id)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// Route 4: GET /v1/executions/{id}/state — a bare JSON string.
func (s *Server) getState(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	st, err := s.b.GetPublicState(r.Context(), id)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// Route 7: GET /v1/executions/{id}/result — raw bytes.
func (s *Server) getResult(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	res, err := s.b.GetResult(r.Context(), id)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	w.Write(res)
}

// bodyMatchesPath answers 400 when the body repeats a different id.
func bodyMatchesPath(w http.ResponseWriter, path, body backend.ExecutionID) bool {
	if path != body {
		writeError(w, http.StatusBadRequest, "path execution_id does not match body execution_id")
		return false
	}
	return true
}

// Route 8: POST /v1/executions/{id}/cancel
func (s *Server) cancelExecution(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var args backend.CancelExecutionArgs
	if !decodeJSON(w, r, limitDefault, "/v1/executions/{id}/cancel", &args, "execution_id", "reason", "now") {
		return
	}
	if !bodyMatchesPath(w, id, args.ExecutionID) {
		return
	}
	res, err := s.b.CancelExecution(r.Context(), args)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// Route 10: PUT /v1/executions/{id}/priority
func (s *Server) changePriority(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var body struct {
		NewPriority int32 `json:"new_priority"`
	}
	if !decodeJSON(w, r, limitDefault, "/v1/executions/{id}/priority", &body, "new_priority") {
		return
	}
	res, err := s.b.ChangePriority(r.Context(), backend.ChangePriorityArgs{ExecutionID: id, NewPriority: body.NewPriority, Now: s.b.Now()})
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// Route 11: POST /v1/executions/{id}/replay (no body)
func (s *Server) replayExecution(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	if _, ok := readBody(w, r, limitDefault, "/v1/executions/{id}/replay"); !ok {
		return
	}
	res, err := s.b.ReplayExecution(r.Context(), backend.ReplayExecutionArgs{ExecutionID: id, Now: s.b.Now()})
	if err != nil {
		writeEngineError(w, err)
		return
	}
	s.wake.notify()
	writeJSON(w, http.StatusOK, res)
}

// Route 12: POST /v1/executions/{id}/revoke-lease (no body)
func (s *Server) revokeLease(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	if _, ok := readBody(w, r, limitDefault, "/v1/executions/{id}/revoke-lease"); !ok {
		return
	}
	res, err := s.b.RevokeLease(r.Context(), backend.RevokeLeaseArgs{ExecutionID: id, Reason: "operator_revoke"})
	if err != nil {
		writeEngineError(w, err)
		return
	}
	if res.Revoked {
		// Upstream's field order (lease_id, then lease_epoch).
		type revoked struct {
			LeaseID    string `json:"lease_id"`
			LeaseEpoch string `json:"lease_epoch"`
		}
		writeJSON(w, http.StatusOK, map[string]revoked{"Revoked": {res.LeaseID, res.LeaseEpoch}})
		return
	}
	writeJSON(w, http.StatusOK, res)
}
