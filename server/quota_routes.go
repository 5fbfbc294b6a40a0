package server

import (
	"net/http"

	"github.com/ffsqlite/ffsqlite/backend"
)

// Route 26: POST /v1/quotas
func (s *Server) createQuota(w http.ResponseWriter, r *http.Request) {
	var args backend.CreateQuotaPolicyArgs
	if !decodeJSON(w, r, limitDefault, "/v1/quotas", &args, args.RequiredFields()...) {
		return
	}
	res, err := s.b.CreateQuotaPolicy(r.Context(), args)
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
