package server_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/server"
)

// Tests of the worker loop's fewer round trips: claim with max, complete
// and fail with claim_next (worker_next.go), and the idle-connection
// timeout.

// leaseIDs decodes {"leases":[…]} into the execution ids, in order.
func leaseIDs(t *testing.T, r reply) []string {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("claim with max: %d %s", r.status, r.body)
	}
	var out struct {
		Leases []wireLease `json:"leases"`
	}
	r.decode(t, &out)
	ids := make([]string, len(out.Leases))
	for i, l := range out.Leases {
		if l.Handle == "" || l.LeaseEpoch == 0 {
			t.Fatalf("lease %d incomplete: %+v", i, l)
		}
		ids[i] = l.ExecutionID
	}
	return ids
}

// POST /v1/worker/claim with max: up to max leases best first, as
// {"leases":[…]}; none is 204; a bad max is refused and claims nothing.
func TestWorkerClaimMax(t *testing.T) {
	t.Parallel()
	for _, mode := range backends {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, mode.open(t, testdb.WithClock(testdb.NewClock(epoch).Now)), server.Config{})
			var byPrio []string // best first
			for _, p := range []int{1, 9, 5, 7, 3} {
				byPrio = append(byPrio, a.create(0, map[string]any{"priority": p}).String())
			}
			byPrio = []string{byPrio[1], byPrio[3], byPrio[2], byPrio[4], byPrio[0]}

			for _, bad := range []struct{ max, want string }{
				{`0`, `{"error":"invalid_input: max: must be 1..=100 (got 0)"}`},
				{`101`, `{"error":"invalid_input: max: must be 1..=100 (got 101)"}`},
				{`-1`, `{"error":"invalid_input: max: must be 1..=100 (got -1)"}`},
				{`99999999999999999999`, `{"error":"invalid_input: max: must be 1..=100 (got 99999999999999999999)"}`},
			} {
				body := `{"worker_id":"w","worker_instance_id":"w-1","lane_id":"default","lease_ttl_ms":30000,"max":` + bad.max + `}`
				a.do("POST", "/v1/worker/claim", body).wantJSON(t, http.StatusBadRequest, bad.want)
			}
			for _, bad := range []string{`"3"`, `1.5`, `2e0`, `[2]`} {
				body := `{"worker_id":"w","worker_instance_id":"w-1","lane_id":"default","lease_ttl_ms":30000,"max":` + bad + `}`
				a.do("POST", "/v1/worker/claim", body).wantJSON(t, http.StatusUnprocessableEntity, `{"error":"invalid JSON: Unprocessable Entity"}`)
			}
			if n := sqlCount(t, a.b, `SELECT count(*) FROM ff_attempt`); n != 0 {
				t.Fatalf("refused claims created %d attempts", n)
			}
			if n := sqlCount(t, a.b, `SELECT count(*) FROM ff_worker_registry`); n != 0 {
				t.Fatalf("refused claims registered %d workers", n)
			}

			if got := leaseIDs(t, a.do("POST", "/v1/worker/claim", claimArgs(map[string]any{"max": 3}))); strings.Join(got, " ") != strings.Join(byPrio[:3], " ") {
				t.Fatalf("max 3 leased %v, want %v", got, byPrio[:3])
			}
			if got := leaseIDs(t, a.do("POST", "/v1/worker/claim", claimArgs(map[string]any{"max": 100}))); strings.Join(got, " ") != strings.Join(byPrio[3:], " ") {
				t.Fatalf("max 100 leased %v, want the other two %v", got, byPrio[3:])
			}
			a.do("POST", "/v1/worker/claim", claimArgs(map[string]any{"max": 2})).want(t, http.StatusNoContent, "")
			// Without max, the single-lease answer, as before.
			id := a.create(0, nil)
			if l := a.claim(map[string]any{"max": nil}); l == nil || l.ExecutionID != id.String() {
				t.Fatalf("claim with max null: %+v", l)
			}
		})
	}
}

