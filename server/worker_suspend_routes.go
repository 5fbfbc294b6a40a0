package server

import (
	"encoding/json"
	"net/http"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/suspension"
)

// The worker routes of durable waits (ffsqlite extension, like
// /v1/worker/complete): suspend, pending waitpoints, observed signals,
// delay and cancel, each fenced by the handle.

// POST /v1/worker/suspend {"handle", …SuspendArgs as upstream serialises
// them} → {"Suspended":{"details","handle"}} or
// {"AlreadySatisfied":{"details"}}.
func (s *Server) workerSuspend(w http.ResponseWriter, r *http.Request) {
	const route = "/v1/worker/suspend"
	data, ok := readBody(w, r, limitDefault, route)
	if !ok {
		return
	}
	var hb handleBody
	if !decodeBody(w, r, data, &hb, "handle") {
		return
	}
	var args suspension.SuspendArgs
	if err := json.Unmarshal(data, &args); err != nil {
		invalidJSON(w, http.StatusUnprocessableEntity)
		return
	}
	out, err := s.b.Suspend(r.Context(), hb.Handle, args)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// POST /v1/worker/waitpoints {"handle","waitpoint_key","expires_in_ms"} →
// {"waitpoint_id","waitpoint_key","waitpoint_token","expires_at_ms"}.
func (s *Server) workerCreateWaitpoint(w http.ResponseWriter, r *http.Request) {
	var body struct {
		handleBody
		backend.CreateWaitpointArgs
	}
	if !decodeJSON(w, r, limitDefault, "/v1/worker/waitpoints", &body, "handle", "waitpoint_key", "expires_in_ms") {
		return
	}
	res, err := s.b.CreateWaitpoint(r.Context(), body.Handle, body.CreateWaitpointArgs)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// POST /v1/worker/waitpoints/close {"handle","waitpoint_id","reason"?} →
// "Closed" or "AlreadyClosed".
func (s *Server) workerCloseWaitpoint(w http.ResponseWriter, r *http.Request) {
	var body struct {
		handleBody
		WaitpointID uuid.UUID `json:"waitpoint_id"`
		Reason      string    `json:"reason"`
	}
	if !decodeJSON(w, r, limitDefault, "/v1/worker/waitpoints/close", &body, "handle", "waitpoint_id") {
		return
	}
	res, err := s.b.CloseWaitpoint(r.Context(), body.Handle, body.WaitpointID, body.Reason)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// POST /v1/worker/signals {"handle"} → {"signals":[…]}: the signals that
// resumed the handle's attempt (empty unless it was resumed by signals).
func (s *Server) workerSignals(w http.ResponseWriter, r *http.Request) {
	var body handleBody
	if !decodeJSON(w, r, limitDefault, "/v1/worker/signals", &body, "handle") {
		return
	}
	sigs, err := s.b.ObserveSignals(r.Context(), body.Handle)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]backend.ResumeSignal{"signals": sigs})
}

// POST /v1/worker/delay {"handle","delay_until"} →
// {"Delayed":{"delay_until":ms}}; the next claim after it resumes the
// same attempt.
func (s *Server) workerDelay(w http.ResponseWriter, r *http.Request) {
	var body struct {
		handleBody
		DelayUntil int64 `json:"delay_until"`
	}
	if !decodeJSON(w, r, limitDefault, "/v1/worker/delay", &body, "handle", "delay_until") {
		return
	}
	res, err := s.b.Delay(r.Context(), body.Handle, body.DelayUntil)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	s.wake.notify()
	writeJSON(w, http.StatusOK, res)
}

// POST /v1/worker/cancel {"handle","reason"} →
// {"Cancelled":{"execution_id","public_state":"cancelled"}} (source
// lease_holder).
func (s *Server) workerCancel(w http.ResponseWriter, r *http.Request) {
	var body struct {
		handleBody
		Reason string `json:"reason"`
	}
	if !decodeJSON(w, r, limitDefault, "/v1/worker/cancel", &body, "handle", "reason") {
		return
	}
	res, err := s.b.CancelByHolder(r.Context(), body.Handle, body.Reason)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
