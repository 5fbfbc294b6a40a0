package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/server"
)

// With a token, the dashboard's static page and assets load without it
// (they hold no data) but its data endpoints need it like the API.
func TestDashboardWithToken(t *testing.T) {
	t.Parallel()
	a := newAPI(t, testdb.Open(t), server.Config{APIToken: "s3cret"})
	a.token = ""
	for _, path := range []string{"/", "/ui/app.js", "/ui/app.css"} {
		if r := a.do(http.MethodGet, path, nil); r.status != http.StatusOK {
			t.Errorf("GET %s without token: %d", path, r.status)
		}
	}
	for _, path := range []string{"/ui/api/state", "/v1/executions?partition=0"} {
		r := a.do(http.MethodGet, path, nil)
		r.want(t, http.StatusUnauthorized, `{"error":"missing or invalid Authorization header"}`)
	}
	r := a.do(http.MethodGet, "/ui/api/state", nil, "Authorization", "Bearer s3cret")
	if r.status != http.StatusOK || !strings.Contains(r.body, `"states"`) {
		t.Fatalf("state with token: %d %s", r.status, r.body)
	}
	// POST to the page is not public.
	if r := a.do(http.MethodPost, "/", "{}"); r.status != http.StatusUnauthorized {
		t.Fatalf("POST / without token: %d", r.status)
	}
}
