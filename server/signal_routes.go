package server

import (
	"bytes"
	"net/http"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
)

// Routes 5, 6 and 9 (waitpoints and signals, ff-server's shapes) and the
// operator resume extension.

// Route 5: GET /v1/executions/{id}/pending-waitpoints — the execution's
// pending and active waitpoints (first page of 100), token kid and
// fingerprint only.
func (s *Server) pendingWaitpoints(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	page, err := s.b.ListPendingWaitpoints(r.Context(), id, nil, 0)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, page.Waitpoints)
}

// Route 6: GET /v1/executions/{id}/waitpoints/{waitpoint_id}/token — the
// raw token, never cached (Cache-Control: no-store, on the 404 too).
func (s *Server) waitpointToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	wp, err := uuid.Parse(r.PathValue("waitpoint_id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "waitpoint_id: invalid UUID: "+r.PathValue("waitpoint_id"))
		return
	}
	token, err := s.b.ReadWaitpointToken(r.Context(), id, wp)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": token})
}

// Route 9: POST /v1/executions/{id}/signal — deliver a signal.
func (s *Server) deliverSignal(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var args backend.DeliverSignalArgs
	if !decodeJSON(w, r, limitSignal, "/v1/executions/{id}/signal", &args, "execution_id", "waitpoint_id", "signal_id",
		"signal_name", "signal_category", "source_type", "source_identity", "target_scope", "waitpoint_token", "now") {
		return
	}
	if !bodyMatchesPath(w, id, args.ExecutionID) {
		return
	}
	res, err := s.b.DeliverSignal(r.Context(), args)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	if res.Effect == "resume_condition_satisfied" {
		s.wake.notify()
	}
	writeJSON(w, http.StatusOK, res)
}

// POST /v1/executions/{id}/resume — operator resume (ffsqlite extension;
// upstream's resume_execution has no route). The body is optional:
// {"resume_delay_ms"?, "trigger_type"?}.
func (s *Server) resumeExecution(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	data, ok := readBody(w, r, limitDefault, "/v1/executions/{id}/resume")
	if !ok {
		return
	}
	var body struct {
		TriggerType   string `json:"trigger_type"`
		ResumeDelayMS uint64 `json:"resume_delay_ms"`
	}
	if len(bytes.TrimSpace(data)) > 0 && !decodeBody(w, r, data, &body) {
		return
	}
	res, err := s.b.ResumeExecution(r.Context(), backend.ResumeExecutionArgs{
		ExecutionID: id, TriggerType: body.TriggerType, ResumeDelayMS: body.ResumeDelayMS})
	if err != nil {
		writeEngineError(w, err)
		return
	}
	s.wake.notify()
	writeJSON(w, http.StatusOK, res)
}