// A claim with max long-polls like a single claim: it answers with the
// leases once work lands.
func TestWorkerClaimMaxLongPoll(t *testing.T) {
	t.Parallel()
	a, waits := claimWaitAPI(t, server.Config{ClaimPoll: time.Hour})
	got := make(chan reply, 1)
	go func() {
		got <- a.do("POST", "/v1/worker/claim", claimArgs(map[string]any{"max": 10, "block_ms": 20_000}))
	}()
	select {
	case <-waits:
	case r := <-got:
		t.Fatalf("claim returned before any work: %d %s", r.status, r.body)
	case <-time.After(10 * time.Second):
		t.Fatal("the long-poll claim never started waiting for work")
	}
	id := a.create(0, nil)
	select {
	case r := <-got:
		if ids := leaseIDs(t, r); len(ids) != 1 || ids[0] != id.String() {
			t.Fatalf("long-poll with max leased %v, want [%s]", ids, id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long-poll claim with max not woken by the create")
	}
}

// nextAnswer decodes {"result":…,"next":…}: the raw result and the next
// lease (nil for null).
func nextAnswer(t *testing.T, r reply) (string, *wireLease) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("claim_next: %d %s", r.status, r.body)
	}
	var out struct {
		Result json.RawMessage `json:"result"`
		Next   *wireLease      `json:"next"`
	}
	r.decode(t, &out)
	if !strings.HasPrefix(r.body, `{"result":`) || !strings.Contains(r.body, `,"next":`) {
		t.Fatalf("claim_next answer %s: want {\"result\":…,\"next\":…}", r.body)
	}
	return string(out.Result), out.Next
}

// complete and fail with claim_next settle the lease, then answer the
// next lease (or null) beside the usual result.
func TestWorkerClaimNext(t *testing.T) {
	t.Parallel()
	for _, mode := range backends {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			clk := testdb.NewClock(epoch)
			bk := mode.open(t, testdb.WithClock(clk.Now))
			a := newAPI(t, bk, server.Config{})
			first := a.create(0, map[string]any{"priority": 9})
			second := a.create(0, map[string]any{"priority": 1, "policy": map[string]any{
				"retry_policy": map[string]any{"max_retries": 1, "backoff": map[string]any{"type": "fixed", "delay_ms": 1000}}}})
			l := a.claim(nil)
			if l == nil || l.ExecutionID != first.String() {
				t.Fatalf("first claim %+v", l)
			}
			txns := bk.GroupCommitStats().Batches
			res, next := nextAnswer(t, a.do("POST", "/v1/worker/complete", map[string]any{
				"handle": l.Handle, "result": []int{1}, "claim_next": claimArgs(nil)}))
			if res != `"Completed"` || next == nil || next.ExecutionID != second.String() || next.AttemptType != "initial" {
				t.Fatalf("complete with claim_next: result %s, next %+v", res, next)
			}
			// The complete and the claim of the next lease share one commit.
			if n := bk.GroupCommitStats().Batches - txns; n != 1 {
				t.Fatalf("complete with claim_next ran %d write transactions, want 1", n)
			}
			a.do("GET", ep(first)+"/state", nil).wantJSON(t, http.StatusOK, `"completed"`)

			// fail with claim_next: the retry is delayed, so no next yet.
			r := a.do("POST", "/v1/worker/fail", map[string]any{"handle": next.Handle, "class": "transient", "reason": "x",
				"claim_next": claimArgs(nil)})
			r.wantJSON(t, http.StatusOK, `{"result":{"RetryScheduled":{"delay_until":`+ms(epoch+1000)+`}},"next":null}`)
			clk.Advance(time.Second)
			retry := a.claim(nil)
			if retry == nil || retry.AttemptType != "retry" {
				t.Fatalf("retry claim %+v", retry)
			}
			a.do("POST", "/v1/worker/fail", map[string]any{"handle": retry.Handle, "class": "permanent", "reason": "x",
				"claim_next": claimArgs(map[string]any{"block_ms": 0})}).
				wantJSON(t, http.StatusOK, `{"result":"TerminalFailed","next":null}`)

			// claim_next null is no claim_next.
			a.create(0, nil)
			l = a.claim(nil)
			a.do("POST", "/v1/worker/complete", map[string]any{"handle": l.Handle, "claim_next": nil}).
				wantJSON(t, http.StatusOK, `"Completed"`)
		})
	}
}

