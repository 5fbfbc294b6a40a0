package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/server"
)

// loadClient is one load-test worker's view of the server.
type loadClient struct {
	base string
	c    *http.Client
	// outcomes counts responses by status.
	mu       sync.Mutex
	statuses map[int]int
	errs     []string
}

func (lc *loadClient) post(path string, body any) (int, []byte) {
	data, _ := json.Marshal(body)
	resp, err := lc.c.Post(lc.base+path, "application/json", bytes.NewReader(data))
	if err != nil {
		lc.fail("POST %s: %v", path, err)
		return 0, nil
	}
	out, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		lc.fail("POST %s: read: %v", path, err)
	}
	lc.mu.Lock()
	lc.statuses[resp.StatusCode]++
	lc.mu.Unlock()
	return resp.StatusCode, out
}

func (lc *loadClient) fail(format string, args ...any) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if len(lc.errs) < 20 {
		lc.errs = append(lc.errs, fmt.Sprintf(format, args...))
	}
}

// A bounded load test: 16 HTTP clients on a real loopback listener run
// create → claim → complete against one database file until the total is
// reached. Every execution completes exactly once, none is claimed twice,
// and no request gets a 5xx.
func TestLoadLifecycles(t *testing.T) {
	t.Parallel()
	const clients = 16
	total := int64(2000)
	if testing.Short() {
		total = 320
	}
	b := testdb.Open(t)
	srv, err := server.New(b, server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	base, _ := liveServer(t, srv)
	lc := &loadClient{base: base, c: keepAliveClient(clients), statuses: map[int]int{}}

	var (
		reserved  atomic.Int64
		completed atomic.Int64
		claimed   sync.Map // execution id → lease id
		dupClaims atomic.Int64
		stop      atomic.Bool
	)
	claimAndComplete := func(worker string) bool {
		status, body := lc.post("/v1/worker/claim", claimArgs(map[string]any{"worker_instance_id": worker}))
		if status != http.StatusOK {
			if status != http.StatusNoContent {
				lc.fail("claim: %d %s", status, body)
			}
			return false
		}
		var l wireLease
		if err := json.Unmarshal(body, &l); err != nil {
			lc.fail("claim body %q: %v", body, err)
			return false
		}
		if prev, dup := claimed.LoadOrStore(l.ExecutionID, l.LeaseID); dup {
			dupClaims.Add(1)
			lc.fail("%s claimed twice (leases %v and %s)", l.ExecutionID, prev, l.LeaseID)
		}
		status, body = lc.post("/v1/worker/complete", map[string]any{"handle": l.Handle, "result": []int{1}})
		if status != http.StatusOK || string(body) != `"Completed"` {
			lc.fail("complete %s: %d %s", l.ExecutionID, status, body)
			return false
		}
		completed.Add(1)
		return true
	}

	start := time.Now()
	timer := time.AfterFunc(90*time.Second, func() { stop.Store(true) })
	defer timer.Stop()
	var wg sync.WaitGroup
	for w := range clients {
		worker := fmt.Sprintf("load-%d", w)
		wg.Go(func() {
			for !stop.Load() && reserved.Add(1) <= total {
				id := backend.NewExecutionID(uint16(w))
				if status, body := lc.post("/v1/executions", createArgs(id, nil)); status != http.StatusCreated {
					lc.fail("create: %d %s", status, body)
					continue
				}
				// The claim may take another client's execution; that is fine.
				claimAndComplete(worker)
			}
		})
	}
	wg.Wait()
	// Whatever a lost race left waiting is drained.
	for !stop.Load() && completed.Load() < total && claimAndComplete("drain") {
	}
	elapsed := time.Since(start)
	if stop.Load() {
		t.Fatalf("load test did not finish within 90s (%d of %d completed)", completed.Load(), total)
	}

	for _, e := range lc.errs {
		t.Error(e)
	}
	for status, n := range lc.statuses {
		if status >= 500 {
			t.Errorf("%d responses with status %d", n, status)
		}
	}
	if dupClaims.Load() != 0 {
		t.Errorf("%d executions claimed twice", dupClaims.Load())
	}
	if got := completed.Load(); got != total {
		t.Errorf("%d completions acknowledged, want %d", got, total)
	}
	// The database agrees: every execution completed exactly once, on its
	// only attempt, with exactly one completion event.
	for _, c := range []struct {
		what  string
		query string
	}{
		{"executions", `SELECT count(*) FROM ff_exec_core`},
		{"completed executions", `SELECT count(*) FROM ff_exec_core WHERE public_state = 'completed'`},
		{"attempts", `SELECT count(*) FROM ff_attempt`},
		{"successful attempts", `SELECT count(*) FROM ff_attempt WHERE outcome = 'success'`},
		{"completion events", `SELECT count(*) FROM ff_completion_event`},
		{"executions with a success event", `SELECT count(DISTINCT execution_id) FROM ff_completion_event WHERE outcome = 'success'`},
	} {
		if got := sqlCount(t, b, c.query); got != total {
			t.Errorf("%s: %d, want %d", c.what, got, total)
		}
	}
	t.Logf("%d lifecycles (%d requests) by %d clients in %v: %.0f lifecycles/s; statuses %v",
		total, lc.statuses[200]+lc.statuses[201]+lc.statuses[204], clients, elapsed.Round(time.Millisecond),
		float64(total)/elapsed.Seconds(), lc.statuses)
}
