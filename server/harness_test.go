package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/server"
)

// epoch is the fixed engine clock of the byte-exact tests.
const epoch = int64(1_700_000_000_000)

// api is one server under test with its HTTP client.
type api struct {
	t     testing.TB
	b     *backend.Backend
	srv   *server.Server
	url   string
	c     *http.Client
	token string // sent as a bearer token when set
}

// newAPI serves b through httptest with cfg.
func newAPI(t testing.TB, b *backend.Backend, cfg server.Config) *api {
	t.Helper()
	return newHookedAPI(t, b, cfg, nil)
}

// newHookedAPI is newAPI with hook (when not nil) called on the server
// before it serves, to set its test hooks.
func newHookedAPI(t testing.TB, b *backend.Backend, cfg server.Config, hook func(*server.Server)) *api {
	t.Helper()
	srv, err := server.New(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if hook != nil {
		hook(srv)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &api{t: t, b: b, srv: srv, url: ts.URL, c: ts.Client()}
}

// fileAPI is a server over a fresh database file on a fixed clock.
func fileAPI(t testing.TB, cfg server.Config) (*api, *testdb.Clock) {
	clk := testdb.NewClock(epoch)
	return newAPI(t, testdb.Open(t, testdb.WithClock(clk.Now)), cfg), clk
}

// backends are the two storage modes every round-trip test runs against.
var backends = []struct {
	name string
	open func(testing.TB, ...testdb.Option) *backend.Backend
}{
	{"file", testdb.Open},
	{"memory", testdb.OpenMemory},
}

// reply is a response with its body read.
type reply struct {
	status int
	header http.Header
	body   string
}

// do sends method path with body: nil (no body), string or []byte (raw) or
// anything else (marshalled). A body gets Content-Type application/json
// unless hdr sets one ("Content-Type", "" sends none). hdr is name, value
// pairs ("Host" sets the request's Host).
func (a *api) do(method, path string, body any, hdr ...string) reply {
	a.t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	case []byte:
		rd = bytes.NewReader(v)
	case io.Reader:
		rd = v
	default:
		data, err := json.Marshal(v)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, a.url+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" { // the client sends req.Host, not Header["Host"]
			req.Host = hdr[i+1]
			continue
		}
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := a.c.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

// want fails unless the reply has status and exactly body.
func (r reply) want(t testing.TB, status int, body string) {
	t.Helper()
	if r.status != status || r.body != body {
		t.Fatalf("got %d %s\nwant %d %s", r.status, r.body, status, body)
	}
}

// wantJSON fails unless the reply has status, a JSON content type and
// exactly body.
func (r reply) wantJSON(t testing.TB, status int, body string) {
	t.Helper()
	r.want(t, status, body)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
}

// decode unmarshals the body into v.
func (r reply) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

// q quotes s as a JSON string.
func q(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// ep is an execution id's path form, braces percent-encoded as clients
// send them.
func ep(id backend.ExecutionID) string {
	s := strings.ReplaceAll(id.String(), "{", "%7B")
	return "/v1/executions/" + strings.ReplaceAll(s, "}", "%7D")
}

// createArgs is a valid route-2 body; extra fields override.
func createArgs(id backend.ExecutionID, extra map[string]any) map[string]any {
	m := map[string]any{
		"execution_id": id.String(), "namespace": "ns", "lane_id": "default", "execution_kind": "email",
		"input_payload": []int{123, 125}, "priority": 5, "creator_identity": "tester",
		"partition_id": id.Partition, "now": epoch,
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// create submits an execution on partition p and returns its id.
func (a *api) create(p uint16, extra map[string]any) backend.ExecutionID {
	a.t.Helper()
	id := backend.NewExecutionID(p)
	r := a.do("POST", "/v1/executions", createArgs(id, extra))
	if r.status != http.StatusCreated {
		a.t.Fatalf("create: %d %s", r.status, r.body)
	}
	return id
}

// wireLease is the worker claim response.
type wireLease struct {
	ExecutionID  string `json:"execution_id"`
	AttemptIndex uint32 `json:"attempt_index"`
	AttemptType  string `json:"attempt_type"`
	LeaseID      string `json:"lease_id"`
	LeaseEpoch   uint64 `json:"lease_epoch"`
	ExpiresAtMS  int64  `json:"expires_at_ms"`
	InputPayload []int  `json:"input_payload"`
	Handle       string `json:"handle"`
}

func claimArgs(extra map[string]any) map[string]any {
	m := map[string]any{"worker_id": "w", "worker_instance_id": "w-1", "lane_id": "default", "lease_ttl_ms": 30000}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// claim claims the next execution of lane default; nil on 204.
func (a *api) claim(extra map[string]any) *wireLease {
	a.t.Helper()
	r := a.do("POST", "/v1/worker/claim", claimArgs(extra))
	switch r.status {
	case http.StatusNoContent:
		if r.body != "" {
			a.t.Fatalf("204 with a body: %q", r.body)
		}
		return nil
	case http.StatusOK:
		var l wireLease
		r.decode(a.t, &l)
		return &l
	}
	a.t.Fatalf("claim: %d %s", r.status, r.body)
	return nil
}

// complete completes the lease with result bytes.
func (a *api) complete(l *wireLease, result []int) reply {
	a.t.Helper()
	return a.do("POST", "/v1/worker/complete", map[string]any{"handle": l.Handle, "result": result})
}

// liveServer runs srv on a real loopback listener and returns its base URL
// and the Serve result channel.
func liveServer(t testing.TB, srv *server.Server) (string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String(), errc
}

// keepAliveClient is an HTTP client that reuses up to n connections.
func keepAliveClient(n int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost = n, n, n
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

// sqlCount runs a count query on the backend's reader.
func sqlCount(t testing.TB, b *backend.Backend, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := b.ReaderDB().QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func ms(v int64) string { return fmt.Sprint(v) }
