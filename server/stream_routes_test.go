package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/server"
)

// streamAPI is a server on a fixed clock with one claimed execution.
func streamAPI(t *testing.T, cfg server.Config, hook func(*server.Server)) (*api, *testdb.Clock, backend.ExecutionID, *wireLease) {
	t.Helper()
	clk := testdb.NewClock(epoch)
	a := newHookedAPI(t, testdb.OpenMemory(t, testdb.WithClock(clk.Now)), cfg, hook)
	id := a.create(7, nil)
	l := a.claim(nil)
	if l == nil {
		t.Fatal("nothing claimed")
	}
	return a, clk, id, l
}

func (a *api) appendFrame(l *wireLease, extra map[string]any) reply {
	a.t.Helper()
	body := map[string]any{"handle": l.Handle, "frame_type": "stdout", "payload": "x"}
	for k, v := range extra {
		body[k] = v
	}
	return a.do("POST", "/v1/worker/frames", body)
}

func streamURL(id backend.ExecutionID, idx int, tail bool, query string) string {
	p := fmt.Sprintf("%s/attempts/%d/stream", ep(id), idx)
	if tail {
		p += "/tail"
	}
	if query != "" {
		p += "?" + query
	}
	return p
}

func TestStreamRoutesAppendAndRead(t *testing.T) {
	t.Parallel()
	a, _, id, l := streamAPI(t, server.Config{}, nil)
	a.appendFrame(l, map[string]any{"payload": "hello", "correlation_id": "c1"}).
		want(t, 200, fmt.Sprintf(`{"stream_id":"%d-0","frame_count":1}`, epoch))
	a.appendFrame(l, map[string]any{"payload": []int{104, 105}}).
		want(t, 200, fmt.Sprintf(`{"stream_id":"%d-1","frame_count":2}`, epoch))
	a.appendFrame(l, map[string]any{"frame_type": "summary", "mode": "summary", "payload": `{"done":1}`}).
		want(t, 200, fmt.Sprintf(`{"stream_id":"%d-2","frame_count":3,"summary_version":1}`, epoch))
	a.do("GET", streamURL(id, 0, false, "limit=2"), nil).want(t, 200, fmt.Sprintf(`{"frames":[`+
		`{"id":"%[1]d-0","fields":{"frame_type":"stdout","ts":"%[1]d","payload":"hello","encoding":"utf8","source":"worker","mode":"durable","correlation_id":"c1"}},`+
		`{"id":"%[1]d-1","fields":{"frame_type":"stdout","ts":"%[1]d","payload":"hi","encoding":"utf8","source":"worker","mode":"durable"}}],"count":2}`, epoch))
	// Pagination: from is inclusive.
	r := a.do("GET", streamURL(id, 0, false, fmt.Sprintf("from=%d-1&to=end", epoch)), nil)
	if r.status != 200 || !strings.Contains(r.body, `"count":2`) || !strings.Contains(r.body, `"summary_version":"1"`) {
		t.Fatalf("page 2: %d %s", r.status, r.body)
	}
	// Another attempt's stream is its own (empty).
	a.do("GET", streamURL(id, 1, false, ""), nil).want(t, 200, `{"frames":[],"count":0}`)
	// The tail's fast path answers at once.
	r = a.do("GET", streamURL(id, 0, true, fmt.Sprintf("after=%d-1&block_ms=30000", epoch)), nil)
	if r.status != 200 || !strings.Contains(r.body, `"count":1`) {
		t.Fatalf("tail: %d %s", r.status, r.body)
	}
	// Complete closes the stream: both routes report it.
	a.complete(l, nil).want(t, 200, `"Completed"`)
	closed := fmt.Sprintf(`"closed_at":%d,"closed_reason":"attempt_success"}`, epoch)
	if r := a.do("GET", streamURL(id, 0, false, "from=start&limit=1"), nil); !strings.HasSuffix(r.body, `"count":1,`+closed) {
		t.Fatalf("read after complete: %s", r.body)
	}
	a.do("GET", streamURL(id, 0, true, fmt.Sprintf("after=%d-2&block_ms=30000", epoch)), nil).
		want(t, 200, `{"frames":[],"count":0,`+closed)
	// Appends after the end: 409 state_conflict.
	r = a.appendFrame(l, nil)
	if r.status != 409 || !strings.Contains(r.body, `"error":"state_conflict: StreamClosed`) || !strings.Contains(r.body, `"kind":"state_conflict","retryable":false`) {
		t.Fatalf("append after complete: %d %s", r.status, r.body)
	}
}

