package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
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

func TestDashboardInChromium(t *testing.T) {
	chrome := findChromium(t)
	b := testdb.Open(t)
	srv, err := server.New(b, server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()

	if err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(`body[data-loaded="1"]`),
	); err != nil {
		t.Fatalf("load dashboard: %v", err)
	}

	// Executions created through the API appear on the page as waiting.
	var ids []string
	for i := 0; i < 3; i++ {
		id := backend.NewExecutionID(0).String()
		ids = append(ids, id)
		resp, body := postJSON(t, ts.URL+"/v1/executions", map[string]any{
			"execution_id": id, "namespace": "ns", "lane_id": "default", "execution_kind": fmt.Sprintf("job-%d", i),
			"input_payload": []int{123, 125}, "priority": i, "creator_identity": "browser-test", "partition_id": 0, "now": 0,
		})
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create: %d %s", resp.StatusCode, body)
		}
	}
	for _, id := range ids {
		if err := chromedp.Do(ctx, chromedp.WaitVisible(fmt.Sprintf(`tr[data-id=%q][data-state="waiting"]`, id))); err != nil {
			t.Fatalf("execution %s never shown as waiting: %v", id, err)
		}
	}

	// A worker claims and completes the highest-priority one; the page
	// follows it to completed.
	resp, body := postJSON(t, ts.URL+"/v1/worker/claim", map[string]any{
		"worker_id": "w", "worker_instance_id": "w-1", "lane_id": "default", "lease_ttl_ms": 30000})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("claim: %d %s", resp.StatusCode, body)
	}
	var lease struct {
		ExecutionID string `json:"execution_id"`
		Handle      string `json:"handle"`
	}
	json.Unmarshal(body, &lease)
	if lease.ExecutionID != ids[2] {
		t.Fatalf("claimed %s, want the highest priority %s", lease.ExecutionID, ids[2])
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(fmt.Sprintf(`tr[data-id=%q][data-state="active"]`, lease.ExecutionID))); err != nil {
		t.Fatalf("claimed execution never shown active: %v", err)
	}
	resp, body = postJSON(t, ts.URL+"/v1/worker/complete", map[string]any{"handle": lease.Handle, "result": []int{111, 107}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("complete: %d %s", resp.StatusCode, body)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(fmt.Sprintf(`tr[data-id=%q][data-state="completed"]`, lease.ExecutionID))); err != nil {
		t.Fatalf("completed execution never shown: %v", err)
	}
	chip, err := chromedp.Run(ctx, chromedp.Text(`.chip[data-state="completed"] b`))
	if err != nil {
		t.Fatal(err)
	}
	if chip != "1" {
		t.Fatalf("completed count chip = %q, want 1", chip)
	}

	// The detail view shows the state vector and the attempt.
	if err := chromedp.Do(ctx,
		chromedp.Click(fmt.Sprintf(`tr[data-id=%q]`, lease.ExecutionID)),
		chromedp.WaitVisible(`#detail-vector td`),
		chromedp.WaitVisible(`#detail-attempts tbody td`),
	); err != nil {
		t.Fatalf("detail view: %v", err)
	}
	vector, err := chromedp.Run(ctx, chromedp.Text(`#detail-vector`))
	if err != nil {
		t.Fatal(err)
	}
	attempts, err := chromedp.Run(ctx, chromedp.Text(`#detail-attempts`))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains([]byte(vector), []byte("terminal")) || !bytes.Contains([]byte(attempts), []byte("w-1")) {
		t.Fatalf("detail view: vector %q attempts %q", vector, attempts)
	}

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if len(png) < 1000 {
		t.Fatalf("screenshot is %d bytes", len(png))
	}
	dir := os.Getenv("FFSQLITE_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, "dashboard.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
