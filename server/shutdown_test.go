package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/server"
)

// Shutdown with requests in flight: a long-poll claim and a request whose
// body is still arriving both complete (no reset), new connections are
// refused, and everything committed is in the file after reopening it.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ff.db")
	b := testdb.OpenPath(t, path)
	srv, err := server.New(b, server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	// The signals the test waits on: a blocked claim starts waiting, the
	// server's connections change state, the listener closes.
	waiting := make(chan struct{}, 1)
	server.SetClaimWaitHook(srv, func() {
		select {
		case waiting <- struct{}{}:
		default:
		}
	})
	conns := newConnStates()
	server.SetConnStateHook(srv, conns.hook)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &closeSignalListener{Listener: inner, closed: make(chan struct{})}
	addr := ln.Addr().String()
	base := "http://" + addr
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	a := &api{t: t, b: b, srv: srv, url: base, c: keepAliveClient(4)}

	// Committed before shutdown: three executions, one completed.
	var ids []backend.ExecutionID
	for range 3 {
		ids = append(ids, a.create(0, nil))
	}
	done := a.claim(nil)
	a.complete(done, []int{100, 111, 110, 101}).wantJSON(t, http.StatusOK, `"Completed"`)

	// Every answered request has left its handler (so the count below
	// sees only the requests in flight).
	conns.waitActive(t, 0)

	// In flight 1: a long-poll claim on a lane with no work.
	type answer struct {
		status int
		body   string
		err    error
	}
	poll := make(chan answer, 1)
	go func() {
		body, _ := json.Marshal(claimArgs(map[string]any{"lane_id": "idle", "block_ms": 20_000}))
		resp, err := a.c.Post(base+"/v1/worker/claim", "application/json", bytes.NewReader(body))
		if err != nil {
			poll <- answer{err: err}
			return
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		poll <- answer{resp.StatusCode, string(data), err}
	}()
	select {
	case <-waiting: // the claim found nothing and waits for work
	case r := <-poll:
		t.Fatalf("long-poll answered before shutdown: %d %q %v", r.status, r.body, r.err)
	case <-time.After(10 * time.Second):
		t.Fatal("the long-poll claim never started waiting for work")
	}

	// In flight 2: a create whose body is only half sent.
	pr, pw := io.Pipe()
	slowID := backend.NewExecutionID(0)
	slowBody, _ := json.Marshal(createArgs(slowID, nil))
	slow := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("POST", base+"/v1/executions", pr)
		req.Header.Set("Content-Type", "application/json")
		resp, err := a.c.Do(req)
		if err != nil {
			slow <- answer{err: err}
			return
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- answer{resp.StatusCode, string(data), err}
	}()
	if _, err := pw.Write(slowBody[:len(slowBody)/2]); err != nil {
		t.Fatal(err)
	}
	conns.waitActive(t, 2) // both requests are now being handled

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()

	// The blocked claim is released at once with a clean 204.
	select {
	case r := <-poll:
		if r.err != nil || r.status != http.StatusNoContent || r.body != "" {
			t.Fatalf("long-poll during shutdown: %d %q %v", r.status, r.body, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("long-poll claim held the shutdown")
	}
	// New connections are refused once Shutdown has closed the listener.
	select {
	case <-ln.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown never closed the listener")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("still accepting connections after Shutdown")
	}
	// Shutdown is still waiting for the half-sent create.
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	default:
	}
	if _, err := pw.Write(slowBody[len(slowBody)/2:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	select {
	case r := <-slow:
		if r.err != nil || r.status != http.StatusCreated {
			t.Fatalf("in-flight create: %d %q %v", r.status, r.body, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("in-flight create never answered")
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
	if _, err := a.c.Get(base + "/healthz"); err == nil {
		t.Fatal("request served after Shutdown")
	}

	// Nothing committed is lost.
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	re := testdb.OpenPath(t, path)
	ctx := context.Background()
	for _, id := range append(ids, slowID) {
		if _, err := re.GetPublicState(ctx, id); err != nil {
			t.Fatalf("%s after reopen: %v", id, err)
		}
	}
	doneID := backend.MustParseExecutionID(done.ExecutionID)
	if st, _ := re.GetPublicState(ctx, doneID); st != backend.StateCompleted {
		t.Fatalf("completed execution reads %q after reopen", st)
	}
	if res, err := re.GetResult(ctx, doneID); err != nil || string(res) != "done" {
		t.Fatalf("result after reopen: %q %v", res, err)
	}
}

// closeSignalListener closes its channel once the listener itself is
// closed.
type closeSignalListener struct {
	net.Listener
	once   sync.Once
	closed chan struct{}
}

func (l *closeSignalListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { close(l.closed) })
	return err
}

// connStates follows the server's connections through its ConnState hook,
// so a test can wait until a number of them are handling a request.
type connStates struct {
	mu      sync.Mutex
	active  map[net.Conn]bool
	changed chan struct{} // closed and replaced at each change
}

func newConnStates() *connStates {
	return &connStates{active: map[net.Conn]bool{}, changed: make(chan struct{})}
}

func (c *connStates) hook(conn net.Conn, st http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st == http.StateActive {
		c.active[conn] = true
	} else {
		delete(c.active, conn)
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

// waitActive waits until exactly n connections are handling a request
// (the limit only bounds a broken test).
func (c *connStates) waitActive(t testing.TB, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		got, changed := len(c.active), c.changed
		c.mu.Unlock()
		if got == n {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("%d connections handling a request, want %d", got, n)
		}
	}
}

// Shutdown before (or racing) Serve stops it too.
func TestShutdownBeforeServe(t *testing.T) {
	t.Parallel()
	srv, err := server.New(testdb.OpenMemory(t), server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve kept serving after Shutdown")
	}
}

// The literal ":memory:" database behind a real listener: concurrent
// requests all see the one in-memory database.
func TestMemoryModeLive(t *testing.T) {
	t.Parallel()
	b := testdb.OpenPath(t, ":memory:")
	if !b.IsMemory() {
		t.Fatal(":memory: did not open in memory")
	}
	srv, err := server.New(b, server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	base, _ := liveServer(t, srv)
	a := &api{t: t, b: b, srv: srv, url: base, c: keepAliveClient(8)}
	a.do("GET", "/healthz", nil).wantJSON(t, http.StatusOK, `{"status":"ok"}`)
	const n = 40
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range n / 8 {
				a.create(0, nil)
			}
		})
	}
	wg.Wait()
	for range n {
		l := a.claim(nil)
		if l == nil {
			t.Fatal("work created over other connections is not visible")
		}
		a.complete(l, nil).wantJSON(t, http.StatusOK, `"Completed"`)
	}
	if got := sqlCount(t, b, `SELECT count(*) FROM ff_exec_core WHERE public_state = 'completed'`); got != n {
		t.Fatalf("%d completed, want %d", got, n)
	}
}
