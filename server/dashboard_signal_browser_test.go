package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/server"
)

// The dashboard lists a suspended execution's waitpoint and delivers a
// signal (name and payload typed in the page) that resumes it; the
// resumed claim then carries that signal.
func TestDashboardDeliversSignal(t *testing.T) {
	chrome := findChromium(t)
	b := testdb.Open(t)
	if _, err := b.SeedWaitpointSecret(context.Background(), "k1", waitSecret); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(b, server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	// A worker suspends an execution on one waitpoint waiting for "approve".
	id := backend.NewExecutionID(0).String()
	if resp, body := postJSON(t, ts.URL+"/v1/executions", map[string]any{
		"execution_id": id, "namespace": "ns", "lane_id": "default", "execution_kind": "expense",
		"input_payload": []int{}, "priority": 0, "creator_identity": "browser-test", "partition_id": 0, "now": 0,
	}); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	claim := func() (string, []byte) {
		resp, body := postJSON(t, ts.URL+"/v1/worker/claim", map[string]any{
			"worker_id": "w", "worker_instance_id": "w-1", "lane_id": "default", "lease_ttl_ms": 30000})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("claim: %d %s", resp.StatusCode, body)
		}
		var l struct {
			Handle string `json:"handle"`
		}
		json.Unmarshal(body, &l)
		return l.Handle, body
	}
	handle, _ := claim()
	wp := uuid.NewString()
	var suspend map[string]any
	json.Unmarshal([]byte(suspendBody(handle, uuid.New(), uuid.MustParse(wp), "approval",
		`{"Single":{"waitpoint_key":"approval","matcher":{"ByName":"approve"}}}`, "")), &suspend)
	if resp, body := postJSON(t, ts.URL+"/v1/worker/suspend", suspend); resp.StatusCode != http.StatusOK {
		t.Fatalf("suspend: %d %s", resp.StatusCode, body)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()

	row := fmt.Sprintf(`#waitpoints tr[data-waitpoint=%q]`, wp)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(`body[data-loaded="1"]`),
		chromedp.WaitVisible(row),
	); err != nil {
		t.Fatalf("suspended execution's waitpoint never listed: %v", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(row))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, id) || !strings.Contains(text, "suspended") || !strings.Contains(text, "approve") ||
		!strings.Contains(text, "k1") {
		t.Fatalf("waitpoint row = %q", text)
	}
	tok, err := b.ReadWaitpointToken(context.Background(), backend.MustParseExecutionID(id), uuid.MustParse(wp))
	if err != nil {
		t.Fatal(err)
	}
	html, err := chromedp.Run(ctx, chromedp.OuterHTML("body"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, tok) {
		t.Fatal("the page shows the raw token")
	}

	// Deliver from the page: the name is prefilled from the condition.
	if err := chromedp.Do(ctx, chromedp.Click(row+` button.signal-open`), chromedp.WaitVisible(`#signal-form`)); err != nil {
		t.Fatalf("open the signal form: %v", err)
	}
	name, err := chromedp.Run(ctx, chromedp.Value(`#signal-name`))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(`#signal-payload`, `{"approved":true}`),
		chromedp.Click(`#signal-send`),
		chromedp.WaitVisible(`#signal-result[data-outcome="resume_condition_satisfied"]`),
	); err != nil {
		t.Fatalf("deliver from the page: %v", err)
	}
	if name != "approve" {
		t.Fatalf("prefilled signal name = %q", name)
	}
	if err := chromedp.Do(ctx,
		chromedp.WaitNotPresent(row),
		chromedp.WaitVisible(fmt.Sprintf(`#executions tr[data-id=%q][data-state="waiting"]`, id)),
	); err != nil {
		t.Fatalf("page did not follow the resume: %v", err)
	}

	// The resumed claim carries the browser's signal.
	_, body := claim()
	var l struct {
		Resumed bool `json:"resumed"`
		Signals []struct {
			SignalName string `json:"signal_name"`
			SourceType string `json:"source_type"`
			Raw        []int  `json:"payload"`
		} `json:"signals"`
	}
	json.Unmarshal(body, &l)
	if !l.Resumed || len(l.Signals) != 1 || l.Signals[0].SignalName != "approve" || l.Signals[0].SourceType != "human" {
		t.Fatalf("resumed claim = %s", body)
	}
	got := make([]byte, len(l.Signals[0].Raw))
	for i, c := range l.Signals[0].Raw {
		got[i] = byte(c)
	}
	if string(got) != `{"approved":true}` {
		t.Fatalf("payload = %q", got)
	}

	// Sending again to the waitpoint, which closed with the resume: the
	// page shows the server's error.
	if err := chromedp.Do(ctx, chromedp.Click(`#signal-send`), chromedp.WaitVisible(`#signal-result[data-outcome="error"]`)); err != nil {
		t.Fatal(err)
	}
	if text, err = chromedp.Run(ctx, chromedp.Text(`#signal-result`)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "state_conflict") {
		t.Fatalf("error shown = %q", text)
	}
}
