package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/server"
)

// The default Host check: loopback names and addresses pass, any other
// Host (a DNS-rebinding page's) is refused with 403 before auth or a
// route; AllowedHosts adds names, "*" disables the check.
func TestHostAllowList(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{})
	for _, host := range []string{"127.0.0.1", "127.0.0.1:9090", "127.8.9.10:1", "localhost", "LOCALHOST:9090", "localhost.",
		"app.localhost:3000", "[::1]:9090", "[::1]", "[::ffff:127.0.0.1]:80"} {
		r := a.do("GET", "/v1/executions?partition=0", nil, "Host", host)
		if r.status != http.StatusOK {
			t.Errorf("Host %q: %d %s", host, r.status, r.body)
		}
	}
	for _, host := range []string{"evil.example", "evil.example:9090", "localhost.evil.example", "10.0.0.1", "[::2]:9090", "0.0.0.0:9090", "127.0.0.1.nip.io"} {
		for _, path := range []string{"/v1/executions?partition=0", "/", "/healthz"} {
			r := a.do("GET", path, nil, "Host", host)
			r.wantJSON(t, http.StatusForbidden, `{"error":`+q(`host "`+host+
				`" is not allowed: this dev server answers loopback names only; add the name with --allowed-hosts or FF_ALLOWED_HOSTS`)+`}`)
		}
	}
	if r := a.do("POST", "/v1/executions/x/replay", nil, "Host", "evil.example"); r.status != http.StatusForbidden {
		t.Fatalf("POST with a foreign Host: %d", r.status)
	}

	listed, _ := fileAPI(t, server.Config{AllowedHosts: []string{"devbox.lan", "Other.Test:1234"}})
	for host, want := range map[string]int{"devbox.lan:9090": 200, "other.test": 200, "127.0.0.1": 200, "evil.example": 403} {
		if r := listed.do("GET", "/healthz", nil, "Host", host); r.status != want {
			t.Errorf("listed, Host %q: %d, want %d", host, r.status, want)
		}
	}
	// HTTP/1.0 without a Host header is no browser's request: served.
	srv, err := server.New(testdb.Open(t), server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	base, _ := liveServer(t, srv)
	if resp := rawRequest(t, base, "GET /healthz HTTP/1.0\r\n\r\n"); resp.StatusCode != http.StatusOK {
		t.Errorf("HTTP/1.0 without Host: %d", resp.StatusCode)
	}
	open, _ := fileAPI(t, server.Config{AllowedHosts: []string{"*"}})
	if r := open.do("GET", "/healthz", nil, "Host", "anything.example"); r.status != http.StatusOK {
		t.Fatalf(`"*": %d`, r.status)
	}
}

