package server_test

// Bodies and paths that encoding/json or Go's ServeMux would take but
// ff-server refuses (found by a review of the HTTP layer's bad input).

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/server"
)

const (
	bodySyntaxError = `{"error":"invalid JSON: Bad Request"}`
	bodyShapeError  = `{"error":"invalid JSON: Unprocessable Entity"}`
)

// tableSnapshot renders every row of every table, to compare the database
// before and after a refused request.
func tableSnapshot(t testing.TB, b *backend.Backend) string {
	t.Helper()
	db := b.ReaderDB()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	rows.Close()
	var sb strings.Builder
	for _, n := range names {
		r, err := db.Query(`SELECT * FROM "` + n + `" ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := r.Columns()
		for r.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := r.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&sb, "%s %v\n", n, vals)
		}
		r.Close()
	}
	return sb.String()
}

// createBody is a valid route-2 body for a fresh id with extra (raw JSON
// members, starting with a comma) appended inside the object.
func createBodyWith(extra string) (backend.ExecutionID, string) {
	id := backend.NewExecutionID(0)
	return id, `{"execution_id":"` + id.String() + `","namespace":"ns","lane_id":"default","execution_kind":"k",` +
		`"input_payload":[],"priority":1,"creator_identity":"c","partition_id":0,"now":0` + extra + `}`
}

// A policy nested deeper than SQLite's JSON_MAX_DEPTH (1000) but within
// encoding/json's 10000 is accepted and stored verbatim. Every later SQL
// json_extract over it fails: a create reusing its idempotency key is a
// 500, and once it is claimed the attempt-timeout reconciler fails on
// every pass, for every execution. serde_json (ff-server) stops at depth
// 128 with a syntax error: 400 "invalid JSON: Bad Request".
func TestDeepPolicyRefused(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{})
	deep := strings.Repeat("[", 1001) + strings.Repeat("]", 1001)
	_, body := createBodyWith(`,"idempotency_key":"k1","policy":{"x":` + deep + `}}`)
	body = strings.TrimSuffix(body, "}") // the policy closes the object
	if r := a.do("POST", "/v1/executions", body); r.status != http.StatusBadRequest || r.body != bodySyntaxError {
		t.Errorf("deep policy: got %d %s, want 400 %s", r.status, r.body, bodySyntaxError)
	}
	// Whatever the first answer, nothing after it may be a 5xx.
	_, again := createBodyWith(`,"idempotency_key":"k1"`)
	if r := a.do("POST", "/v1/executions", again); r.status >= 500 {
		t.Errorf("a create reusing the idempotency key: %d %s", r.status, r.body)
	}
	for a.claim(nil) != nil {
	}
	if _, err := a.b.TimeoutAttempts(context.Background(), epoch+1, 100); err != nil {
		t.Errorf("attempt-timeout reconciler: %v", err)
	}
}

// Duplicate object keys: serde's derived Deserialize refuses them
// ("duplicate field"), a data error: 422. encoding/json keeps the last,
// and SQLite's json_extract over the stored policy reads the first, so
// the engine disagrees with itself: a duplicated policy.quota_policy_id is
// validated against one quota and admitted against the other (here:
// none, so a max_concurrent 1 quota lets two executions run).
func TestDuplicateKeysRefused(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{})
	a.create(0, nil)
	l := a.claim(nil)
	id := a.create(0, nil)
	before := tableSnapshot(t, a.b)
	_, dupTop := createBodyWith(`,"namespace":"other"`)
	_, dupPolicy := createBodyWith(`,"policy":{"priority":1,"priority":2}`)
	for _, c := range []struct{ name, method, path, body string }{
		{"create top level", "POST", "/v1/executions", dupTop},
		{"create policy", "POST", "/v1/executions", dupPolicy},
		{"cancel", "POST", ep(id) + "/cancel", `{"execution_id":"` + id.String() + `","reason":"a","reason":"b","now":0}`},
		{"priority", "PUT", ep(id) + "/priority", `{"new_priority":1,"new_priority":2}`},
		{"claim", "POST", "/v1/worker/claim", `{"worker_id":"w","worker_instance_id":"w-1","lane_id":"x","lane_id":"default","lease_ttl_ms":1000}`},
		{"complete", "POST", "/v1/worker/complete", `{"handle":"` + l.Handle + `","result":[1],"result":[2]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			a.do(c.method, c.path, c.body).wantJSON(t, http.StatusUnprocessableEntity, bodyShapeError)
		})
	}
	if after := tableSnapshot(t, a.b); after != before {
		t.Error("refused duplicate-key bodies changed the database")
	}

	t.Run("quota attachment", func(t *testing.T) {
		a, _ := fileAPI(t, server.Config{})
		q := uuid.NewString()
		a.do("POST", "/v1/quotas", `{"quota_policy_id":"`+q+`","window_seconds":0,"max_requests_per_window":0,"max_concurrent":1,"now":0}`).
			wantJSON(t, http.StatusCreated, `{"Created":{"quota_policy_id":"`+q+`"}}`)
		for range 2 {
			_, body := createBodyWith(`,"policy":{"quota_policy_id":"` + uuid.NewString() + `","quota_policy_id":"` + q + `"}`)
			if r := a.do("POST", "/v1/executions", body); r.status < 400 || r.status >= 500 {
				t.Errorf("duplicated quota_policy_id: got %d %s, want a 4xx", r.status, r.body)
			}
		}
		n := 0
		for a.claim(nil) != nil {
			n++
		}
		if n > 1 {
			t.Errorf("%d executions of a max_concurrent 1 quota are running at once", n)
		}
	})
}

