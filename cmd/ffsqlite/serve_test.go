package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
)

// serveProc is a running `ffsqlite serve` process.
type serveProc struct {
	t       *testing.T
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:PORT
	mu      sync.Mutex
	errb    bytes.Buffer  // everything on stderr so far
	grew    chan struct{} // closed (and replaced) at each stderr line; under mu
	exited  chan struct{} // closed after cmd.Wait
	waitErr error         // cmd.Wait's result, once exited is closed
}

var serveAPILine = regexp.MustCompile(`^\s*API:\s+(http://\S+)/v1$`)

// startServe runs `ffsqlite serve args...` and waits for the whole banner;
// its API line gives the base URL (--listen 127.0.0.1:0 prints the real
// port there).
func startServe(t *testing.T, env []string, args ...string) *serveProc {
	t.Helper()
	p := &serveProc{t: t, cmd: binCmd(t, env, append([]string{"serve"}, args...)...),
		grew: make(chan struct{}), exited: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill() // a no-op once it has exited
		<-p.exited
	})
	api := make(chan string, 1)
	go func() {
		var base string
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.errb.WriteString(line + "\n")
			close(p.grew)
			p.grew = make(chan struct{})
			p.mu.Unlock()
			if m := serveAPILine.FindStringSubmatch(line); m != nil {
				base = m[1]
			}
			if strings.HasPrefix(strings.TrimSpace(line), "Auth:") && base != "" { // the banner's last line
				api <- base
			}
		}
		io.Copy(io.Discard, stderr)
		p.waitErr = p.cmd.Wait()
		close(p.exited)
		close(api)
	}()
	select {
	case base, ok := <-api:
		if !ok {
			t.Fatalf("serve exited before its banner:\n%s", p.stderr())
		}
		p.base = base
	case <-time.After(30 * time.Second):
		t.Fatalf("no API line in serve's banner within 30s:\n%s", p.stderr())
	}
	return p
}

func (p *serveProc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errb.String()
}

// waitStderr waits until stderr holds want (the limit only bounds a broken
// test); it fails when the process exits first.
func (p *serveProc) waitStderr(want string, limit time.Duration) {
	p.t.Helper()
	timeout := time.After(limit)
	for {
		p.mu.Lock()
		found, grew := strings.Contains(p.errb.String(), want), p.grew
		p.mu.Unlock()
		if found {
			return
		}
		select {
		case <-grew:
		case <-p.exited:
			p.t.Fatalf("serve exited (%v) before printing %q:\n%s", p.waitErr, want, p.stderr())
		case <-timeout:
			p.t.Fatalf("serve printed no %q within %v:\n%s", want, limit, p.stderr())
		}
	}
}

// heldCreate is a create request whose handler is running and reading a
// body that is only half sent.
type heldCreate struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
	rest []byte
}

// holdCreate sends a create's headers with "Expect: 100-continue" and
// returns once the server answers "100 Continue": Go's server sends it
// when the handler first reads the body, so the request is then in its
// handler. Half the body follows; finish sends the rest.
func (p *serveProc) holdCreate() *heldCreate {
	p.t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.base, "http://"))
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // bounds a broken test only
	body, _ := json.Marshal(map[string]any{"execution_id": fmt.Sprintf("{fp:0}:%s", uuid.NewString()),
		"namespace": "e2e", "lane_id": "default", "execution_kind": "job", "input_payload": byteArray("{}"),
		"priority": 0, "creator_identity": "e2e", "partition_id": 0, "now": time.Now().UnixMilli()})
	fmt.Fprintf(conn, "POST /v1/executions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", strings.TrimPrefix(p.base, "http://"), len(body))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusContinue {
		p.t.Fatalf("no 100 Continue for a create: %v %v\n%s", resp, err, p.stderr())
	}
	half := len(body) / 2
	if _, err := conn.Write(body[:half]); err != nil {
		p.t.Fatal(err)
	}
	return &heldCreate{t: p.t, conn: conn, br: br, rest: body[half:]}
}