func TestStreamRoutesBadInput(t *testing.T) {
	t.Parallel()
	a, _, id, l := streamAPI(t, server.Config{}, nil)
	plain := func(msg string) string { return "Failed to deserialize query string: " + msg + "\n" }
	cases := []struct {
		name, path string
		status     int
		body       string
	}{
		{"limit 0", streamURL(id, 0, false, "limit=0"), 400, `{"error":"limit must be >= 1"}`},
		{"limit 1001", streamURL(id, 0, false, "limit=1001"), 400, `{"error":"limit exceeds REST ceiling 1000; paginate via from/to for larger spans"}`},
		{"tail limit 1001", streamURL(id, 0, true, "limit=1001"), 400, `{"error":"limit exceeds REST ceiling 1000; paginate via after for larger spans"}`},
		{"limit not a number", streamURL(id, 0, false, "limit=x"), 400, plain("limit: invalid digit found in string")},
		{"bare -", streamURL(id, 0, false, "from=-"), 400, plain(`from: invalid stream cursor "-": bare - is not accepted; expected start, end, <ms> or <ms>-<seq>`)},
		{"bare +", streamURL(id, 0, false, "to=%2B"), 400, plain(`to: invalid stream cursor "+": bare + is not accepted; expected start, end, <ms> or <ms>-<seq>`)},
		{"garbage", streamURL(id, 0, false, "from=1-x"), 400, plain(`from: invalid stream cursor "1-x": expected start, end, <ms> or <ms>-<seq>`)},
		{"tail garbage", streamURL(id, 0, true, "after=abc"), 400, plain(`after: invalid stream cursor "abc": expected start, end, <ms> or <ms>-<seq>`)},
		{"tail start", streamURL(id, 0, true, "after=start"), 400, `{"error":"after: XREAD cursor must be a concrete entry id; pass '0-0' to start from the beginning"}`},
		{"block over", streamURL(id, 0, true, "block_ms=30001"), 400, `{"error":"block_ms exceeds 30000ms ceiling"}`},
		{"block negative", streamURL(id, 0, true, "block_ms=-1"), 400, plain("block_ms: invalid digit found in string")},
		{"bad idx", ep(id) + "/attempts/x/stream", 400, "Invalid URL: Cannot parse `x` to a `u32`\n"},
		{"unknown execution", streamURL(backend.NewExecutionID(7), 0, false, ""), 404, ""},
	}
	for _, tc := range cases {
		r := a.do("GET", tc.path, nil)
		if r.status != tc.status || (tc.body != "" && r.body != tc.body) {
			t.Errorf("%s: %d %q; want %d %q", tc.name, r.status, r.body, tc.status, tc.body)
		}
	}
	appends := []struct {
		name   string
		extra  map[string]any
		status int
		prefix string
	}{
		{"summary not JSON", map[string]any{"mode": "summary", "payload": "nope"}, 400, `{"error":"invalid_input: summary frame payload must be a JSON object`},
		{"too large", map[string]any{"payload": strings.Repeat("x", 65537)}, 400, `{"error":"retention_limit_exceeded: frame payload is 65537 bytes`},
		{"bad mode", map[string]any{"mode": "x"}, 400, `{"error":"invalid_input: mode: must be`},
		{"empty type", map[string]any{"frame_type": ""}, 400, `{"error":"invalid_frame_type: frame_type: must not be empty"}`},
		{"payload of bad bytes", map[string]any{"payload": []int{300}}, 422, `{"error":"invalid JSON: Unprocessable Entity"}`},
	}
	for _, tc := range appends {
		r := a.appendFrame(l, tc.extra)
		if r.status != tc.status || !strings.HasPrefix(r.body, tc.prefix) {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
	}
	a.do("POST", "/v1/worker/frames", map[string]any{"handle": l.Handle, "frame_type": "x"}).
		want(t, 422, `{"error":"invalid JSON: Unprocessable Entity"}`)
	// A stale handle: 409 stale_owner_cannot_append as state_conflict.
	a.do("POST", ep(id)+"/revoke-lease", nil)
	r := a.appendFrame(l, nil)
	if r.status != 409 || !strings.HasPrefix(r.body, `{"error":"state_conflict: StaleOwnerCannotAppend (lease_revoked`) {
		t.Errorf("revoked: %d %s", r.status, r.body)
	}
	if r := a.do("GET", streamURL(id, 0, false, ""), nil); r.body != `{"frames":[],"count":0}` {
		t.Errorf("refused appends wrote frames: %s", r.body)
	}
}

// TestStreamRoutesTailWakes: a tail blocked on an empty stream answers
// the frame appended through the server, woken by the append (the poll
// period is an hour, so only the wake-up can end the wait in time).
func TestStreamRoutesTailWakes(t *testing.T) {
	t.Parallel()
	waiting := make(chan struct{}, 1)
	a, _, id, l := streamAPI(t, server.Config{ClaimPoll: 1 << 62}, func(s *server.Server) {
		server.SetStreamWaitHook(s, func() { waiting <- struct{}{} })
	})
	got := make(chan reply)
	go func() { got <- a.do("GET", streamURL(id, 0, true, "after=0-0&block_ms=30000"), nil) }()
	<-waiting
	a.appendFrame(l, map[string]any{"payload": "woke"}).want(t, 200, fmt.Sprintf(`{"stream_id":"%d-0","frame_count":1}`, epoch))
	r := <-got
	if r.status != 200 || !strings.Contains(r.body, `"payload":"woke"`) || strings.Contains(r.body, "closed") {
		t.Fatalf("tail: %d %s", r.status, r.body)
	}
}

// TestStreamRoutesTailTimeout: nothing arrives → empty and open.
func TestStreamRoutesTailTimeout(t *testing.T) {
	t.Parallel()
	a, _, id, _ := streamAPI(t, server.Config{}, nil)
	a.do("GET", streamURL(id, 0, true, "block_ms=1"), nil).want(t, 200, `{"frames":[],"count":0}`)
	a.do("GET", streamURL(id, 0, true, ""), nil).want(t, 200, `{"frames":[],"count":0}`)
}

// TestStreamRoutesBurst: with N tails held waiting, the next stream read
// is 429 resource_exhausted; once they end a read succeeds again.
func TestStreamRoutesBurst(t *testing.T) {
	t.Parallel()
	const n = 4
	waiting := make(chan struct{}, n)
	a, _, id, l := streamAPI(t, server.Config{MaxStreamOps: n, ClaimPoll: 1 << 62}, func(s *server.Server) {
		server.SetStreamWaitHook(s, func() { waiting <- struct{}{} })
	})
	var wg sync.WaitGroup
	results := make(chan reply, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- a.do("GET", streamURL(id, 0, true, "block_ms=30000"), nil)
		}()
	}
	for range n {
		<-waiting
	}
	want := fmt.Sprintf(`{"error":"too many concurrent stream_ops calls (server max: %d); retry with backoff","kind":"resource_exhausted","retryable":true}`, n)
	a.do("GET", streamURL(id, 0, false, ""), nil).want(t, http.StatusTooManyRequests, want)
	a.do("GET", streamURL(id, 0, true, ""), nil).want(t, http.StatusTooManyRequests, want)
	a.appendFrame(l, nil) // wakes every tail
	wg.Wait()
	close(results)
	for r := range results {
		if r.status != 200 || !strings.Contains(r.body, `"count":1`) {
			t.Fatalf("held tail: %d %s", r.status, r.body)
		}
	}
	a.do("GET", streamURL(id, 0, false, "limit=1"), nil)
	if r := a.do("GET", streamURL(id, 0, false, ""), nil); r.status != 200 {
		t.Fatalf("after the burst: %d %s", r.status, r.body)
	}
}