// A lone surrogate escape ("\ud800") is not a Unicode scalar: serde_json
// refuses it in a string (a syntax error, 400); encoding/json decodes it
// to U+FFFD, which docs/http-api.md rules out ("never decoded with
// U+FFFD").
func TestLoneSurrogateRefused(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{})
	a.create(0, nil)
	l := a.claim(nil)
	before := tableSnapshot(t, a.b)
	_, create := createBodyWith(`,"idempotency_key":"\ud800"`)
	_, tail := createBodyWith(`,"tags":{"k":"a\udc00b"}`)
	for _, c := range []struct{ name, path, body string }{
		{"create leading", "/v1/executions", create},
		{"create trailing", "/v1/executions", tail},
		{"frame payload", "/v1/worker/frames", `{"handle":"` + l.Handle + `","frame_type":"stdout","payload":"\ud83d"}`},
		{"fail reason", "/v1/worker/fail", `{"handle":"` + l.Handle + `","class":"permanent","reason":"\ud800"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			a.do("POST", c.path, c.body).wantJSON(t, http.StatusBadRequest, bodySyntaxError)
		})
	}
	if after := tableSnapshot(t, a.b); after != before {
		t.Error("bodies with lone surrogates changed the database")
	}
	// A proper pair is fine.
	id, ok := createBodyWith(`,"idempotency_key":"\ud83d\ude00"`)
	a.do("POST", "/v1/executions", ok).
		wantJSON(t, http.StatusCreated, `{"Created":{"execution_id":"`+id.String()+`","public_state":"waiting"}}`)
}

// ServeMux "cleans" paths with //, /./ or /../ by answering a 307 with an
// HTML body (a POST keeps its method and body, so a client following it
// re-posts to another route). ff-server (axum) routes the path as sent:
// no route matches, 404 with an empty body.
func TestNonCanonicalPathIs404(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{"//v1/executions?partition=0", "/v1/./executions", "/v1/executions/../budgets", "/v1/worker//claim"} {
		for _, m := range []string{"GET", "POST"} {
			req, err := http.NewRequest(m, a.url+p, strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound || len(body) != 0 {
				t.Errorf("%s %s: %d (Location %q) %q, want 404 and an empty body", m, p, resp.StatusCode, resp.Header.Get("Location"), body)
			}
		}
	}
}

// Renew takes 0 as "the TTL the lease was granted with"; a negative TTL
// is silently the same, where claim and claim-grant refuse it with 400.
func TestRenewNegativeTTLRefused(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{})
	a.create(0, nil)
	a.do("POST", "/v1/worker/claim", claimArgs(map[string]any{"lease_ttl_ms": -1})).
		wantJSON(t, http.StatusBadRequest, `{"error":"invalid_input: lease_ttl_ms must be positive (got -1)"}`)
	l := a.claim(nil)
	before := tableSnapshot(t, a.b)
	a.do("POST", "/v1/worker/renew", map[string]any{"handle": l.Handle, "lease_ttl_ms": -1}).
		wantJSON(t, http.StatusBadRequest, `{"error":"invalid_input: lease_ttl_ms must be positive (got -1)"}`)
	if after := tableSnapshot(t, a.b); after != before {
		t.Error("a refused renew changed the database")
	}
}

// TestStalledBodyTimesOut: a client that sends the headers and part of
// the body, then nothing, gets a 408 envelope once the body read timeout
// has passed (before: no answer ever; ReadHeaderTimeout covers only the
// headers), and the connection closes.
func TestStalledBodyTimesOut(t *testing.T) {
	t.Parallel()
	srv, err := server.New(testdb.Open(t), server.Config{BodyReadTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	base, _ := liveServer(t, srv)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST /v1/worker/claim HTTP/1.1\r\nHost: 127.0.0.1\r\n"+
		"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"worker_id\":"); err != nil {
		t.Fatal(err)
	}
	// A bound on the test, not the condition it waits for: the answer is
	// due 200 ms after the body stalled.
	if err := conn.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || string(body) != `{"error":"request body not received in time"}` {
		t.Fatalf("stalled body: %d %q, want 408 and the envelope", resp.StatusCode, body)
	}
}

// TestFieldNamesCaseSensitive: serde takes a field only under its exact
// name and ignores other keys; encoding/json matches names ignoring case,
// so "NAMESPACE" used to override "namespace". Such keys are now ignored,
// at the top level and inside nested objects.
func TestFieldNamesCaseSensitive(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{})
	id, body := createBodyWith(`,"NAMESPACE":"other","Execution_Kind":"other"`)
	a.do("POST", "/v1/executions", body).
		wantJSON(t, http.StatusCreated, `{"Created":{"execution_id":"`+id.String()+`","public_state":"waiting"}}`)
	r := a.do("GET", ep(id), nil)
	if !strings.Contains(r.body, `"namespace":"ns"`) || !strings.Contains(r.body, `"execution_kind":"k"`) {
		t.Errorf("a key of another case overrode a field: %s", r.body)
	}
	// Nested: the claim_next of a complete, decoded on its own.
	l := a.claim(nil)
	a.create(0, nil)
	r = a.do("POST", "/v1/worker/complete", `{"handle":"`+l.Handle+`","claim_next":{"worker_id":"w","worker_instance_id":"w-1",`+
		`"lane_id":"default","LANE_ID":"nope","lease_ttl_ms":1000}}`)
	if r.status != http.StatusOK || !strings.Contains(r.body, `"next":{`) {
		t.Errorf("complete with claim_next and a LANE_ID key: %d %s, want the next lease from lane default", r.status, r.body)
	}
}
