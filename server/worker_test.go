package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/server"
)

// No work: 204 with an empty body, at once or after block_ms.
func TestWorkerClaimNoWork(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{MaxBlock: 2 * time.Second})
	start := time.Now()
	if l := a.claim(nil); l != nil {
		t.Fatalf("claimed %+v from an empty database", l)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("non-blocking claim took %v", d)
	}
	start = time.Now()
	if l := a.claim(map[string]any{"block_ms": 300}); l != nil {
		t.Fatalf("claimed %+v", l)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 2*time.Second {
		t.Fatalf("block_ms 300 answered after %v", d)
	}
	// block_ms is capped by Config.MaxBlock.
	start = time.Now()
	if l := a.claim(map[string]any{"block_ms": 600_000}); l != nil {
		t.Fatalf("claimed %+v", l)
	}
	if d := time.Since(start); d < 2*time.Second || d > 5*time.Second {
		t.Fatalf("block_ms capped at 2s answered after %v", d)
	}
	// Another lane's work is not this lane's.
	a.create(0, map[string]any{"lane_id": "other"})
	if l := a.claim(nil); l != nil {
		t.Fatalf("claimed another lane's %s", l.ExecutionID)
	}
	// Work needing a capability the worker lacks is not claimable.
	a.create(0, map[string]any{"policy": map[string]any{
		"routing_requirements": map[string]any{"required_capabilities": []string{"gpu"}}}})
	if l := a.claim(nil); l != nil {
		t.Fatalf("claimed %s without the gpu capability", l.ExecutionID)
	}
	if l := a.claim(map[string]any{"capabilities": []string{"gpu", "x"}}); l == nil {
		t.Fatal("worker with gpu got no work")
	}
}

// claimWaitAPI is fileAPI with a channel that receives each time a
// blocked worker claim starts waiting for work (the server's claimWait
// hook); signals nobody reads yet are dropped beyond a small buffer.
func claimWaitAPI(t testing.TB, cfg server.Config) (*api, <-chan struct{}) {
	t.Helper()
	waits := make(chan struct{}, 4)
	b := testdb.Open(t, testdb.WithClock(testdb.NewClock(epoch).Now))
	a := newHookedAPI(t, b, cfg, func(s *server.Server) {
		server.SetClaimWaitHook(s, func() {
			select {
			case waits <- struct{}{}:
			default:
			}
		})
	})
	return a, waits
}

