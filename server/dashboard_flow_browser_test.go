package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/server"
)

// The dashboard draws a flow as a picture of its DAG, in a real
// Chromium: a box per member coloured by state and an arrow per edge
// coloured by state, redrawn as the flow runs; the empty state's command
// creates a flow; a box opens its execution.
func TestDashboardFlowInChromium(t *testing.T) {
	ctx := newBrowser(t)
	b := testdb.Open(t)
	srv, err := server.New(b, server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	must(t, "load dashboard", chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(`body[data-flows-loaded="1"]`),
		chromedp.WaitVisible(`#flows-empty pre.cmd`),
	))
	status, out, example := runExample(t, text(t, ctx, `#flows-empty pre.cmd`), ts.URL+"/v1/flows", "")
	if status != http.StatusCreated {
		t.Fatalf("the flow example: %d %s", status, out)
	}
	flow := uuid.MustParse(example["flow_id"].(string))

	// A diamond A → {B, C} → D, each on its own lane.
	post := func(path string, body any) []byte {
		t.Helper()
		resp, out := postJSON(t, ts.URL+path, body)
		if resp.StatusCode >= 300 {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, out)
		}
		return out
	}
	ids := map[string]string{}
	for _, name := range []string{"a", "b", "c", "d"} {
		id := backend.NewExecutionID(0).String()
		ids[name] = id
		post("/v1/executions", map[string]any{"execution_id": id, "namespace": "ns", "lane_id": name, "execution_kind": "step",
			"input_payload": []int{}, "priority": 0, "creator_identity": "browser-test", "partition_id": 0, "now": 0})
		post("/v1/flows/"+flow.String()+"/members", map[string]any{"flow_id": flow, "execution_id": id, "now": 0})
	}
	rev := 4
	for _, e := range [][2]string{{"a", "b"}, {"a", "c"}, {"b", "d"}, {"c", "d"}} {
		edge := uuid.New()
		post("/v1/flows/"+flow.String()+"/edges", map[string]any{"flow_id": flow, "edge_id": edge, "upstream_execution_id": ids[e[0]],
			"downstream_execution_id": ids[e[1]], "expected_graph_revision": rev, "now": 0})
		rev++
		post("/v1/flows/"+flow.String()+"/edges/apply", map[string]any{"flow_id": flow, "edge_id": edge, "upstream_execution_id": ids[e[0]],
			"downstream_execution_id": ids[e[1]], "graph_revision": rev, "now": 0})
	}
	node := func(name, state string) string {
		return fmt.Sprintf(`#flow-graph g.node[data-id=%q][data-state=%q]`, ids[name], state)
	}
	edge := func(from, to, state string) string {
		return fmt.Sprintf(`#flow-graph path.edge[data-from=%q][data-to=%q][data-state=%q]`, ids[from], ids[to], state)
	}
	must(t, "flow picture", chromedp.Do(ctx,
		chromedp.WaitVisible(fmt.Sprintf(`#flows tr[data-id=%q]`, flow)),
		chromedp.Click(fmt.Sprintf(`#flows tr[data-id=%q]`, flow)),
		chromedp.WaitVisible(fmt.Sprintf(`#flow-view[data-id=%q]`, flow)),
		chromedp.WaitVisible(node("a", "waiting")),
		chromedp.WaitVisible(node("d", "waiting_children")),
		chromedp.WaitVisible(edge("a", "b", "unsatisfied")),
		chromedp.WaitVisible(edge("c", "d", "unsatisfied")),
	))
	// The layout: one column per layer, A left of B and C, D right of both.
	xs, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]float64](`(() => {
		const out = {};
		for (const g of document.querySelectorAll("#flow-graph g.node")) out[g.dataset.id] = g.getBoundingClientRect().x;
		return out;
	})()`))
	must(t, "positions", err)
	if !(xs[ids["a"]] < xs[ids["b"]] && xs[ids["b"]] == xs[ids["c"]] && xs[ids["c"]] < xs[ids["d"]]) {
		t.Fatalf("node columns %v", xs)
	}
	edges, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#flow-graph path.edge").length`))
	must(t, "edge count", err)
	if edges != 4 {
		t.Fatalf("%d edges drawn", edges)
	}
	// It redraws as the flow runs: A completes, B fails → D skipped.
	run := func(lane string, ok bool) {
		t.Helper()
		var l struct{ Handle string }
		out := post("/v1/worker/claim", map[string]any{"worker_id": "w", "worker_instance_id": "w-1", "lane_id": lane, "lease_ttl_ms": 30000})
		if err := json.Unmarshal(out, &l); err != nil {
			t.Fatal(err)
		}
		if ok {
			post("/v1/worker/complete", map[string]any{"handle": l.Handle})
		} else {
			post("/v1/worker/fail", map[string]any{"handle": l.Handle, "class": "permanent", "reason": "boom"})
		}
	}
	run("a", true)
	must(t, "after A", chromedp.Do(ctx,
		chromedp.WaitVisible(node("a", "completed")),
		chromedp.WaitVisible(node("b", "waiting")),
		chromedp.WaitVisible(edge("a", "b", "satisfied")),
		chromedp.WaitVisible(edge("a", "c", "satisfied")),
	))
	run("b", false)
	must(t, "after B failed", chromedp.Do(ctx,
		chromedp.WaitVisible(node("b", "failed")),
		chromedp.WaitVisible(node("d", "skipped")),
		chromedp.WaitVisible(edge("b", "d", "impossible")),
		chromedp.WaitVisible(edge("c", "d", "unsatisfied")),
	))
	stroke, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		fmt.Sprintf(`getComputedStyle(document.querySelector(%q)).stroke`, edge("b", "d", "impossible"))))
	must(t, "edge colour", err)
	if stroke != "rgb(240, 113, 120)" {
		t.Fatalf("an impossible edge is drawn %s", stroke)
	}
	fill, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		fmt.Sprintf(`getComputedStyle(document.querySelector(%q)).stroke`, node("a", "completed")+" rect")))
	must(t, "node colour", err)
	if fill != "rgb(127, 217, 98)" {
		t.Fatalf("a completed box is drawn %s", fill)
	}
	if s := text(t, ctx, `#flow-meta`); !strings.Contains(s, "4 members · 4 edges") {
		t.Fatalf("flow meta %q", s)
	}
	shot(t, ctx, "dashboard-flow.png")
	// A box opens its execution.
	must(t, "open D", chromedp.Do(ctx,
		chromedp.Click(node("d", "skipped")),
		chromedp.WaitVisible(fmt.Sprintf(`#detail[data-id=%q]`, ids["d"])),
	))
	if s := text(t, ctx, `#detail-vector`); !strings.Contains(s, "skipped") {
		t.Fatalf("D's state vector %q", s)
	}
}
