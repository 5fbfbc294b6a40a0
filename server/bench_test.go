package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/server"
)

// goAPIRate is the jobs/s of the last goapi run, for the http run's ratio.
var goAPIRate float64

// BenchmarkLifecycle runs one whole lifecycle (create → claim → complete)
// per op through the Go API and over HTTP on loopback, each on its own
// fresh database file, in the same run. The http sub-benchmark reports
// http/goapi, the HTTP rate as a fraction of the Go API rate (target
// ≥ 0.5):
//
//	go test -run '^$' -bench Lifecycle -benchtime 2000x ./server/
func BenchmarkLifecycle(b *testing.B) {
	b.Run("goapi", func(b *testing.B) {
		be := testdb.Open(b)
		ctx := context.Background()
		payload := []byte("{}")
		claim := backend.ClaimArgs{WorkerID: "w", WorkerInstanceID: "w-1", LaneID: "default", LeaseTTLMS: 30000}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			id := backend.NewExecutionID(0)
			if _, err := be.CreateExecution(ctx, backend.CreateExecutionArgs{ExecutionID: id, Namespace: "ns", LaneID: "default",
				ExecutionKind: "email", InputPayload: payload, Priority: 5, CreatorIdentity: "bench"}); err != nil {
				b.Fatal(err)
			}
			l, err := be.Claim(ctx, claim)
			if err != nil || l == nil {
				b.Fatalf("claim: %v %v", l, err)
			}
			if err := be.Complete(ctx, l.Handle, []byte("ok")); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		goAPIRate = float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(goAPIRate, "jobs/s")
	})
	b.Run("http", func(b *testing.B) {
		be := testdb.Open(b)
		srv, err := server.New(be, server.Config{})
		if err != nil {
			b.Fatal(err)
		}
		base, _ := liveServer(b, srv)
		c := keepAliveClient(1)
		post := func(path string, body []byte, want int) []byte {
			resp, err := c.Post(base+path, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			out, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != want {
				b.Fatalf("POST %s: %d %s %v", path, resp.StatusCode, out, err)
			}
			return out
		}
		claimBody, _ := json.Marshal(claimArgs(nil))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			create, _ := json.Marshal(createArgs(backend.NewExecutionID(0), nil))
			post("/v1/executions", create, http.StatusCreated)
			var l struct {
				Handle string `json:"handle"`
			}
			if err := json.Unmarshal(post("/v1/worker/claim", claimBody, http.StatusOK), &l); err != nil {
				b.Fatal(err)
			}
			complete, _ := json.Marshal(map[string]any{"handle": l.Handle, "result": []int{111, 107}})
			post("/v1/worker/complete", complete, http.StatusOK)
		}
		b.StopTimer()
		rate := float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(rate, "jobs/s")
		if goAPIRate > 0 {
			b.ReportMetric(rate/goAPIRate, "http/goapi")
		}
	})
}
