package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/server"
)

// The execution page shows the worker's progress and its attempt's
// stream live: frames appended while the page is open appear without a
// reload (route 16's long-poll), and the view reports the close once the
// worker completes.
func TestDashboardStreamInChromium(t *testing.T) {
	findChromium(t)
	b := testdb.Open(t)
	srv, err := server.New(b, server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close) // after the browser's cleanups: no tail left open
	ctx := newBrowser(t)

	id := backend.NewExecutionID(0).String()
	if resp, body := postJSON(t, ts.URL+"/v1/executions", map[string]any{
		"execution_id": id, "namespace": "ns", "lane_id": "default", "execution_kind": "report",
		"input_payload": []int{}, "priority": 0, "creator_identity": "browser-test", "partition_id": 0, "now": 0,
	}); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	resp, body := postJSON(t, ts.URL+"/v1/worker/claim", map[string]any{
		"worker_id": "w", "worker_instance_id": "w-1", "lane_id": "default", "lease_ttl_ms": 60000})
	var lease struct {
		Handle string `json:"handle"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &lease) != nil {
		t.Fatalf("claim: %d %s", resp.StatusCode, body)
	}
	frame := func(payload string) {
		t.Helper()
		if resp, body := postJSON(t, ts.URL+"/v1/worker/frames", map[string]any{
			"handle": lease.Handle, "frame_type": "stdout", "payload": payload}); resp.StatusCode != http.StatusOK {
			t.Fatalf("append: %d %s", resp.StatusCode, body)
		}
	}
	frame("loading rows")
	frame("rows loaded: 1200")
	if resp, body := postJSON(t, ts.URL+"/v1/worker/progress", map[string]any{
		"handle": lease.Handle, "progress_pct": 50, "message": "half way"}); resp.StatusCode != http.StatusOK {
		t.Fatalf("progress: %d %s", resp.StatusCode, body)
	}

	must(t, "open the execution", chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(fmt.Sprintf(`tr[data-id=%q][data-state="active"]`, id)),
		chromedp.Click(fmt.Sprintf(`tr[data-id=%q]`, id)),
		chromedp.WaitVisible(`#detail-stream li:nth-child(2)`),
		chromedp.WaitVisible(`#detail-summary tr[data-field="progress"]`),
		chromedp.WaitVisible(`#stream-meta[data-state="open"]`),
	))
	if s := text(t, ctx, `#detail-summary tr[data-field="progress"]`); !strings.Contains(s, "50% half way") {
		t.Fatalf("progress row: %q", s)
	}
	if s := text(t, ctx, `#detail-stream`); !strings.Contains(s, "loading rows") || !strings.Contains(s, "rows loaded: 1200") {
		t.Fatalf("stream: %q", s)
	}
	// A frame appended now shows up live, then the close.
	frame("writing report")
	must(t, "live frame", chromedp.Do(ctx, chromedp.WaitVisible(`#detail-stream li:nth-child(3)`)))
	if s := text(t, ctx, `#detail-stream li:nth-child(3)`); !strings.Contains(s, "writing report") {
		t.Fatalf("third frame: %q", s)
	}
	shot(t, ctx, "dashboard-stream.png")
	if resp, body := postJSON(t, ts.URL+"/v1/worker/complete", map[string]any{"handle": lease.Handle}); resp.StatusCode != http.StatusOK {
		t.Fatalf("complete: %d %s", resp.StatusCode, body)
	}
	must(t, "closed", chromedp.Do(ctx, chromedp.WaitVisible(`#detail-stream-box[data-closed="attempt_success"] #stream-meta[data-state="closed"]`)))
	if s := text(t, ctx, `#stream-meta`); !strings.Contains(s, "3 frames") || !strings.Contains(s, "closed attempt_success") {
		t.Fatalf("stream meta: %q", s)
	}
}
