package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/schemafacts"
)

// readyServe is an `ffsqlite serve --json` process, started when its ready
// line has been read.
type readyServe struct {
	t     *testing.T
	cmd   *exec.Cmd
	ready readyLine
	mu    sync.Mutex
	out   bytes.Buffer // stdout after the ready line
	errb  bytes.Buffer
	done  chan struct{}
	err   error
}

// startReadyServe runs serve --json --listen 127.0.0.1:0 on db and waits
// for its ready line (a signal, not a clock: 30 s is only the give-up).
func startReadyServe(t *testing.T, db string, extra ...string) *readyServe {
	t.Helper()
	args := append([]string{"serve", "--json", "--listen", "127.0.0.1:0", "--db", db}, extra...)
	p := &readyServe{t: t, cmd: binCmd(t, nil, args...), done: make(chan struct{})}
	stdout, _ := p.cmd.StdoutPipe()
	stderr, _ := p.cmd.StderrPipe()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	line := make(chan string, 1)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		r := bufio.NewReader(stdout)
		first, err := r.ReadString('\n')
		if err == nil {
			line <- first
		}
		close(line)
		rest, _ := io.ReadAll(r)
		p.mu.Lock()
		p.out.Write(rest)
		p.mu.Unlock()
	}()
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.errb.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	go func() {
		wg.Wait()
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	select {
	case l, ok := <-line:
		if !ok {
			<-p.done
			t.Fatalf("serve exited before its ready line:\n%s", p.stderr())
		}
		if err := json.Unmarshal([]byte(l), &p.ready); err != nil || strings.Count(l, "\n") != 1 {
			t.Fatalf("ready line %q: %v", l, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no ready line within 30s:\n%s", p.stderr())
	}
	return p
}

func (p *readyServe) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errb.String()
}

// stop sends SIGTERM and waits for the exit code.
func (p *readyServe) stop() int {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.t.Fatalf("serve did not stop:\n%s", p.stderr())
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return 0
}

func (p *readyServe) post(path string, body any) (int, string) {
	data, _ := json.Marshal(body)
	resp, err := http.Post(p.ready.API+path, "application/json", bytes.NewReader(data))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func createBody(id string) map[string]any {
	return map[string]any{"execution_id": id, "namespace": "ns", "lane_id": "default", "execution_kind": "k",
		"input_payload": []int{123, 125}, "priority": 5, "creator_identity": "test", "partition_id": 1, "now": 0}
}

func TestServeJSONReadyLine(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "ff.db")
	p := startReadyServe(t, db)
	r := p.ready
	if !strings.HasPrefix(r.API, "http://127.0.0.1:") || strings.HasSuffix(r.API, ":0") || r.Dashboard != r.API+"/" ||
		r.Metrics != r.API+"/metrics" || r.Healthz != r.API+"/healthz" || r.DB != db || r.PID != p.cmd.Process.Pid {
		t.Fatalf("ready line %+v (pid %d)", r, p.cmd.Process.Pid)
	}
	// Printed once the server accepts connections: no retry needed.
	resp, err := http.Get(r.Healthz)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz right after the ready line: %v %v", resp, err)
	}
	resp.Body.Close()
	if code, body := p.post("/v1/executions", createBody("{fp:1}:"+uuid.NewString())); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	if code := p.stop(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.stderr())
	}
	if p.out.Len() != 0 {
		t.Fatalf("stdout after the ready line: %q", p.out.String())
	}
}

// The README's CI recipe, run as written.
func TestReadmeCIRecipe(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const start, end = "<!-- ci-recipe -->\n```sh\n", "```\n<!-- /ci-recipe -->"
	s := string(readme)
	i, j := strings.Index(s, start), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatal("README has no marked CI recipe")
	}
	script := s[i+len(start) : j]
	exe, _ := os.Executable()
	bin := filepath.Join(t.TempDir(), "bin")
	os.Mkdir(bin, 0o755)
	// The recipe calls `ffsqlite`; here it is this test binary re-executed.
	wrapper := "#!/bin/sh\nexec " + exe + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "ffsqlite"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script+"\necho RECIPE-OK\n")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), reexecEnv+"=1", "NO_COLOR=1", "PATH="+bin+":"+os.Getenv("PATH"),
		"RUN_TESTS=curl -fsS \"$FF_API/healthz\"")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "RECIPE-OK") || !strings.Contains(string(out), `{"status":"ok"}`) {
		t.Fatalf("recipe: %v\n%s", err, out)
	}
}

