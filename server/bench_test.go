package server_test

import (
	"bytes"
	"context"
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

// benchChunk is how many jobs one side runs before the next side's turn.
const benchChunk = 200

// BenchmarkLifecycle runs b.N whole lifecycles (create → claim →
// complete) with 1 or 16 workers on three sides, each on its own fresh
// database file: the Go API; HTTP on loopback with three round trips per
// job (create, claim, complete); and HTTP with claim_next, two round trips
// per job (create, then complete carrying claim_next, whose answer is the
// worker's next lease). The sides take turns every benchChunk jobs, so
// load swings hit all three alike, and each HTTP side reports its rate as
// a fraction of the Go API's (targets for claim_next: ≥ 0.35 at 1 worker,
// ≥ 0.5 at 16):
//
//	go test -run '^$' -bench Lifecycle -benchtime 4000x -count 3 ./server/
func BenchmarkLifecycle(b *testing.B) {
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			sides := []*benchSide{goAPISide(b), httpSide(b, workers, false), httpSide(b, workers, true)}
			b.ResetTimer()
			for lo := 0; lo < b.N; lo += benchChunk {
				n := min(benchChunk, b.N-lo)
				for _, s := range sides {
					start := time.Now()
					s.run(b, n, workers)
					s.took += time.Since(start)
				}
			}
			b.StopTimer()
			for _, s := range sides {
				if got := sqlCount(b, s.b, `SELECT count(*) FROM ff_exec_core WHERE lifecycle_phase = 'terminal'`); got != int64(b.N) {
					b.Fatalf("%s completed %d of %d jobs", s.name, got, b.N)
				}
			}
			rate := func(s *benchSide) float64 { return float64(b.N) / s.took.Seconds() }
			goapi := rate(sides[0])
			b.ReportMetric(goapi, "goapi_jobs/s")
			b.ReportMetric(rate(sides[1]), "http_jobs/s")
			b.ReportMetric(rate(sides[1])/goapi, "http/goapi")
			b.ReportMetric(rate(sides[2]), "next_jobs/s")
			b.ReportMetric(rate(sides[2])/goapi, "next/goapi")
		})
	}
}

// benchSide is one way of running lifecycles, on a database of its own.
type benchSide struct {
	name string
	b    *backend.Backend
	run  func(b *testing.B, n, workers int)
	took time.Duration
}

// benchParallel runs n jobs on workers goroutines, each worker calling
// job with its own state until the jobs are taken, then done once.
func benchParallel(n, workers int, job func(w int) bool, done func(w int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) && job(w) {
			}
			if done != nil {
				done(w)
			}
		}()
	}
	wg.Wait()
}

func goAPISide(b *testing.B) *benchSide {
	be := testdb.Open(b)
	ctx := context.Background()
	payload := []byte("{}")
	claim := backend.ClaimArgs{WorkerID: "w", WorkerInstanceID: "w-1", LaneID: "default", LeaseTTLMS: 30000}
	return &benchSide{name: "goapi", b: be, run: func(b *testing.B, n, workers int) {
		benchParallel(n, workers, func(int) bool {
			id := backend.NewExecutionID(0)
			if _, err := be.CreateExecution(ctx, backend.CreateExecutionArgs{ExecutionID: id, Namespace: "ns", LaneID: "default",
				ExecutionKind: "email", InputPayload: payload, Priority: 5, CreatorIdentity: "bench"}); err != nil {
				b.Error(err)
				return false
			}
			l, err := be.Claim(ctx, claim)
			if err != nil || l == nil {
				b.Errorf("claim: %v %v", l, err)
				return false
			}
			if err := be.Complete(ctx, l.Handle, []byte("ok")); err != nil {
				b.Error(err)
				return false
			}
			return true
		}, nil)
	}}
}

// httpSide serves a fresh database on loopback; with next, each job is a
// create, then the complete of the lease the worker holds with claim_next,
// whose answer is the lease it keeps (a worker left without one claims
// instead of completing); a worker completes the lease it holds at the end
// of a turn, and what no worker took is claimed and completed then.
func httpSide(b *testing.B, workers int, next bool) *benchSide {
	be := testdb.Open(b)
	srv, err := server.New(be, server.Config{})
	if err != nil {
		b.Fatal(err)
	}
	base, _ := liveServer(b, srv)
	c := keepAliveClient(workers)
	post := func(path string, body []byte) (int, []byte) {
		resp, err := c.Post(base+path, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Error(err)
			return 0, nil
		}
		out, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			b.Error(err)
		}
		return resp.StatusCode, out
	}
	claimBodies := make([][]byte, workers)
	completeNext := make([]map[string]any, workers)
	for w := range workers {
		args := claimArgs(map[string]any{"worker_instance_id": fmt.Sprintf("w-%d", w)})
		claimBodies[w], _ = json.Marshal(args)
		completeNext[w] = map[string]any{"result": []int{111, 107}, "claim_next": args}
	}
	// claim leases one execution for worker w ("" on 204: none waiting).
	claim := func(w int) string {
		status, out := post("/v1/worker/claim", claimBodies[w])
		if status == http.StatusNoContent {
			return ""
		}
		if status != http.StatusOK {
			b.Errorf("claim: %d %s", status, out)
			return ""
		}
		var l struct {
			Handle string `json:"handle"`
		}
		if err := json.Unmarshal(out, &l); err != nil {
			b.Error(err)
		}
		return l.Handle
	}
	complete := func(handle string) bool {
		body, _ := json.Marshal(map[string]any{"handle": handle, "result": []int{111, 107}})
		status, out := post("/v1/worker/complete", body)
		if status != http.StatusOK {
			b.Errorf("complete: %d %s", status, out)
		}
		return status == http.StatusOK
	}
	create := func() bool {
		body, _ := json.Marshal(createArgs(backend.NewExecutionID(0), nil))
		status, out := post("/v1/executions", body)
		if status != http.StatusCreated {
			b.Errorf("create: %d %s", status, out)
		}
		return status == http.StatusCreated
	}
	name := "http"
	if next {
		name = "http_next"
	}
	return &benchSide{name: name, b: be, run: func(b *testing.B, n, workers int) {
		if !next {
			benchParallel(n, workers, func(w int) bool {
				if !create() {
					return false
				}
				h := claim(w)
				if h == "" {
					b.Error("claim found no work")
				}
				return h != "" && complete(h)
			}, nil)
			return
		}
		held := make([]string, workers) // each worker's lease
		benchParallel(n, workers, func(w int) bool {
			if !create() {
				return false
			}
			if held[w] == "" {
				// A worker without a lease claims one (often the job it
				// just created) and completes it next time, when the next
				// job is there for claim_next to take; "" when other
				// workers took every waiting job (the turn's final drain
				// completes what is left).
				held[w] = claim(w)
				return true
			}
			m := completeNext[w]
			m["handle"] = held[w]
			body, _ := json.Marshal(m)
			status, out := post("/v1/worker/complete", body)
			if status != http.StatusOK {
				b.Errorf("complete with claim_next: %d %s", status, out)
				return false
			}
			var ans struct {
				Next *struct {
					Handle string `json:"handle"`
				} `json:"next"`
			}
			if err := json.Unmarshal(out, &ans); err != nil {
				b.Error(err)
				return false
			}
			held[w] = ""
			if ans.Next != nil {
				held[w] = ans.Next.Handle
			}
			return true
		}, func(w int) {
			if held[w] != "" {
				complete(held[w])
			}
		})
		// Complete what no worker took (rare: at most a few per turn).
		for h := claim(0); h != ""; h = claim(0) {
			complete(h)
		}
	}}
}