// finish sends the rest of the body and returns the response's status.
func (h *heldCreate) finish() int {
	h.t.Helper()
	if _, err := h.conn.Write(h.rest); err != nil {
		h.t.Fatal(err)
	}
	resp, err := http.ReadResponse(h.br, nil)
	if err != nil {
		h.t.Fatalf("held create: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// wait waits for the process to exit and returns its exit code (-1 when a
// signal killed it).
func (p *serveProc) wait(limit time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
		if p.waitErr == nil {
			return 0
		}
		if ee, ok := p.waitErr.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		p.t.Fatalf("wait: %v", p.waitErr)
	case <-time.After(limit):
		p.t.Fatalf("serve still running after %v:\n%s", limit, p.stderr())
	}
	return 0
}

// call sends a JSON request with the bearer token and returns status and
// body.
func (p *serveProc) call(token, method, path string, body any) (int, []byte) {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, p.base+path, rd)
	if err != nil {
		p.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// A taken port: exit 8 with a one-line error (and its hint) before
// anything is opened or served.
func TestServePortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	path := filepath.Join(t.TempDir(), "never.db")
	out, errOut, code := runBin(t, nil, "serve", "--db", path, "--listen", ln.Addr().String())
	lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
	if code != exitAddrInUse || out != "" || len(lines) != 2 ||
		lines[0] != "ffsqlite: listen on "+ln.Addr().String()+": address already in use" || !strings.HasPrefix(lines[1], "Try: ") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 8 and one error line plus its hint", code, out, errOut)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the database was created (%v) although serve could not listen", err)
	}
	// FF_LISTEN_ADDR is the same flag.
	_, errOut, code = runBin(t, []string{"FF_LISTEN_ADDR=" + ln.Addr().String()}, "serve", "--db", path)
	if code != exitAddrInUse {
		t.Fatalf("FF_LISTEN_ADDR in use: exit %d, stderr %q", code, errOut)
	}
}

// Bad environment and the dev-mode guard refuse before listening: the
// address stays free and no database appears.
func TestServeRefusesBeforeListening(t *testing.T) {
	t.Parallel()
	// An occupied port: had serve listened first, it would exit 8.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	for _, c := range []struct {
		name  string
		env   []string
		code  int
		first string
	}{
		{"empty FF_CORS_ORIGINS", []string{"FF_CORS_ORIGINS="}, exitUsage, "ffsqlite: invalid value for FF_CORS_ORIGINS: must not be empty"},
		{"blank FF_CORS_ORIGINS", []string{"FF_CORS_ORIGINS= , "}, exitUsage, "ffsqlite: invalid value for FF_CORS_ORIGINS"},
		{"no FF_DEV_MODE", []string{"FF_DEV_MODE="}, exitDevMode, "SqliteBackend requires FF_DEV_MODE=1 to activate."},
		{"FF_DEV_MODE=true", []string{"FF_DEV_MODE=true"}, exitDevMode, "SqliteBackend requires FF_DEV_MODE=1 to activate."},
		{"bad FF_WAITPOINT_HMAC_SECRET", []string{"FF_WAITPOINT_HMAC_SECRET=abc"}, exitUsage, "ffsqlite: invalid value for FF_WAITPOINT_HMAC_SECRET"},
		{"bad FF_LEASE_EXPIRY_INTERVAL_MS", []string{"FF_LEASE_EXPIRY_INTERVAL_MS=soon"}, exitUsage, "ffsqlite: invalid value for FF_LEASE_EXPIRY_INTERVAL_MS"},
		{"bad FF_WAITPOINT_HMAC_GRACE_MS", []string{"FF_WAITPOINT_HMAC_GRACE_MS=1d"}, exitUsage,
			"ffsqlite: invalid value for FF_WAITPOINT_HMAC_GRACE_MS: expected u64, got '1d'"},
		{"bad FF_SUSPENSION_TIMEOUT_INTERVAL_S", []string{"FF_SUSPENSION_TIMEOUT_INTERVAL_S=-1"}, exitUsage,
			"ffsqlite: invalid value for FF_SUSPENSION_TIMEOUT_INTERVAL_S"},
		{"bad FF_PENDING_WP_EXPIRY_INTERVAL_S", []string{"FF_PENDING_WP_EXPIRY_INTERVAL_S=x"}, exitUsage,
			"ffsqlite: invalid value for FF_PENDING_WP_EXPIRY_INTERVAL_S"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".db")
			_, errOut, code := runBin(t, c.env, "serve", "--db", path, "--listen", ln.Addr().String())
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			if code != c.code || !strings.HasPrefix(lines[0], c.first) || len(lines) > 2 {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errOut, c.code, c.first)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("database created before the refusal: %v", err)
			}
		})
	}
}

