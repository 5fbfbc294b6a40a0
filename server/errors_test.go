package server_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/server"
)

// Every body rejection and id error, with ff-server's exact envelopes.
func TestErrorEnvelopes(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{})
	id := a.create(3, nil)
	missing := backend.NewExecutionID(3)
	other := backend.NewExecutionID(3)
	good := func(extra map[string]any) map[string]any { return createArgs(backend.NewExecutionID(0), extra) }
	cancel := func(eid backend.ExecutionID) map[string]any {
		return map[string]any{"execution_id": eid.String(), "reason": "r", "now": epoch}
	}
	withoutField := func(field string) map[string]any {
		m := good(nil)
		delete(m, field)
		return m
	}
	const (
		badJSON = `{"error":"invalid JSON: Bad Request"}`
		noType  = `{"error":"invalid JSON: Unsupported Media Type"}`
		shape   = `{"error":"invalid JSON: Unprocessable Entity"}`
		// The upstream id-parse message for a missing prefix.
		noPrefix = "execution_id is missing the `{fp:N}:` hash-tag prefix: "
	)
	for _, c := range []struct {
		name         string
		method, path string
		body         any
		hdr          []string
		status       int
		want         string
	}{
		{"syntax", "POST", "/v1/executions", `{"execution_id":`, nil, 400, badJSON},
		{"trailing garbage", "POST", "/v1/executions", `{} x`, nil, 400, badJSON},
		{"empty body", "POST", "/v1/executions", ``, nil, 400, badJSON},
		{"no content type", "POST", "/v1/executions", good(nil), []string{"Content-Type", ""}, 415, noType},
		{"text/plain", "POST", "/v1/executions", good(nil), []string{"Content-Type", "text/plain"}, 415, noType},
		{"json with charset ok", "POST", "/v1/executions", good(nil), []string{"Content-Type", "application/json; charset=utf-8"}, 201, ""},
		{"array", "POST", "/v1/executions", `[]`, nil, 422, shape},
		{"missing execution_id", "POST", "/v1/executions", withoutField("execution_id"), nil, 422, shape},
		{"missing now", "POST", "/v1/executions", withoutField("now"), nil, 422, shape},
		{"missing partition_id", "POST", "/v1/executions", withoutField("partition_id"), nil, 422, shape},
		{"null namespace", "POST", "/v1/executions", good(map[string]any{"namespace": nil}), nil, 422, shape},
		{"priority not a number", "POST", "/v1/executions", good(map[string]any{"priority": "high"}), nil, 422, shape},
		{"payload byte out of range", "POST", "/v1/executions", good(map[string]any{"input_payload": []int{256}}), nil, 422, shape},
		{"bad body execution id", "POST", "/v1/executions", good(map[string]any{"execution_id": "nope"}), nil, 422, shape},
		{"bad lane", "POST", "/v1/executions", good(map[string]any{"lane_id": ""}), nil, 400,
			`{"error":"invalid_input: lane_id: must be 1..=64 bytes (got 0)"}`},
		{"priority wrong type", "PUT", ep(id) + "/priority", `{"new_priority":"x"}`, nil, 422, shape},
		{"priority missing", "PUT", ep(id) + "/priority", `{}`, nil, 422, shape},
		{"cancel missing execution_id", "POST", ep(id) + "/cancel", `{"reason":"r","now":1}`, nil, 422, shape},
		{"cancel missing reason", "POST", ep(id) + "/cancel", `{"execution_id":` + q(id.String()) + `,"now":1}`, nil, 422, shape},
		{"cancel no content type", "POST", ep(id) + "/cancel", cancel(id), []string{"Content-Type", ""}, 415, noType},
		{"claim missing lane", "POST", "/v1/worker/claim", `{"worker_id":"w","worker_instance_id":"i","lease_ttl_ms":1000}`, nil, 422, shape},
		{"budget missing dimensions", "POST", "/v1/budgets", `{"budget_id":"0b6b8e38-7c9a-4c43-9a8e-0c7b1d2f3a4b"}`, nil, 422, shape},

		// Unknown and malformed ids.
		{"get unknown", "GET", ep(missing), nil, nil, 404, `{"error":"execution not found: ` + missing.String() + `"}`},
		{"state unknown", "GET", ep(missing) + "/state", nil, nil, 404, `{"error":"execution not found: ` + missing.String() + `"}`},
		{"result unknown", "GET", ep(missing) + "/result", nil, nil, 404, `{"error":"execution result not found: ` + missing.String() + `"}`},
		{"cancel unknown", "POST", ep(missing) + "/cancel", cancel(missing), nil, 404, `{"error":"execution not found: ` + missing.String() + `"}`},
		{"priority unknown", "PUT", ep(missing) + "/priority", `{"new_priority":1}`, nil, 404, `{"error":"execution not found: ` + missing.String() + `"}`},
		{"replay unknown", "POST", ep(missing) + "/replay", nil, nil, 404, `{"error":"execution not found: ` + missing.String() + `"}`},
		{"revoke unknown", "POST", ep(missing) + "/revoke-lease", nil, nil, 404, `{"error":"execution not found: ` + missing.String() + `"}`},
		{"get malformed", "GET", "/v1/executions/nope", nil, nil, 400, `{"error":"` + noPrefix + `nope"}`},
		{"state bad partition", "GET", "/v1/executions/%7Bfp:x%7D:" + missing.UUID.String() + "/state", nil, nil, 400,
			`{"error":"execution_id partition index is not a valid u16: x"}`},
		{"result bad uuid", "GET", "/v1/executions/%7Bfp:1%7D:zz/result", nil, nil, 400,
			`{"error":"execution_id UUID suffix is not a valid UUID: zz"}`},
		{"cancel malformed", "POST", "/v1/executions/nope/cancel", cancel(id), nil, 400, `{"error":"` + noPrefix + `nope"}`},
		{"priority malformed", "PUT", "/v1/executions/nope/priority", `{"new_priority":1}`, nil, 400, `{"error":"` + noPrefix + `nope"}`},
		{"replay malformed", "POST", "/v1/executions/nope/replay", nil, nil, 400, `{"error":"` + noPrefix + `nope"}`},
		{"revoke malformed", "POST", "/v1/executions/nope/revoke-lease", nil, nil, 400, `{"error":"` + noPrefix + `nope"}`},
		{"path/body mismatch", "POST", ep(id) + "/cancel", cancel(other), nil, 400,
			`{"error":"path execution_id does not match body execution_id"}`},

		// The worker routes' own refusals.
		{"claim empty worker", "POST", "/v1/worker/claim", claimArgs(map[string]any{"worker_id": ""}), nil, 400,
			`{"error":"invalid_input: worker_id: must not be empty"}`},
		{"complete garbage handle", "POST", "/v1/worker/complete", `{"handle":"!!"}`, nil, 422, shape},
		{"complete no handle", "POST", "/v1/worker/complete", `{"result":[]}`, nil, 422, shape},
		{"fail unknown class", "POST", "/v1/worker/fail", `{"handle":"AwAC","class":"oops","reason":""}`, nil, 400,
			`{"error":"invalid_input: unknown failure class \"oops\""}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := a.do(c.method, c.path, c.body, c.hdr...)
			if c.want == "" {
				if r.status != c.status {
					t.Fatalf("got %d %s, want %d", r.status, r.body, c.status)
				}
				return
			}
			r.wantJSON(t, c.status, c.want)
		})
	}
}

// The 413 envelope with each route's limit, from Content-Length and from a
// chunked body that declares no length.
func TestPayloadTooLarge(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{})
	id := a.create(0, nil)
	for _, c := range []struct {
		method, path, route string
		limit               int
	}{
		{"POST", "/v1/executions", "/v1/executions", 1 << 20},
		{"POST", ep(id) + "/cancel", "/v1/executions/{id}/cancel", 64 << 10},
		{"PUT", ep(id) + "/priority", "/v1/executions/{id}/priority", 64 << 10},
		{"POST", ep(id) + "/replay", "/v1/executions/{id}/replay", 64 << 10},
		{"POST", ep(id) + "/revoke-lease", "/v1/executions/{id}/revoke-lease", 64 << 10},
		{"POST", "/v1/budgets", "/v1/budgets", 64 << 10},
		{"POST", "/v1/budgets/b/usage", "/v1/budgets/{id}/usage", 64 << 10},
		{"POST", "/v1/budgets/b/reset", "/v1/budgets/{id}/reset", 64 << 10},
		{"POST", "/v1/admin/rotate-waitpoint-secret", "/v1/admin/rotate-waitpoint-secret", 64 << 10},
		{"POST", "/v1/worker/claim", "/v1/worker/claim", 64 << 10},
	} {
		want := `{"error":"payload_too_large","limit_bytes":` + ms(int64(c.limit)) + `,"route":"` + c.route + `"}`
		// A JSON string one byte over the limit.
		big := []byte(`"` + strings.Repeat("x", c.limit-1) + `"`)
		t.Run(c.route+"/content-length", func(t *testing.T) {
			a.do(c.method, c.path, big).wantJSON(t, http.StatusRequestEntityTooLarge, want)
		})
		t.Run(c.route+"/chunked", func(t *testing.T) {
			// io.MultiReader hides the length: the client sends chunked.
			r := a.do(c.method, c.path, io.MultiReader(bytes.NewReader(big)))
			r.wantJSON(t, http.StatusRequestEntityTooLarge, want)
		})
	}
	// Far over the limit: refused up front from Content-Length, or after
	// reading limit+1 bytes of a chunked body, without resetting the
	// connection under the client.
	huge := bytes.Repeat([]byte("x"), 8<<20)
	want := `{"error":"payload_too_large","limit_bytes":1048576,"route":"/v1/executions"}`
	a.do("POST", "/v1/executions", huge).wantJSON(t, http.StatusRequestEntityTooLarge, want)
	a.do("POST", "/v1/executions", io.MultiReader(bytes.NewReader(huge))).wantJSON(t, http.StatusRequestEntityTooLarge, want)
	// Exactly at the limit is accepted (and then judged on its contents).
	r := a.do("POST", "/v1/executions", io.MultiReader(strings.NewReader(`"`+strings.Repeat("x", 1<<20-2)+`"`)))
	r.wantJSON(t, http.StatusUnprocessableEntity, `{"error":"invalid JSON: Unprocessable Entity"}`)
}

// Unknown paths are 404 with an empty body; known paths under another
// method 405.
func TestNoRoute(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{})
	id := ep(backend.NewExecutionID(0))
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/nowhere", 404},
		{"GET", "/v1", 404},
		{"GET", "/v1/execution", 404},
		{"GET", id + "/nothing", 404},
		{"POST", "/v1/budgets/x/y/z", 404},
		{"DELETE", "/v1/executions", 405},
		{"PATCH", id, 405},
		{"GET", id + "/cancel", 405},
		{"POST", id + "/state", 405},
		{"GET", "/v1/worker/claim", 405},
		{"POST", "/healthz", 405},
		{"PUT", "/v1/budgets", 405},
	} {
		r := a.do(c.method, c.path, nil)
		if r.status != c.status || r.body != "" {
			t.Errorf("%s %s: %d %q, want %d and an empty body", c.method, c.path, r.status, r.body, c.status)
		}
		if c.status == 405 && r.header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", c.method, c.path)
		}
	}
}

// Ids in paths arrive percent-encoded; every spelling decodes to the same
// execution.
func TestPercentEncodedIDs(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{})
	id := a.create(12, nil)
	u := id.UUID.String()
	for _, p := range []string{
		"/v1/executions/%7Bfp:12%7D:" + u,
		"/v1/executions/%7bfp%3a12%7d%3a" + u,
		"/v1/executions/%7Bfp%3A12%7D%3A" + strings.ReplaceAll(u, "-", "%2D"),
		ep(id),
	} {
		a.do("GET", p+"/state", nil).wantJSON(t, http.StatusOK, `"waiting"`)
	}
	// A lower-case-insensitive uuid parses to the canonical id.
	a.do("GET", "/v1/executions/%7Bfp:12%7D:"+strings.ToUpper(u)+"/state", nil).wantJSON(t, http.StatusOK, `"waiting"`)
	a.do("POST", "/v1/executions/%7Bfp:12%7D:"+u+"/cancel",
		map[string]any{"execution_id": id.String(), "reason": "r", "now": 0}).
		wantJSON(t, http.StatusOK, `{"Cancelled":{"execution_id":`+q(id.String())+`,"public_state":"cancelled"}}`)
}

// FF_API_TOKEN: every route but /healthz and /metrics needs the bearer
// token; without one auth is off.
func TestAuth(t *testing.T) {
	t.Parallel()
	const token = "s3cret-token"
	a, _ := fileAPI(t, server.Config{APIToken: token})
	id := ep(backend.NewExecutionID(0))
	const denied = `{"error":"missing or invalid Authorization header"}`
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/executions?partition=0"},
		{"POST", "/v1/executions"},
		{"GET", id},
		{"GET", id + "/state"},
		{"GET", id + "/result"},
		{"POST", id + "/cancel"},
		{"PUT", id + "/priority"},
		{"POST", id + "/replay"},
		{"POST", id + "/revoke-lease"},
		{"POST", "/v1/budgets"},
		{"GET", "/v1/budgets/b"},
		{"POST", "/v1/budgets/b/usage"},
		{"POST", "/v1/budgets/b/reset"},
		{"POST", "/v1/admin/rotate-waitpoint-secret"},
		{"POST", "/v1/worker/claim"},
		{"POST", "/v1/worker/renew"},
		{"POST", "/v1/worker/complete"},
		{"POST", "/v1/worker/fail"},
		{"POST", "/v1/flows"},
		{"GET", "/nowhere"},
	} {
		for _, hdr := range []string{"", "Bearer", "Bearer ", "Bearer wrong", "Bearer s3cret-tokeN", "Bearer" + token,
			token, "Basic " + token, "Bearer " + token + "x", "Bearer: " + token} {
			r := a.do(c.method, c.path, nil, "Authorization", hdr)
			r.wantJSON(t, http.StatusUnauthorized, denied)
		}
	}
	// The right token passes.
	a.token = token
	a.do("GET", "/v1/executions?partition=0", nil).wantJSON(t, http.StatusOK, `{"executions":[],"next_cursor":null}`)
	created := a.create(0, nil)
	a.do("GET", ep(created)+"/state", nil).wantJSON(t, http.StatusOK, `"waiting"`)
	// The scheme is case-insensitive (RFC 9110 §11.1), one or more spaces
	// before the token.
	for _, hdr := range []string{"bearer " + token, "BEARER " + token, "bEaReR  " + token} {
		a.do("GET", ep(created)+"/state", nil, "Authorization", hdr).wantJSON(t, http.StatusOK, `"waiting"`)
	}
	// /healthz and /metrics never ask.
	a.token = ""
	a.do("GET", "/healthz", nil).wantJSON(t, http.StatusOK, `{"status":"ok"}`)
	if r := a.do("GET", "/metrics", nil); r.status != http.StatusOK || !strings.Contains(r.body, "ff_http_requests_total") {
		t.Fatalf("metrics without token: %d", r.status)
	}

	// Auth off: no header needed.
	off, _ := fileAPI(t, server.Config{})
	off.do("GET", "/v1/executions?partition=0", nil).wantJSON(t, http.StatusOK, `{"executions":[],"next_cursor":null}`)
	off.do("GET", "/v1/executions?partition=0", nil, "Authorization", "Bearer whatever").
		wantJSON(t, http.StatusOK, `{"executions":[],"next_cursor":null}`)
}

// FF_CORS_ORIGINS: "*" (given explicitly) answers every origin; an
// allowlist only its own.
// Preflights are answered before auth.
func TestCORS(t *testing.T) {
	t.Parallel()
	preflight := func(a *api, origin string) reply {
		return a.do("OPTIONS", "/v1/executions", nil, "Origin", origin, "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "content-type,authorization")
	}
	t.Run("star", func(t *testing.T) {
		t.Parallel()
		a, _ := fileAPI(t, server.Config{APIToken: "tok", CORSOrigins: []string{"*"}})
		r := preflight(a, "http://anywhere.example")
		if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "*" ||
			r.header.Get("Access-Control-Allow-Methods") != "GET, POST, PUT" ||
			!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "authorization") {
			t.Fatalf("preflight: %d %v", r.status, r.header)
		}
		a.token = "tok"
		r = a.do("GET", "/healthz", nil, "Origin", "http://anywhere.example")
		if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("simple request: %d %v", r.status, r.header)
		}
	})
	t.Run("star in a list", func(t *testing.T) {
		t.Parallel()
		a, _ := fileAPI(t, server.Config{CORSOrigins: []string{"http://a.example", "*"}})
		if r := preflight(a, "http://b.example"); r.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("preflight: %d %v", r.status, r.header)
		}
	})
	for _, auth := range []bool{false, true} {
		name := "allowlist"
		cfg := server.Config{CORSOrigins: []string{"http://ok.example", "http://also.example"}}
		wantHeaders := "content-type"
		if auth {
			name += " with auth"
			cfg.APIToken = "tok"
			wantHeaders = "content-type, authorization"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, _ := fileAPI(t, cfg)
			r := preflight(a, "http://also.example")
			if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "http://also.example" ||
				r.header.Get("Access-Control-Allow-Methods") != "GET, POST, PUT" ||
				r.header.Get("Access-Control-Allow-Headers") != wantHeaders || r.header.Get("Vary") != "Origin" {
				t.Fatalf("allowed preflight: %d %v", r.status, r.header)
			}
			// A disallowed origin's preflight is answered too (not 401, not
			// 405), but grants nothing.
			r = preflight(a, "http://evil.example")
			if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "" ||
				r.header.Get("Access-Control-Allow-Methods") != "" || r.body != "" {
				t.Fatalf("disallowed preflight: %d %v %q", r.status, r.header, r.body)
			}
			if auth {
				a.token = "tok"
			}
			r = a.do("GET", "/v1/executions?partition=0", nil, "Origin", "http://ok.example")
			if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "http://ok.example" {
				t.Fatalf("allowed request: %d %v", r.status, r.header)
			}
			r = a.do("GET", "/v1/executions?partition=0", nil, "Origin", "http://evil.example")
			if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("disallowed request: %d %v", r.status, r.header)
			}
		})
	}
}

func TestParseCORSOrigins(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", " ", ",", " , "} {
		if _, err := server.ParseCORSOrigins(bad); err == nil {
			t.Errorf("ParseCORSOrigins(%q) accepted", bad)
		}
	}
	got, err := server.ParseCORSOrigins(" http://a.example ,*,")
	if err != nil || len(got) != 2 || got[0] != "http://a.example" || got[1] != "*" {
		t.Fatalf("got %q, %v", got, err)
	}
}
