package server

import (
	"net/http"
	"strings"
)

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /healthz", s.healthz)

	m.HandleFunc("GET /v1/executions", s.listExecutions)                                      // 1
	m.HandleFunc("POST /v1/executions", s.createExecution)                                    // 2
	m.HandleFunc("GET /v1/executions/{id}", s.getExecution)                                   // 3
	m.HandleFunc("GET /v1/executions/{id}/state", s.getState)                                 // 4
	m.HandleFunc("GET /v1/executions/{id}/pending-waitpoints", s.pendingWaitpoints)           // 5
	m.HandleFunc("GET /v1/executions/{id}/waitpoints/{waitpoint_id}/token", s.waitpointToken) // 6
	m.HandleFunc("GET /v1/executions/{id}/result", s.getResult)                               // 7
	m.HandleFunc("POST /v1/executions/{id}/cancel", s.cancelExecution)                        // 8
	m.HandleFunc("POST /v1/executions/{id}/signal", s.deliverSignal)                          // 9
	m.HandleFunc("PUT /v1/executions/{id}/priority", s.changePriority)                        // 10
	m.HandleFunc("GET /v1/executions/{id}/attempts/{idx}/stream", s.readStream)               // 15
	m.HandleFunc("GET /v1/executions/{id}/attempts/{idx}/stream/tail", s.tailStream)          // 16
	m.HandleFunc("POST /v1/executions/{id}/replay", s.replayExecution)                        // 11
	m.HandleFunc("POST /v1/executions/{id}/revoke-lease", s.revokeLease)                      // 12
	m.HandleFunc("POST /v1/executions/{id}/reclaim", s.issueReclaimGrant)                     // 13
	m.HandleFunc("POST /v1/workers/{worker_id}/claim", s.claimForWorker)                      // 14
	m.HandleFunc("POST /v1/budgets", s.createBudget)                                          // 22
	m.HandleFunc("GET /v1/budgets/{id}", s.getBudget)                                         // 23
	m.HandleFunc("POST /v1/budgets/{id}/usage", s.reportUsage)                                // 24
	m.HandleFunc("POST /v1/budgets/{id}/reset", s.resetBudget)                                // 25
	m.HandleFunc("POST /v1/quotas", s.createQuota)                                            // 26
	m.HandleFunc("POST /v1/admin/rotate-waitpoint-secret", s.rotateSecret)                    // 27
	m.HandleFunc("POST /v1/flows", s.createFlow)                                              // 17
	m.HandleFunc("POST /v1/flows/{id}/members", s.addFlowMember)                              // 18
	m.HandleFunc("POST /v1/flows/{id}/cancel", s.cancelFlow)                                  // 19
	m.HandleFunc("POST /v1/flows/{id}/edges", s.stageFlowEdge)                                // 20
	m.HandleFunc("POST /v1/flows/{id}/edges/apply", s.applyFlowEdge)                          // 21
	// Flow reads (extensions).
	m.HandleFunc("GET /v1/flows", s.listFlows)
	m.HandleFunc("GET /v1/flows/{id}", s.getFlow)
	m.HandleFunc("GET /v1/flows/{id}/edges", s.getFlowEdges)

	// ffsqlite's worker loop over HTTP (docs/http-api.md).
	m.HandleFunc("POST /v1/worker/claim", s.workerClaim)
	m.HandleFunc("POST /v1/worker/renew", s.workerRenew)
	m.HandleFunc("POST /v1/worker/complete", s.workerComplete)
	m.HandleFunc("POST /v1/worker/fail", s.workerFail)
	m.HandleFunc("POST /v1/worker/suspend", s.workerSuspend)
	m.HandleFunc("POST /v1/worker/waitpoints", s.workerCreateWaitpoint)
	m.HandleFunc("POST /v1/worker/waitpoints/close", s.workerCloseWaitpoint)
	m.HandleFunc("POST /v1/worker/signals", s.workerSignals)
	m.HandleFunc("POST /v1/worker/delay", s.workerDelay)
	m.HandleFunc("POST /v1/worker/cancel", s.workerCancel)
	m.HandleFunc("POST /v1/worker/wait-children", s.workerWaitChildren)
	m.HandleFunc("POST /v1/worker/frames", s.workerAppendFrame)
	m.HandleFunc("POST /v1/worker/progress", s.workerProgress)
	m.HandleFunc("POST /v1/worker/claim-grant", s.workerClaimGrant) // grant_routes.go
	m.HandleFunc("POST /v1/worker/reclaim", s.workerReclaim)
	// Operator resume of a suspended execution (extension).
	m.HandleFunc("POST /v1/executions/{id}/resume", s.resumeExecution)

	// The dashboard and its JSON.
	m.Handle("GET /{$}", s.dashboardIndex())
	m.Handle("GET /ui/", s.dashboardAssets())
	m.HandleFunc("GET /ui/api/state", s.uiState)
	m.HandleFunc("GET /ui/api/execution", s.uiExecution)
	m.HandleFunc("GET /ui/api/waits", s.uiWaits)
	m.HandleFunc("GET /ui/api/flows", s.uiFlows)
	m.HandleFunc("GET /ui/api/flow", s.uiFlow)

	m.HandleFunc("/", s.noRoute)
}

// noRoute answers what no route matched as ff-server does: 405 when the
// path exists under another method, else 404 with an empty body.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut} {
		if method == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = method
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, method)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	w.WriteHeader(http.StatusNotFound)
}
