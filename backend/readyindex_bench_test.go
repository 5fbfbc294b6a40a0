package backend_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
)

// BenchmarkReadyIndexCost is the ready index's price with no backlog: the
// whole lifecycle (create, claim, complete) on an engine with the index
// and on one whose claims use the schema-only query (no index, no
// triggers), each on a file of its own, taking turns every 200 jobs in the
// same run, with 1 or 16 workers. It reports both rates and their ratio
// (index/schema; the issue allows a few per cent).
//
//	go test -run '^$' -bench ReadyIndexCost -benchtime 6000x -count 3 ./backend/
func BenchmarkReadyIndexCost(b *testing.B) {
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			index, schema := engBenchEngine(b), engBenchEngine(b)
			schema.ReadyIndexOffForTest()
			var busy engBenchBusy
			payload := []byte(`{"job":true}`)
			run := func(e *backend.Backend, n int) time.Duration {
				start := time.Now()
				engBenchParallel(n, workers, func(int) bool {
					a := engArgs(func(a *backend.CreateExecutionArgs) { a.InputPayload = payload })
					if _, err := e.CreateExecution(engCtx, a); !busy.check(b, "create", err) {
						return false
					}
					l, err := e.Claim(engCtx, engClaimArgs())
					if !busy.check(b, "claim", err) {
						return false
					}
					if l == nil {
						b.Error("claim found no work")
						return false
					}
					return busy.check(b, "complete", e.Complete(engCtx, l.Handle, []byte("done")))
				})
				return time.Since(start)
			}
			var withIndex, without time.Duration
			b.ResetTimer()
			for lo := 0; lo < b.N; lo += 200 {
				n := min(200, b.N-lo)
				if lo%400 == 0 {
					withIndex += run(index, n)
					without += run(schema, n)
				} else {
					without += run(schema, n)
					withIndex += run(index, n)
				}
			}
			b.StopTimer()
			busy.report(b)
			if index.ReadyRebuildsForTest() != 1 || schema.ReadyRebuildsForTest() != 0 {
				b.Fatalf("rebuilds: %d with the index (want 1), %d without (want 0)",
					index.ReadyRebuildsForTest(), schema.ReadyRebuildsForTest())
			}
			rate := func(d time.Duration) float64 { return float64(b.N) / d.Seconds() }
			b.ReportMetric(rate(withIndex), "index_jobs/s")
			b.ReportMetric(rate(without), "schema_jobs/s")
			b.ReportMetric(rate(withIndex)/rate(without), "index/schema")
		})
	}
}
