package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/server"
)

// findChromium returns a Chromium binary. Without one the test skips with
// a clear message, except in CI, where .ci/run installs Debian's chromium
// and a missing browser is a failure.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium on PATH in CI: .ci/run must install Debian's chromium package")
	}
	t.Skip("dashboard browser test skipped: no chromium on PATH (apt-get install chromium)")
	return ""
}

// send sends a JSON request (body nil: none) with an optional bearer
// token and returns the status and body.
func send(t *testing.T, method, url, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	default:
		data, _ := json.Marshal(v)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func postJSON(t *testing.T, url string, body any) (*http.Response, []byte) {
	t.Helper()
	data, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp, buf.Bytes()
}

// curlLine is an empty state's command: curl -X METHOD 'URL' … -d 'JSON'.
var curlLine = regexp.MustCompile(`^curl -X (\w+) '([^']+)'(.*) -d '(.*)'$`)

// runExample runs an empty state's curl command over HTTP (the command is
// the user's next step, so it must work as printed) and returns the
// status, the answer and the JSON body it sent.
func runExample(t *testing.T, cmd, wantURL, token string) (int, []byte, map[string]any) {
	t.Helper()
	m := curlLine.FindStringSubmatch(strings.TrimSpace(cmd))
	if m == nil || m[2] != wantURL {
		t.Fatalf("empty state command %q, want a curl line for %s", cmd, wantURL)
	}
	if token != "" && !strings.Contains(m[3], `-H "Authorization: Bearer $FF_API_TOKEN"`) {
		t.Fatalf("command %q lacks the token header", cmd)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(m[4]), &body); err != nil {
		t.Fatalf("command %q: body: %v", cmd, err)
	}
	status, out := send(t, m[1], m[2], token, m[4])
	return status, out, body
}

// newBrowser starts a headless Chromium; the returned context bounds the
// whole test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(findChromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1280, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancelT := context.WithTimeout(ctx, 150*time.Second)
	t.Cleanup(cancelT)
	return ctx
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	must(t, "text of "+sel, err)
	return s
}

// shot saves a full-page screenshot in $FFSQLITE_SCREENSHOT_DIR (or the
// test's temporary directory).
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	must(t, "screenshot", err)
	if len(png) < 1000 {
		t.Fatalf("screenshot is %d bytes", len(png))
	}
	dir := os.Getenv("FFSQLITE_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, name)
	must(t, "write screenshot", os.WriteFile(path, png, 0o644))
	t.Logf("screenshot: %s", path)
}

// escID is an execution id in a REST path.
func escID(id string) string {
	return strings.NewReplacer("{", "%7B", "}", "%7D").Replace(id)
}