// A long-poll claim returns as soon as a create lands, not at block_ms.
func TestWorkerClaimLongPoll(t *testing.T) {
	t.Parallel()
	a, waits := claimWaitAPI(t, server.Config{ClaimPoll: time.Hour}) // only the create's wake-up can end it early
	type result struct {
		l  *wireLease
		at time.Time
	}
	got := make(chan result, 1)
	go func() {
		l := a.claim(map[string]any{"block_ms": 20_000})
		got <- result{l, time.Now()}
	}()
	// The claim is blocked once its first, empty claim has run and it
	// waits for work.
	select {
	case <-waits:
	case r := <-got:
		t.Fatalf("claim returned before any work: %+v", r.l)
	case <-time.After(10 * time.Second):
		t.Fatal("the long-poll claim never started waiting for work")
	}
	select {
	case r := <-got:
		t.Fatalf("claim returned before any work: %+v", r.l)
	default:
	}
	created := time.Now()
	id := a.create(0, nil)
	select {
	case r := <-got:
		if r.l == nil || r.l.ExecutionID != id.String() {
			t.Fatalf("long-poll got %+v, want %s", r.l, id)
		}
		if d := r.at.Sub(created); d > 2*time.Second {
			t.Fatalf("long-poll answered %v after the create", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long-poll claim not woken by the create")
	}
}

// Work written behind the server's back (another process, the Go API) is
// found by the blocked claim's periodic retry.
func TestWorkerClaimLongPollSeesOtherWriters(t *testing.T) {
	t.Parallel()
	a, waits := claimWaitAPI(t, server.Config{ClaimPoll: 20 * time.Millisecond})
	got := make(chan *wireLease, 1)
	go func() { got <- a.claim(map[string]any{"block_ms": 10_000}) }()
	select {
	case <-waits: // the claim found nothing and is blocked
	case l := <-got:
		t.Fatalf("claim returned before any work: %+v", l)
	case <-time.After(10 * time.Second):
		t.Fatal("the long-poll claim never started waiting for work")
	}
	id := backend.NewExecutionID(0)
	if _, err := a.b.CreateExecution(context.Background(), backend.CreateExecutionArgs{ExecutionID: id, Namespace: "ns",
		LaneID: "default", ExecutionKind: "k", CreatorIdentity: "go"}); err != nil {
		t.Fatal(err)
	}
	select {
	case l := <-got:
		if l == nil || l.ExecutionID != id.String() {
			t.Fatalf("got %+v, want %s", l, id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocked claim never saw the Go API's create")
	}
}

// Fail with a retry policy: transient → RetryScheduled (delayed), the
// retry becomes claimable at delay_until, and the last retry's failure is
// terminal.
func TestWorkerFailRetryThenTerminal(t *testing.T) {
	t.Parallel()
	for _, mode := range backends {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			clk := testdb.NewClock(epoch)
			a := newAPI(t, mode.open(t, testdb.WithClock(clk.Now)), server.Config{})
			id := a.create(0, map[string]any{"policy": map[string]any{
				"retry_policy": map[string]any{"max_retries": 1, "backoff": map[string]any{"type": "fixed", "delay_ms": 1000}}}})
			l := a.claim(nil)
			a.do("POST", "/v1/worker/fail", map[string]any{"handle": l.Handle, "class": "transient", "reason": "flaky"}).
				wantJSON(t, http.StatusOK, `{"RetryScheduled":{"delay_until":`+ms(epoch+1000)+`}}`)
			a.do("GET", ep(id)+"/state", nil).wantJSON(t, http.StatusOK, `"delayed"`)
			// The failed attempt's handle is dead.
			if r := a.complete(l, nil); r.status != http.StatusConflict || !strings.Contains(r.body, `"kind":"contention"`) {
				t.Fatalf("complete after fail: %d %s", r.status, r.body)
			}
			// Not before delay_until.
			clk.Advance(999 * time.Millisecond)
			if l2 := a.claim(nil); l2 != nil {
				t.Fatalf("retry claimed early: %+v", l2)
			}
			clk.Advance(time.Millisecond)
			l2 := a.claim(nil)
			if l2 == nil || l2.ExecutionID != id.String() || l2.AttemptType != "retry" || l2.AttemptIndex != 1 || l2.LeaseEpoch != 2 {
				t.Fatalf("retry lease %+v", l2)
			}
			a.do("POST", "/v1/worker/fail", map[string]any{"handle": l2.Handle, "class": "transient", "reason": "still flaky"}).
				wantJSON(t, http.StatusOK, `"TerminalFailed"`)
			a.do("GET", ep(id)+"/state", nil).wantJSON(t, http.StatusOK, `"failed"`)

			// A permanent failure is terminal at once, retry policy or not.
			perm := a.create(0, map[string]any{"policy": map[string]any{"retry_policy": map[string]any{"max_retries": 5}}})
			l3 := a.claim(nil)
			a.do("POST", "/v1/worker/fail", map[string]any{"handle": l3.Handle, "class": "permanent", "reason": "bad input"}).
				wantJSON(t, http.StatusOK, `"TerminalFailed"`)
			a.do("GET", ep(perm)+"/state", nil).wantJSON(t, http.StatusOK, `"failed"`)
			a.do("GET", ep(perm)+"/result", nil).
				wantJSON(t, http.StatusNotFound, `{"error":"execution result not found: `+perm.String()+`"}`)
		})
	}
}

// Every worker call is fenced: a second complete, an expired lease and a
// handle whose lease was reclaimed under a new epoch are 409s.
func TestWorkerStaleLease(t *testing.T) {
	t.Parallel()
	clk := testdb.NewClock(epoch)
	a := newAPI(t, testdb.Open(t, testdb.WithClock(clk.Now)), server.Config{})
	conflict := func(r reply, code string) {
		t.Helper()
		if r.status != http.StatusConflict || !strings.HasPrefix(r.body, `{"error":"`+code+`: `) ||
			!strings.HasSuffix(r.body, `","kind":"contention","retryable":true}`) {
			t.Fatalf("got %d %s, want 409 %s", r.status, r.body, code)
		}
	}

	// Complete twice.
	a.create(0, nil)
	l := a.claim(map[string]any{"lease_ttl_ms": 1000})
	a.complete(l, nil).wantJSON(t, http.StatusOK, `"Completed"`)
	conflict(a.complete(l, nil), "stale_lease")
	conflict(a.do("POST", "/v1/worker/renew", map[string]any{"handle": l.Handle, "lease_ttl_ms": 1000}), "stale_lease")
	conflict(a.do("POST", "/v1/worker/fail", map[string]any{"handle": l.Handle, "class": "transient", "reason": ""}), "stale_lease")

	// Expired lease.
	id := a.create(0, nil)
	l = a.claim(map[string]any{"lease_ttl_ms": 1000})
	clk.Advance(1000 * time.Millisecond)
	conflict(a.complete(l, []int{1}), "lease_expired")
	conflict(a.do("POST", "/v1/worker/renew", map[string]any{"handle": l.Handle, "lease_ttl_ms": 1000}), "lease_expired")

	// The lease-expiry reconciler requeues it; the reclaim runs under a new
	// epoch and the old handle stays dead.
	if _, err := a.b.ExpireLeases(context.Background(), clk.MS(), 100); err != nil {
		t.Fatal(err)
	}
	l2 := a.claim(nil)
	if l2 == nil || l2.ExecutionID != id.String() || l2.LeaseEpoch <= l.LeaseEpoch {
		t.Fatalf("reclaim lease %+v after %+v", l2, l)
	}
	conflict(a.complete(l, []int{1}), "stale_lease")
	a.complete(l2, []int{2}).wantJSON(t, http.StatusOK, `"Completed"`)
	a.do("GET", ep(id)+"/result", nil).want(t, http.StatusOK, "\x02")

	// A handle minted for another backend is a 400, not a 409.
	other := backend.EncodeHandle(backend.HandleFresh, backend.HandlePayload{})
	other.Backend = backend.BackendValkey
	r := a.do("POST", "/v1/worker/complete", map[string]any{"handle": other.String()})
	if r.status != http.StatusBadRequest || !strings.HasPrefix(r.body, `{"error":"handle_from_other_backend: `) {
		t.Fatalf("foreign handle: %d %s", r.status, r.body)
	}
}
