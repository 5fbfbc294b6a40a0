package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ffsqlite/ffsqlite/server"
)

// A 401 is counted in ff_http_requests_total under its route template,
// like every other answer; a path no route matches is "unknown".
func TestMetricsCountUnauthorized(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{APIToken: "tok"})
	a.do("GET", "/v1/executions?partition=0", nil).wantJSON(t, http.StatusUnauthorized, `{"error":"missing or invalid Authorization header"}`)
	a.do("POST", "/v1/worker/claim", nil, "Authorization", "Bearer wrong")
	a.do("POST", "/v1/worker/claim", nil)
	a.do("GET", "/nowhere", nil)
	r := a.do("GET", "/metrics", nil)
	for _, want := range []string{
		`ff_http_requests_total{method="GET",path="/v1/executions",status="401"} 1`,
		`ff_http_requests_total{method="POST",path="/v1/worker/claim",status="401"} 2`,
		`ff_http_requests_total{method="GET",path="unknown",status="401"} 1`,
		`ff_http_request_duration_seconds_count{method="POST",path="/v1/worker/claim",status="401"} 2`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