// The built binary end to end: serve on an ephemeral port with a token,
// run a whole worker loop over HTTP (one execution fails once and is
// retried), stop it with SIGTERM, and check the file with inspect --json.
func TestServeEndToEnd(t *testing.T) {
	t.Parallel()
	const token = "e2e-token"
	path := filepath.Join(t.TempDir(), "e2e.db")
	p := startServe(t, []string{"FF_API_TOKEN=" + token}, "--db", path, "--listen", "127.0.0.1:0")
	banner := p.stderr()
	for _, want := range []string{"Dashboard:  " + p.base + "/", "Metrics:    " + p.base + "/metrics",
		"Database:   " + path, "Auth:       bearer token from FF_API_TOKEN"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}

	if status, body := p.call("", "GET", "/healthz", nil); status != 200 || string(body) != `{"status":"ok"}` {
		t.Fatalf("healthz: %d %s", status, body)
	}
	if status, body := p.call("", "GET", "/v1/executions?partition=0", nil); status != 401 ||
		string(body) != `{"error":"missing or invalid Authorization header"}` {
		t.Fatalf("without token: %d %s", status, body)
	}

	const n = 12
	ids := map[string]bool{}
	var flaky string
	for i := range n {
		id := fmt.Sprintf("{fp:%d}:%s", i%3, uuid.NewString())
		body := map[string]any{"execution_id": id, "namespace": "e2e", "lane_id": "default", "execution_kind": "job",
			"input_payload": byteArray(fmt.Sprintf(`{"n":%d}`, i)), "priority": 0, "creator_identity": "e2e",
			"partition_id": i % 3, "now": time.Now().UnixMilli()}
		if i == 0 {
			flaky = id
			body["priority"] = 100 // claimed first
			body["policy"] = map[string]any{"retry_policy": map[string]any{"max_retries": 2,
				"backoff": map[string]any{"type": "fixed", "delay_ms": 50}}}
		}
		if status, out := p.call(token, "POST", "/v1/executions", body); status != 201 {
			t.Fatalf("create: %d %s", status, out)
		}
		ids[id] = true
	}

	completed, failedOnce := 0, false
	deadline := time.Now().Add(30 * time.Second)
	for completed < n {
		if time.Now().After(deadline) {
			t.Fatalf("worker loop stuck at %d of %d", completed, n)
		}
		status, out := p.call(token, "POST", "/v1/worker/claim", map[string]any{"worker_id": "e2e", "worker_instance_id": "e2e-1",
			"lane_id": "default", "lease_ttl_ms": 10000, "block_ms": 2000})
		if status == 204 {
			continue
		}
		var l struct {
			ExecutionID string `json:"execution_id"`
			Input       []int  `json:"input_payload"`
			Handle      string `json:"handle"`
		}
		if status != 200 || json.Unmarshal(out, &l) != nil {
			t.Fatalf("claim: %d %s", status, out)
		}
		if status, out := p.call(token, "POST", "/v1/worker/renew", map[string]any{"handle": l.Handle, "lease_ttl_ms": 10000}); status != 200 {
			t.Fatalf("renew: %d %s", status, out)
		}
		if l.ExecutionID == flaky && !failedOnce {
			failedOnce = true
			status, out := p.call(token, "POST", "/v1/worker/fail", map[string]any{"handle": l.Handle, "class": "transient", "reason": "flaky"})
			if status != 200 || !strings.HasPrefix(string(out), `{"RetryScheduled":{"delay_until":`) {
				t.Fatalf("fail: %d %s", status, out)
			}
			continue
		}
		// The result echoes the input.
		if status, out := p.call(token, "POST", "/v1/worker/complete", map[string]any{"handle": l.Handle, "result": l.Input}); status != 200 || string(out) != `"Completed"` {
			t.Fatalf("complete: %d %s", status, out)
		}
		completed++
	}
	if !failedOnce {
		t.Fatal("the flaky execution was never claimed")
	}
	flakyPath := "/v1/executions/" + strings.NewReplacer("{", "%7B", "}", "%7D").Replace(flaky)
	if status, out := p.call(token, "GET", flakyPath+"/result", nil); status != 200 || string(out) != `{"n":0}` {
		t.Fatalf("result: %d %q", status, out)
	}
	if status, out := p.call(token, "GET", "/metrics", nil); status != 200 ||
		!strings.Contains(string(out), `ff_http_requests_total{method="POST",path="/v1/worker/complete",status="200"} 12`) ||
		!strings.Contains(string(out), `ff_scanner_cycle_total`) {
		t.Fatalf("metrics: %d\n%s", status, out)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(30 * time.Second); code != 0 {
		t.Fatalf("serve exited %d after SIGTERM:\n%s", code, p.stderr())
	}
	if !strings.Contains(p.stderr(), `msg=stopped`) {
		t.Errorf("no stop line:\n%s", p.stderr())
	}

	// The file, read by inspect.
	out, errOut, code := runBin(t, nil, "inspect", "executions", "--db", path, "--json", "--limit", "0")
	if code != 0 {
		t.Fatalf("inspect executions: exit %d: %s", code, errOut)
	}
	var list struct {
		Executions []struct {
			ID           string `json:"id"`
			PublicState  string `json:"public_state"`
			Phase        string `json:"lifecycle_phase"`
			AttemptIndex int    `json:"attempt_index"`
		} `json:"executions"`
		Truncated bool `json:"truncated"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("inspect executions --json: %v\n%s", err, out)
	}
	if len(list.Executions) != n || list.Truncated {
		t.Fatalf("inspect lists %d executions (truncated %v), want %d", len(list.Executions), list.Truncated, n)
	}
	for _, e := range list.Executions {
		wantIdx := 0
		if e.ID == flaky {
			wantIdx = 1
		}
		if !ids[e.ID] || e.PublicState != "completed" || e.Phase != "terminal" || e.AttemptIndex != wantIdx {
			t.Errorf("execution %+v, want completed on attempt %d", e, wantIdx)
		}
	}
	out, errOut, code = runBin(t, nil, "inspect", "execution", flaky, "--db", path, "--json")
	if code != 0 {
		t.Fatalf("inspect execution: exit %d: %s", code, errOut)
	}
	var detail struct {
		RetryCount int `json:"retry_count"`
		ResultSize int `json:"result_size"`
		Attempts   []struct {
			Outcome      string `json:"outcome"`
			FailureClass string `json:"failure_class"`
			AttemptType  string `json:"attempt_type"`
		} `json:"attempts"`
	}
	if err := json.Unmarshal([]byte(out), &detail); err != nil {
		t.Fatalf("inspect execution --json: %v\n%s", err, out)
	}
	if detail.RetryCount != 1 || detail.ResultSize != len(`{"n":0}`) || len(detail.Attempts) != 2 ||
		detail.Attempts[0].Outcome != "failed" || detail.Attempts[0].FailureClass != "transient" ||
		detail.Attempts[1].Outcome != "success" || detail.Attempts[1].AttemptType != "retry" {
		t.Fatalf("flaky execution detail: %s", out)
	}
}

// The first SIGINT drains gracefully: it stops accepting and waits for the
// requests in flight (creates whose bodies are still arriving; in one case
// the first is finished after the signal and answered); a second SIGINT
// ends the process at once, also when it comes the moment the drain is
// announced (the default handlers are back before the drain starts).
func TestServeSecondSignalExitsAtOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		finish bool // finish one held create between the two signals
	}{{"after a drained request", true}, {"as the drain starts", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startServe(t, nil, "--db", ":memory:", "--listen", "127.0.0.1:0")
			first, second := p.holdCreate(), p.holdCreate()
			if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			p.waitStderr("shutting down", 30*time.Second)
			if tc.finish {
				// Draining: the in-flight request is still served after the signal.
				if status := first.finish(); status != http.StatusCreated {
					t.Fatalf("in-flight create during the drain answered %d:\n%s", status, p.stderr())
				}
				select {
				case <-p.exited:
					t.Fatalf("serve exited (%v) with a request in flight after one SIGINT:\n%s", p.waitErr, p.stderr())
				default:
				}
			}
			if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			p.wait(5 * time.Second)
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("second SIGINT took %v", d)
			}
			// The second request held the drain open until the end, and the
			// exit cut it off unanswered.
			if b, err := second.br.ReadByte(); err == nil {
				t.Fatalf("the request still in flight got an answer (%q...) from a killed server", b)
			}
		})
	}
}

// byteArray is s as the wire's JSON array of integers.
func byteArray(s string) []int {
	out := make([]int, len(s))
	for i := range len(s) {
		out[i] = int(s[i])
	}
	return out
}