// 16 HTTP clients keep writing while another process snapshots the file:
// the snapshot passes integrity_check and holds every execution
// acknowledged before the snapshot began.
func TestSnapshotWhileSixteenClientsWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "ff.db")
	p := startReadyServe(t, db)
	var (
		mu       sync.Mutex
		acked    []string
		during   atomic.Int64 // acks while the snapshot process ran
		snapping atomic.Bool
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		failures atomic.Int64
		enough   = make(chan struct{}) // closed at 3,000 acknowledged creates
		once     sync.Once
	)
	client := &http.Client{Timeout: 30 * time.Second}
	for range 16 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := "{fp:1}:" + uuid.NewString()
				data, _ := json.Marshal(createBody(id))
				resp, err := client.Post(p.ready.API+"/v1/executions", "application/json", bytes.NewReader(data))
				if err != nil {
					failures.Add(1)
					once.Do(func() { close(enough) })
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					failures.Add(1)
					continue
				}
				mu.Lock()
				acked = append(acked, id)
				if len(acked) >= 3000 {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
				if snapping.Load() {
					during.Add(1)
				}
			}
		})
	}
	// Let a backlog build up so the copy takes a while.
	select {
	case <-enough:
	case <-time.After(60 * time.Second):
		t.Fatal("the clients did not get 3,000 creates acknowledged within 60s")
	}
	mu.Lock()
	before := append([]string(nil), acked...) // acknowledged before the snapshot began
	mu.Unlock()
	snapping.Store(true)
	out := filepath.Join(dir, "snap.db")
	stdout, errOut, code := runBin(t, nil, "snapshot", "--db", db, out, "--json")
	snapping.Store(false)
	close(stop)
	wg.Wait()
	if code != 0 {
		t.Fatalf("snapshot exit %d: %s", code, errOut)
	}
	if failures.Load() > 0 {
		t.Fatalf("%d client requests failed during the snapshot", failures.Load())
	}
	var res struct {
		Path      string `json:"path"`
		SizeBytes int64  `json:"size_bytes"`
		Counts    struct {
			Executions int64 `json:"executions"`
		} `json:"counts"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.Path != out || res.SizeBytes == 0 {
		t.Fatalf("snapshot output %q: %v", stdout, err)
	}
	raw, err := sql.Open("sqlite", "file:"+out+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var check string
	if err := raw.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q %v", check, err)
	}
	stmt, err := raw.Prepare("SELECT count(*) FROM ff_exec_core WHERE execution_id = ?")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range before {
		u := uuid.MustParse(strings.TrimPrefix(id, "{fp:1}:"))
		var n int
		if err := stmt.QueryRow(u[:]).Scan(&n); err != nil || n != 1 {
			t.Fatalf("execution %s acknowledged before the snapshot is not in it (%d, %v)", id, n, err)
		}
	}
	if res.Counts.Executions < int64(len(before)) {
		t.Fatalf("snapshot counts %d executions, %d were acknowledged before it", res.Counts.Executions, len(before))
	}
	t.Logf("%d executions acknowledged before the snapshot, %d while it ran, %d in it", len(before), during.Load(), res.Counts.Executions)
	if during.Load() == 0 {
		t.Fatal("no write was acknowledged while the snapshot ran: the test did not exercise a live copy")
	}
	if p.stop() != 0 {
		t.Fatal(p.stderr())
	}
}

func TestSnapshotRestoreRoundTripAndReset(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "ff.db")
	if _, e, code := runBin(t, nil, "init", "--db", db); code != 0 {
		t.Fatal(e)
	}
	seed := filepath.Join(dir, "seed.json")
	var entries []string
	for i := range 5 {
		b, _ := json.Marshal(createBody(fmt.Sprintf("{fp:1}:%08d-2222-4333-8444-555555555555", i)))
		entries = append(entries, string(b))
	}
	os.WriteFile(seed, []byte(`{"executions":[`+strings.Join(entries, ",")+`],"budgets":[{"budget_id":"b1","scope_type":"t",
		"scope_id":"x","enforcement_mode":"strict","on_hard_limit":"fail","on_soft_limit":"warn","reset_interval_ms":0,
		"dimensions":["tokens"],"hard_limits":[10],"soft_limits":[5],"now":0}]}`), 0o644)
	if out, e, code := runBin(t, nil, "seed", "--db", db, seed); code != 0 || !strings.Contains(out, "5 created") {
		t.Fatalf("seed: %d %s %s", code, out, e)
	}
	raw, _ := sql.Open("sqlite", db)
	defer raw.Close()
	hmacBefore := dumpTable(t, raw, "ff_waitpoint_hmac")
	snap := filepath.Join(dir, "snap.db")
	if _, e, code := runBin(t, nil, "snapshot", "--db", db, snap); code != 0 {
		t.Fatal(e)
	}
	if _, e, code := runBin(t, nil, "snapshot", "--db", db, snap); code != exitUsage || !strings.Contains(e, "--force") {
		t.Fatalf("snapshot over an existing file: %d %s", code, e)
	}
	if _, e, code := runBin(t, nil, "snapshot", "--db", db, snap, "--force"); code != 0 {
		t.Fatalf("snapshot --force: %s", e)
	}

	// reset: stdin is not a terminal here, so no --yes is needed.
	out, e, code := runBin(t, nil, "reset", "--db", db, "--json")
	if code != 0 {
		t.Fatalf("reset: %d %s", code, e)
	}
	var res struct {
		Deleted      map[string]int64 `json:"deleted"`
		DeletedTotal int64            `json:"deleted_total"`
		BudgetsKept  int64            `json:"budgets_kept"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Deleted["ff_exec_core"] != 5 || res.Deleted["ff_lane_registry"] != 1 ||
		res.BudgetsKept != 1 || res.DeletedTotal != 6 {
		t.Fatalf("reset output %s (%v)", out, err)
	}
	for table, want := range map[string]int{"ff_exec_core": 0, "ff_budget_policy": 1, "ff_lane_registry": 0} {
		var n int
		raw.QueryRow("SELECT count(*) FROM " + table).Scan(&n)
		if n != want {
			t.Fatalf("after reset %s has %d rows, want %d", table, n, want)
		}
	}
	if hmac := dumpTable(t, raw, "ff_waitpoint_hmac"); hmac != hmacBefore || hmac == "" {
		t.Fatalf("reset changed the HMAC keys: %q vs %q", hmac, hmacBefore)
	}
	assertLedgersInStep(t, db, "after reset")
	got, _ := fileFacts(t, db)
	if d := schemafacts.Diff(parityTarget(t), got); len(d) > 0 {
		t.Fatalf("reset changed the schema: %v", d)
	}

	// restore brings the five executions back.
	out, e, code = runBin(t, nil, "restore", "--db", db, snap, "--json")
	if code != 0 || !strings.Contains(out, `"executions": 5`) {
		t.Fatalf("restore: %d %s %s", code, out, e)
	}
	var n int
	raw.QueryRow("SELECT count(*) FROM ff_exec_core").Scan(&n)
	if n != 5 {
		t.Fatalf("after restore: %d executions", n)
	}
	if hmac := dumpTable(t, raw, "ff_waitpoint_hmac"); hmac != hmacBefore {
		t.Fatal("restore lost the HMAC keys")
	}
	assertLedgersInStep(t, db, "after restore")
	if out, e, code := runBin(t, nil, "inspect", "drift", "--db", db); code != 0 {
		t.Fatalf("drift after restore: %s %s", out, e)
	}
}

