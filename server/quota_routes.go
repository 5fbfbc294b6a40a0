package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ffsqlite/ffsqlite/backend"
)

// registerQuotaMetrics exports ff_quota_hit_total: claim candidates
// blocked by their quota (ffsqlite's policy.quota_policy_id admission).
func registerQuotaMetrics(reg prometheus.Registerer, b *backend.Backend) error {
	return reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ff_quota_hit_total",
		Help: "Claim candidates blocked (rate_limited) by their quota policy."},
		func() float64 { return float64(b.QuotaHits()) }))
}

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