// A bad claim_next is refused before the lease is settled: the execution
// stays active, the next one waiting, and the worker can still complete.
// A stale lease with claim_next claims nothing.
func TestWorkerClaimNextRefused(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{})
	id := a.create(0, nil)
	waiting := a.create(0, map[string]any{"priority": 0})
	l := a.claim(nil)
	if l == nil || l.ExecutionID != id.String() {
		t.Fatalf("claim %+v", l)
	}
	complete := func(next any) reply {
		return a.do("POST", "/v1/worker/complete", map[string]any{"handle": l.Handle, "claim_next": next})
	}
	unprocessable := `{"error":"invalid JSON: Unprocessable Entity"}`
	for _, c := range []struct {
		next   any
		status int
		body   string
	}{
		{claimArgs(map[string]any{"lane_id": ""}), 400, `{"error":"invalid_input: claim_next.lane_id: must be 1..=64 bytes (got 0)"}`},
		{claimArgs(map[string]any{"worker_id": ""}), 400, `{"error":"invalid_input: claim_next.worker_id: must not be empty"}`},
		{claimArgs(map[string]any{"lease_ttl_ms": -1}), 400, `{"error":"invalid_input: claim_next.lease_ttl_ms must be positive (got -1)"}`},
		{claimArgs(map[string]any{"block_ms": -1}), 400, `{"error":"invalid_input: claim_next.block_ms: must not be negative"}`},
		{claimArgs(map[string]any{"max": 2}), 400, `{"error":"invalid_input: claim_next.max: not accepted (next is one lease; claim a batch with /v1/worker/claim)"}`},
		{claimArgs(map[string]any{"block_ms": "5"}), 422, unprocessable},
		{map[string]any{"worker_id": "w", "worker_instance_id": "w-1", "lease_ttl_ms": 0}, 422, unprocessable},
		{map[string]any{"worker_id": "w", "worker_instance_id": "w-1", "lane_id": nil, "lease_ttl_ms": 0}, 422, unprocessable},
		{"default", 422, unprocessable},
		{[]int{1}, 422, unprocessable},
	} {
		complete(c.next).wantJSON(t, c.status, c.body)
	}
	a.do("POST", "/v1/worker/fail", map[string]any{"handle": l.Handle, "class": "transient", "reason": "x",
		"claim_next": claimArgs(map[string]any{"lane_id": ""})}).
		wantJSON(t, http.StatusBadRequest, `{"error":"invalid_input: claim_next.lane_id: must be 1..=64 bytes (got 0)"}`)
	a.do("GET", ep(id)+"/state", nil).wantJSON(t, http.StatusOK, `"active"`)
	a.do("GET", ep(waiting)+"/state", nil).wantJSON(t, http.StatusOK, `"waiting"`)
	if n := sqlCount(t, a.b, `SELECT count(*) FROM ff_attempt`); n != 1 {
		t.Fatalf("%d attempts after refused claim_next calls, want the one claim's", n)
	}

	a.complete(l, nil).wantJSON(t, http.StatusOK, `"Completed"`)
	// The settled lease again, with claim_next: 409, and nothing claimed.
	r := complete(claimArgs(nil))
	if r.status != http.StatusConflict || !strings.HasPrefix(r.body, `{"error":"stale_lease: `) {
		t.Fatalf("stale complete with claim_next: %d %s", r.status, r.body)
	}
	a.do("GET", ep(waiting)+"/state", nil).wantJSON(t, http.StatusOK, `"waiting"`)
}

// claim_next long-polls with its block_ms: the answer comes once work
// lands, with the settled result beside it.
func TestWorkerClaimNextLongPoll(t *testing.T) {
	t.Parallel()
	a, waits := claimWaitAPI(t, server.Config{ClaimPoll: time.Hour})
	a.create(0, nil)
	l := a.claim(nil)
	got := make(chan reply, 1)
	go func() {
		got <- a.do("POST", "/v1/worker/complete", map[string]any{"handle": l.Handle,
			"claim_next": claimArgs(map[string]any{"block_ms": 20_000})})
	}()
	select {
	case <-waits:
	case r := <-got:
		t.Fatalf("complete with claim_next answered before any work: %d %s", r.status, r.body)
	case <-time.After(10 * time.Second):
		t.Fatal("claim_next never started waiting for work")
	}
	id := a.create(0, nil)
	select {
	case r := <-got:
		if res, next := nextAnswer(t, r); res != `"Completed"` || next == nil || next.ExecutionID != id.String() {
			t.Fatalf("claim_next long-poll: result %s, next %+v; want %s", res, next, id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("claim_next long-poll not woken by the create")
	}
}

// An idle keep-alive connection is closed after Config.IdleTimeout.
func TestIdleConnectionsClosed(t *testing.T) {
	t.Parallel()
	b := testdb.Open(t)
	srv, err := server.New(b, server.Config{IdleTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	base, _ := liveServer(t, srv)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(conn)
	resp, err := http.ReadResponse(rd, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("healthz: %d, close %v", resp.StatusCode, resp.Close)
	}
	// The connection now idles; the server closes it (the read sees EOF)
	// well before this deadline.
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	start := time.Now()
	if _, err := rd.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("read on the idle connection: %v, want EOF (closed by the server)", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("closed after %v, before the idle timeout", d)
	}
	if server.DefaultIdleTimeout <= 0 {
		t.Fatal("no default idle timeout")
	}
}