func dumpTable(t *testing.T, raw *sql.DB, table string) string {
	t.Helper()
	rows, err := raw.Query("SELECT * FROM " + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		rows.Scan(ptrs...)
		fmt.Fprintln(&b, vals...)
	}
	return b.String()
}

func TestSeedBadEntryBinary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "ff.db")
	runBin(t, nil, "init", "--db", db)
	good, _ := json.Marshal(createBody("{fp:1}:" + uuid.NewString()))
	bad := createBody("{fp:1}:" + uuid.NewString())
	bad["priority"] = "high"
	badJSON, _ := json.Marshal(bad)
	file := filepath.Join(dir, "seed.json")
	os.WriteFile(file, []byte(`{"executions":[`+string(good)+`,`+string(badJSON)+`]}`), 0o644)
	_, e, code := runBin(t, nil, "seed", "--db", db, file)
	lines := strings.Split(strings.TrimSpace(e), "\n")
	if code != exitUsage || !strings.Contains(lines[len(lines)-2], "executions[1].priority") || !strings.HasPrefix(lines[len(lines)-1], "Try: ") {
		t.Fatalf("exit %d, stderr %q", code, e)
	}
	raw, _ := sql.Open("sqlite", db)
	defer raw.Close()
	var n int
	raw.QueryRow("SELECT count(*) FROM ff_exec_core").Scan(&n)
	if n != 0 {
		t.Fatalf("%d executions applied by a refused seed", n)
	}
	// stdin works too.
	cmd := binCmd(t, nil, "seed", "--db", db, "-")
	cmd.Stdin = strings.NewReader(`{"executions":[` + string(good) + `]}`)
	if out, err := cmd.Output(); err != nil || !strings.Contains(string(out), "1 created") {
		t.Fatalf("seed from stdin: %v %s", err, out)
	}
}