func TestDashboardInChromium(t *testing.T) {
	ctx := newBrowser(t)
	clk := testdb.NewClock(epoch)
	b := testdb.Open(t, testdb.WithClock(clk.Now))
	srv, err := server.New(b, server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	must(t, "load dashboard", chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(`body[data-loaded="1"]`),
	))

	// Empty states say what to do next, with commands that work as shown.
	must(t, "empty states", chromedp.Do(ctx,
		chromedp.WaitVisible(`#executions-empty pre.cmd`),
		chromedp.WaitVisible(`#budgets-empty pre.cmd`),
		chromedp.WaitVisible(`#workers-empty pre.cmd`),
		chromedp.WaitVisible(`#scanners-empty`),
	))
	if s := text(t, ctx, `#scanners-empty`); !strings.Contains(s, "ffsqlite scan --db PATH") {
		t.Fatalf("scanners empty state: %q", s)
	}
	shot(t, ctx, "dashboard-empty.png")
	status, out, budget := runExample(t, text(t, ctx, `#budgets-empty pre.cmd`), ts.URL+"/v1/budgets", "")
	if status != http.StatusCreated {
		t.Fatalf("the budget example: %d %s", status, out)
	}
	status, out, example := runExample(t, text(t, ctx, `#executions-empty pre.cmd`), ts.URL+"/v1/executions", "")
	if status != http.StatusCreated {
		t.Fatalf("the execution example: %d %s", status, out)
	}
	exampleID := example["execution_id"].(string)
	must(t, "example execution shown", chromedp.Do(ctx,
		chromedp.WaitVisible(fmt.Sprintf(`tr[data-id=%q][data-state="waiting"]`, exampleID)),
		chromedp.WaitNotVisible(`#executions-empty`),
	))
	// The worker example claims it.
	status, out, _ = runExample(t, text(t, ctx, `#workers-empty pre.cmd`), ts.URL+"/v1/worker/claim", "")
	var lease struct {
		ExecutionID string `json:"execution_id"`
		Handle      string `json:"handle"`
	}
	if status != http.StatusOK || json.Unmarshal(out, &lease) != nil || lease.ExecutionID != exampleID {
		t.Fatalf("the worker example: %d %s", status, out)
	}
	must(t, "worker and active execution shown", chromedp.Do(ctx,
		chromedp.WaitVisible(`#workers tr[data-id="my-worker-1"][data-status="alive"]`),
		chromedp.WaitVisible(fmt.Sprintf(`tr[data-id=%q][data-state="active"]`, exampleID)),
	))
	if resp, body := postJSON(t, ts.URL+"/v1/worker/complete", map[string]any{"handle": lease.Handle, "result": []int{111, 107}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("complete: %d %s", resp.StatusCode, body)
	}
	must(t, "completed detail", chromedp.Do(ctx,
		chromedp.WaitVisible(fmt.Sprintf(`tr[data-id=%q][data-state="completed"]`, exampleID)),
		chromedp.Click(fmt.Sprintf(`tr[data-id=%q]`, exampleID)),
		chromedp.WaitVisible(fmt.Sprintf(`#detail[data-id=%q] #detail-summary tr[data-field="result"]`, exampleID)),
		chromedp.WaitVisible(`#detail-attempts tbody td`),
	))
	if s := text(t, ctx, `#detail-summary tr[data-field="result"]`); !strings.Contains(s, "2 bytes") {
		t.Fatalf("result size: %q", s)
	}
	if s := text(t, ctx, `#detail-vector`); !strings.Contains(s, "terminal") {
		t.Fatalf("state vector: %q", s)
	}
	if s := text(t, ctx, `#detail-attempts`); !strings.Contains(s, "my-worker-1") {
		t.Fatalf("attempts: %q", s)
	}
	if s := text(t, ctx, `.chip[data-state="completed"] b`); s != "1" {
		t.Fatalf("completed count chip = %q, want 1", s)
	}

	// A failed attempt with a retry: the detail shows the failure reason
	// and when it runs again.
	flaky := backend.NewExecutionID(0).String()
	if resp, body := postJSON(t, ts.URL+"/v1/executions", map[string]any{
		"execution_id": flaky, "namespace": "ns", "lane_id": "default", "execution_kind": "flaky",
		"input_payload": []int{}, "priority": 50, "creator_identity": "browser-test", "partition_id": 0, "now": 0,
		"policy": map[string]any{"retry_policy": map[string]any{"max_retries": 1, "backoff": map[string]any{"type": "fixed", "delay_ms": 60000}}},
	}); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	resp, body := postJSON(t, ts.URL+"/v1/worker/claim", map[string]any{"worker_id": "w", "worker_instance_id": "w-2", "lane_id": "default", "lease_ttl_ms": 30000})
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &lease) != nil || lease.ExecutionID != flaky {
		t.Fatalf("claim: %d %s", resp.StatusCode, body)
	}
	if resp, body := postJSON(t, ts.URL+"/v1/worker/fail", map[string]any{"handle": lease.Handle, "class": "transient", "reason": "flaky upstream"}); resp.StatusCode != http.StatusOK {
		t.Fatalf("fail: %d %s", resp.StatusCode, body)
	}
	must(t, "failure detail", chromedp.Do(ctx,
		chromedp.WaitVisible(fmt.Sprintf(`tr[data-id=%q][data-state="delayed"]`, flaky)),
		chromedp.Click(fmt.Sprintf(`tr[data-id=%q]`, flaky)),
		chromedp.WaitVisible(fmt.Sprintf(`#detail[data-id=%q] #detail-summary tr[data-field="failure"]`, flaky)),
	))
	if s := text(t, ctx, `#detail-summary tr[data-field="failure"]`); !strings.Contains(s, "transient: flaky upstream") {
		t.Fatalf("failure: %q", s)
	}
	if s := text(t, ctx, `#detail-summary tr[data-field="delay"]`); !strings.Contains(s, "in 60s") {
		t.Fatalf("retry time: %q", s)
	}
	if s := text(t, ctx, `#detail-summary tr[data-field="result"]`); !strings.Contains(s, "none") {
		t.Fatalf("no result yet: %q", s)
	}

	// A soft breach is marked on the budget and its dimension.
	budgetID := budget["budget_id"].(string)
	if resp, body := postJSON(t, ts.URL+"/v1/budgets/"+budgetID+"/usage", map[string]any{"dimensions": map[string]int{"tokens": 900}, "now": 0}); resp.StatusCode != http.StatusOK ||
		!strings.Contains(string(body), "SoftBreach") {
		t.Fatalf("usage: %d %s", resp.StatusCode, body)
	}
	must(t, "soft breach marked", chromedp.Do(ctx,
		chromedp.WaitVisible(fmt.Sprintf(`.budget[data-id=%q][data-status="soft_breach"] .dim[data-dim="tokens"][data-status="over_soft"] .badge`, budgetID)),
	))
	if s := text(t, ctx, fmt.Sprintf(`.budget[data-id=%q]`, budgetID)); !strings.Contains(s, "soft limit passed") || !strings.Contains(s, "over the soft limit") {
		t.Fatalf("budget: %q", s)
	}

	// The action buttons, end to end: change the priority, cancel, replay.
	w := backend.NewExecutionID(0).String()
	if resp, body := postJSON(t, ts.URL+"/v1/executions", map[string]any{
		"execution_id": w, "namespace": "ns", "lane_id": "other", "execution_kind": "job",
		"input_payload": []int{}, "priority": 0, "creator_identity": "browser-test", "partition_id": 0, "now": 0,
	}); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	must(t, "priority change", chromedp.Do(ctx,
		chromedp.Click(fmt.Sprintf(`tr[data-id=%q][data-state="waiting"]`, w)),
		chromedp.WaitVisible(fmt.Sprintf(`#detail[data-id=%q] #act-priority:not([disabled])`, w)),
		chromedp.SetValue(`#act-priority-value`, "7"),
		chromedp.Click(`#act-priority`),
		chromedp.WaitVisible(`#act-status[data-action="priority"][data-result="ok"]`),
		chromedp.WaitVisible(fmt.Sprintf(`tr[data-id=%q][data-state="waiting"]`, w)),
	))
	if status, body := send(t, "GET", ts.URL+"/v1/executions/"+escID(w), "", nil); status != http.StatusOK || !strings.Contains(string(body), `"priority":7`) {
		t.Fatalf("after the priority button: %d %s", status, body)
	}
	must(t, "cancel", chromedp.Do(ctx,
		chromedp.Click(`#act-cancel`),
		chromedp.WaitVisible(`#act-status[data-action="cancel"][data-result="ok"]`),
		chromedp.WaitVisible(fmt.Sprintf(`tr[data-id=%q][data-state="cancelled"]`, w)),
		chromedp.WaitVisible(`#detail-summary tr[data-field="cancellation"]`),
	))
	if status, body := send(t, "GET", ts.URL+"/v1/executions/"+escID(w)+"/state", "", nil); status != http.StatusOK || string(body) != `"cancelled"` {
		t.Fatalf("after the cancel button: %d %s", status, body)
	}
	if s := text(t, ctx, `#act-status`); s != "cancel: Cancelled" {
		t.Fatalf("cancel status line: %q", s)
	}
	must(t, "replay", chromedp.Do(ctx,
		chromedp.WaitVisible(`#act-replay:not([disabled])`),
		chromedp.Click(`#act-replay`),
		chromedp.WaitVisible(`#act-status[data-action="replay"][data-result="ok"]`),
		chromedp.WaitVisible(fmt.Sprintf(`tr[data-id=%q][data-state="waiting"]`, w)),
	))
	if status, body := send(t, "GET", ts.URL+"/v1/executions/"+escID(w)+"/state", "", nil); status != http.StatusOK || string(body) != `"waiting"` {
		t.Fatalf("after the replay button: %d %s", status, body)
	}
	// A refused action shows the envelope's message.
	must(t, "refused replay", chromedp.Do(ctx,
		chromedp.Click(fmt.Sprintf(`tr[data-id=%q]`, flaky)),
		chromedp.WaitVisible(fmt.Sprintf(`#detail[data-id=%q] #act-cancel:not([disabled])`, flaky)),
	))
	// The button is disabled for a non-terminal execution; run its action
	// anyway, as a click would.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`act("replay", "POST", "/replay"); true`))
	must(t, "click replay", err)
	must(t, "refused replay answer", chromedp.Do(ctx,
		chromedp.WaitVisible(`#act-status[data-action="replay"][data-result="error"]`),
	))
	if s := text(t, ctx, `#act-status`); !strings.HasPrefix(s, "replay: error 409: ") {
		t.Fatalf("refused replay status line: %q", s)
	}

	// Workers past their liveness TTL are marked expired.
	clk.Advance(5 * time.Minute)
	must(t, "expired worker", chromedp.Do(ctx,
		chromedp.WaitVisible(`#workers tr.expired[data-id="my-worker-1"][data-status="expired"]`),
	))
	if s := text(t, ctx, `#workers tr[data-id="my-worker-1"]`); !strings.Contains(s, "expired") {
		t.Fatalf("expired worker row: %q", s)
	}

	shot(t, ctx, "dashboard.png")

	// With FF_API_TOKEN, the page opened as /#token=… sends the token on
	// its reads and its actions; its commands name $FF_API_TOKEN.
	const token = "browser-tok"
	srv2, err := server.New(testdb.Open(t), server.Config{APIToken: token})
	if err != nil {
		t.Fatal(err)
	}
	ts2 := httptest.NewServer(srv2.Handler())
	defer ts2.Close()
	must(t, "load with token", chromedp.Do(ctx,
		chromedp.Navigate(ts2.URL+"/#token="+token),
		chromedp.WaitVisible(`body[data-loaded="1"]`),
		chromedp.WaitVisible(`#executions-empty pre.cmd`),
	))
	status, out, example = runExample(t, text(t, ctx, `#executions-empty pre.cmd`), ts2.URL+"/v1/executions", token)
	if status != http.StatusCreated {
		t.Fatalf("the execution example with a token: %d %s", status, out)
	}
	tid := example["execution_id"].(string)
	must(t, "cancel with token", chromedp.Do(ctx,
		chromedp.Click(fmt.Sprintf(`tr[data-id=%q][data-state="waiting"]`, tid)),
		chromedp.WaitVisible(fmt.Sprintf(`#detail[data-id=%q] #act-cancel:not([disabled])`, tid)),
		chromedp.Click(`#act-cancel`),
		chromedp.WaitVisible(`#act-status[data-action="cancel"][data-result="ok"]`),
	))
	if status, body := send(t, "GET", ts2.URL+"/v1/executions/"+escID(tid)+"/state", token, nil); status != http.StatusOK || string(body) != `"cancelled"` {
		t.Fatalf("after the cancel button with a token: %d %s", status, body)
	}
}