// Default CORS: the server's own origin and loopback origins are granted;
// any other origin gets no grant on a read and a 403 on a write, so a
// page elsewhere cannot replay or revoke (body-less POSTs a browser sends
// without a preflight).
func TestDefaultCORSIsLoopbackOnly(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{})
	id := a.create(0, nil)
	// a.url is http://127.0.0.1:PORT, the server's own origin.
	for _, origin := range []string{a.url, "http://localhost:3000", "https://localhost", "http://127.0.0.1:5173", "http://[::1]:8080", "http://app.localhost:3000"} {
		r := a.do("OPTIONS", "/v1/executions", nil, "Origin", origin, "Access-Control-Request-Method", "POST")
		if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != origin ||
			r.header.Get("Access-Control-Allow-Methods") != "GET, POST, PUT" || r.header.Get("Vary") != "Origin" {
			t.Errorf("preflight from %s: %d %v", origin, r.status, r.header)
		}
	}
	for _, origin := range []string{"https://evil.example", "http://localhost.evil.example", "null", "http://10.0.0.1:9090", "file://", "http://127.0.0.1@evil.example"} {
		r := a.do("OPTIONS", "/v1/executions", nil, "Origin", origin, "Access-Control-Request-Method", "POST")
		if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "" || r.header.Get("Access-Control-Allow-Methods") != "" {
			t.Errorf("preflight from %s granted: %d %v", origin, r.status, r.header)
		}
		if r := a.do("GET", "/v1/executions?partition=0", nil, "Origin", origin); r.status != http.StatusOK || r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("GET from %s: %d %v", origin, r.status, r.header)
		}
		want := `{"error":` + q(`origin "`+origin+`" is not allowed: set FF_CORS_ORIGINS to a comma list of origins (or * for any)`) + `}`
		a.do("POST", ep(id)+"/replay", nil, "Origin", origin).wantJSON(t, http.StatusForbidden, want)
		a.do("POST", ep(id)+"/revoke-lease", nil, "Origin", origin).wantJSON(t, http.StatusForbidden, want)
	}
	a.do("GET", ep(id)+"/state", nil).wantJSON(t, http.StatusOK, `"waiting"`) // untouched
	// The own origin and loopback pages may write.
	a.do("POST", ep(id)+"/cancel", map[string]any{"execution_id": id.String(), "reason": "r", "now": 0}, "Origin", "http://localhost:3000").
		wantJSON(t, http.StatusOK, `{"Cancelled":{"execution_id":`+q(id.String())+`,"public_state":"cancelled"}}`)
	if r := a.do("POST", ep(id)+"/replay", nil, "Origin", a.url); r.status != http.StatusOK {
		t.Fatalf("replay from the own origin: %d %s", r.status, r.body)
	}

	// An explicit list replaces the loopback defaults (the own origin
	// stays allowed); "*" allows everything, explicitly.
	listed, _ := fileAPI(t, server.Config{CORSOrigins: []string{"http://ok.example"}})
	if r := listed.do("POST", "/v1/executions/x/replay", nil, "Origin", "http://localhost:3000"); r.status != http.StatusForbidden {
		t.Errorf("list: loopback origin not listed: %d", r.status)
	}
	if r := listed.do("POST", "/v1/executions/x/replay", nil, "Origin", "http://ok.example"); r.status != http.StatusBadRequest {
		t.Errorf("list: listed origin: %d %s", r.status, r.body) // reaches the route: a bad id
	}
	if r := listed.do("POST", "/v1/executions/x/replay", nil, "Origin", listed.url); r.status != http.StatusBadRequest {
		t.Errorf("list: own origin: %d %s", r.status, r.body)
	}
	star, _ := fileAPI(t, server.Config{CORSOrigins: []string{"*"}})
	if r := star.do("POST", "/v1/executions/x/replay", nil, "Origin", "https://evil.example"); r.status != http.StatusBadRequest ||
		r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf(`"*": %d %v`, r.status, r.header)
	}
}

// A token that no client could present (only whitespace, surrounding
// whitespace, control characters) is refused by ParseAPIToken and New.
func TestAPITokenRefusedAtStart(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{" ", "\t", "  \n", " tok", "tok ", "to\nk", "to\x00k"} {
		if _, err := server.ParseAPIToken(bad); err == nil {
			t.Errorf("ParseAPIToken(%q) accepted", bad)
		}
		if _, err := server.New(nil, server.Config{APIToken: bad}); err == nil || !strings.Contains(err.Error(), "FF_API_TOKEN") {
			t.Errorf("New with token %q: %v", bad, err)
		}
	}
	for _, good := range []string{"", "tok", "a b", "s3cr3t-with.punct~"} {
		if got, err := server.ParseAPIToken(good); err != nil || got != good {
			t.Errorf("ParseAPIToken(%q) = %q, %v", good, got, err)
		}
	}
	if _, err := server.ParseAllowedHosts(" , "); err == nil {
		t.Error("ParseAllowedHosts accepted an empty list")
	}
	if _, err := server.ParseAllowedHosts("http://x.example"); err == nil {
		t.Error("ParseAllowedHosts accepted a URL")
	}
	if got, err := server.ParseAllowedHosts(" devbox.lan , *,[::1]:9090"); err != nil || len(got) != 3 || got[0] != "devbox.lan" || got[1] != "*" {
		t.Fatalf("ParseAllowedHosts: %q %v", got, err)
	}
}