func TestWorkerProgressRoute(t *testing.T) {
	t.Parallel()
	a, _, id, l := streamAPI(t, server.Config{}, nil)
	a.do("POST", "/v1/worker/progress", map[string]any{"handle": l.Handle, "progress_pct": 30, "message": "a third"}).want(t, 200, `"Ok"`)
	p, err := a.b.GetProgress(t.Context(), id)
	if err != nil || p == nil || p.Pct != 30 || p.Message != "a third" || p.UpdatedAt != epoch {
		t.Fatalf("progress = %+v, %v", p, err)
	}
	a.do("POST", "/v1/worker/progress", map[string]any{"handle": l.Handle, "progress_pct": 101, "message": ""}).
		want(t, 400, `{"error":"invalid_input: progress_pct: must be 0..=100 (got 101)"}`)
	a.complete(l, nil)
	r := a.do("POST", "/v1/worker/progress", map[string]any{"handle": l.Handle, "progress_pct": 50, "message": ""})
	if r.status != 409 || !strings.Contains(r.body, "execution_not_active") {
		t.Fatalf("after complete: %d %s", r.status, r.body)
	}
	var info map[string]any
	a.do("GET", ep(id), nil).decode(t, &info)
	if _, ok := info["progress_pct"]; ok {
		t.Fatal("route 3 shows progress; upstream's ExecutionInfo has no progress field")
	}
}

