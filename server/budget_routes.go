package server

import (
	"net/http"
	"slices"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
)

// EnforcementModes are the budget enforcement modes route 22 accepts.
// Upstream's type is a free string; its one statement of the values is
// its Postgres migration 0013 ("strict" | "warn"), which is what is
// accepted here.
var EnforcementModes = []string{"strict", "warn"}

// pathBudgetID parses the {id} segment as upstream's BudgetId (a UUID):
// 400 "invalid budget_id: …" otherwise. It returns the canonical
// (lower-case, hyphenated) form the budget is stored under.
func pathBudgetID(w http.ResponseWriter, r *http.Request) (string, bool) {
	u, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid budget_id: "+err.Error())
		return "", false
	}
	return u.String(), true
}

// Route 22: POST /v1/budgets
func (s *Server) createBudget(w http.ResponseWriter, r *http.Request) {
	var args backend.CreateBudgetArgs
	if !decodeJSON(w, r, limitDefault, "/v1/budgets", &args, args.RequiredFields()...) {
		return
	}
	// Upstream's body types: budget_id is a BudgetId (UUID). A body that
	// does not fit them is a 422, as serde rejects it.
	u, err := uuid.Parse(args.BudgetID)
	if err != nil || !slices.Contains(EnforcementModes, args.EnforcementMode) {
		invalidJSON(w, http.StatusUnprocessableEntity)
		return
	}
	args.BudgetID = u.String()
	res, err := s.b.CreateBudget(r.Context(), args)
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

// Route 23: GET /v1/budgets/{id}
func (s *Server) getBudget(w http.ResponseWriter, r *http.Request) {
	id, ok := pathBudgetID(w, r)
	if !ok {
		return
	}
	st, err := s.b.GetBudgetStatus(r.Context(), id)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// Route 24: POST /v1/budgets/{id}/usage
func (s *Server) reportUsage(w http.ResponseWriter, r *http.Request) {
	var args backend.ReportUsageArgs
	if !decodeJSON(w, r, limitDefault, "/v1/budgets/{id}/usage", &args, "dimensions", "now") {
		return
	}
	id, ok := pathBudgetID(w, r) // after the body, as upstream's extractors run first
	if !ok {
		return
	}
	res, err := s.b.ReportUsage(r.Context(), id, args)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// Route 25: POST /v1/budgets/{id}/reset (no body)
func (s *Server) resetBudget(w http.ResponseWriter, r *http.Request) {
	if _, ok := readBody(w, r, limitDefault, "/v1/budgets/{id}/reset"); !ok {
		return
	}
	id, ok := pathBudgetID(w, r)
	if !ok {
		return
	}
	res, err := s.b.ResetBudget(r.Context(), id)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// Route 27: POST /v1/admin/rotate-waitpoint-secret
func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request) {
	var body struct {
		NewKid       string `json:"new_kid"`
		NewSecretHex string `json:"new_secret_hex"`
	}
	if !decodeJSON(w, r, limitDefault, "/v1/admin/rotate-waitpoint-secret", &body, "new_kid", "new_secret_hex") {
		return
	}
	// Upstream validates the kid, then the secret, then takes the
	// single-rotation gate.
	var secret []byte
	err := backend.ValidateKid(body.NewKid)
	if err == nil {
		secret, err = backend.ParseSecretHex(body.NewSecretHex)
	}
	if err == nil {
		if !s.rotating.TryLock() {
			// ff-server's ServerError::ConcurrencyLimitExceeded: no kind.
			writeJSON(w, http.StatusTooManyRequests, envelope{
				Error: "too many concurrent admin_rotate calls (server max: 1); retry with backoff", Retryable: boolPtr(true)})
			return
		}
		defer s.rotating.Unlock()
		err = s.b.RotateWaitpointSecret(r.Context(), body.NewKid, secret)
	}
	if err != nil {
		status, env := engineStatus(err)
		if status == http.StatusBadRequest {
			env.Error = invalidInput(err) // upstream prints the bare sentence
		}
		writeJSON(w, status, env)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Rotated int    `json:"rotated"`
		Failed  []int  `json:"failed"`
		NewKid  string `json:"new_kid"`
	}{1, []int{}, body.NewKid}) // upstream's field order
}