// TestStreamRoutesTailPollsForOtherWriters: a frame written without this
// process's append (as another process would, straight into the file) is
// found by the tail's periodic re-read.
func TestStreamRoutesTailPollsForOtherWriters(t *testing.T) {
	t.Parallel()
	waiting := make(chan struct{}, 64)
	a, _, id, _ := streamAPI(t, server.Config{ClaimPoll: 5 * time.Millisecond}, func(s *server.Server) {
		server.SetStreamWaitHook(s, func() { waiting <- struct{}{} })
	})
	got := make(chan reply)
	go func() { got <- a.do("GET", streamURL(id, 0, true, "block_ms=30000"), nil) }()
	<-waiting
	err := a.b.WriteTx(t.Context(), "test", func(ctx context.Context, tx *backend.Txn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO ff_stream_frame SELECT partition_key, execution_id, 0, 5, 0,
  '{"frame_type":"stdout","payload":"from elsewhere"}', 'durable', 5 FROM ff_exec_core`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.status != 200 || !strings.Contains(r.body, `"id":"5-0"`) || !strings.Contains(r.body, "from elsewhere") {
		t.Fatalf("tail: %d %s", r.status, r.body)
	}
}

// TestStreamRoutesLargeNumbers: a limit or block_ms that is a valid
// unsigned integer (upstream's usize / u64) but past ffsqlite's parse width
// fails the range check with upstream's JSON 400, not the query
// extractor's plain-text "invalid digit" (it is all digits); one past u64
// is the extractor's overflow message. Before the fix limit was parsed as
// 31 bits and block_ms as 63.
func TestStreamRoutesLargeNumbers(t *testing.T) {
	t.Parallel()
	a, _, id, _ := streamAPI(t, server.Config{}, nil)
	plain := func(msg string) string { return "Failed to deserialize query string: " + msg + "\n" }
	cases := []struct {
		name, path string
		body       string
	}{
		{"read limit 2^32", streamURL(id, 0, false, "limit=4294967296"), `{"error":"limit exceeds REST ceiling 1000; paginate via from/to for larger spans"}`},
		{"tail limit u64 max", streamURL(id, 0, true, "limit=18446744073709551615"), `{"error":"limit exceeds REST ceiling 1000; paginate via after for larger spans"}`},
		{"block_ms 2^63", streamURL(id, 0, true, "block_ms=9223372036854775808"), `{"error":"block_ms exceeds 30000ms ceiling"}`},
		{"limit past u64", streamURL(id, 0, false, "limit=18446744073709551616"), plain("limit: number too large to fit in target type")},
		{"block_ms past u64", streamURL(id, 0, true, "block_ms=18446744073709551616"), plain("block_ms: number too large to fit in target type")},
	}
	for _, tc := range cases {
		if r := a.do("GET", tc.path, nil); r.status != 400 || r.body != tc.body {
			t.Errorf("%s: %d %q; want 400 %q", tc.name, r.status, r.body, tc.body)
		}
	}
}
