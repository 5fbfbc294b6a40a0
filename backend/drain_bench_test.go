package backend_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
)

// drainChunk is how many jobs one turn of an interleaved phase runs on
// one side before the other side's turn.
const drainChunk = 1000

// BenchmarkDrain enqueues b.N jobs, then drains them (claim + complete)
// with 1 or 16 workers, on the engine and on the raw queue baseline
// (rawQueue: a plain indexed SQLite queue with database/sql, one
// transaction per statement), each on a file of its own with the same
// settings. Both phases alternate the two sides every drainChunk jobs, so
// load swings hit both alike; each phase reports both sides' jobs/s and
// their ratio (drain_ratio is the target: ≥ 0.5 at both worker counts
// with 20,000 jobs). The engine's jobs carry priorities 0–9, the claim
// taking the highest first, as the baseline's do. A third file drains
// the same backlog as a worker loop does with CompleteAndClaim (one
// transaction per job after the first claim; loop_* metrics; its
// enqueue is not timed).
//
//	go test -run '^$' -bench 'Drain$' -benchtime 20000x -count 3 ./backend/
func BenchmarkDrain(b *testing.B) {
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			e := engBenchEngine(b)
			loop := engBenchEngine(b)
			raw := openRaw(b, rawQueue)
			var busy engBenchBusy
			payload := []byte(`{"job":true}`)
			var engEnq, rawEnq, engDrain, loopDrain, rawDrain time.Duration
			timed := func(d *time.Duration, f func()) {
				start := time.Now()
				f()
				*d += time.Since(start)
			}
			b.ResetTimer()
			for lo := 0; lo < b.N; lo += drainChunk {
				n := min(drainChunk, b.N-lo)
				timed(&engEnq, func() {
					engBenchParallel(n, workers, func(i int) bool {
						a := engArgs(func(a *backend.CreateExecutionArgs) {
							a.InputPayload, a.Priority = payload, int32((lo+i)%10)
						})
						_, err := e.CreateExecution(engCtx, a)
						return busy.check(b, "create", err)
					})
				})
				engBenchParallel(n, workers, func(i int) bool { // untimed: loop's backlog
					a := engArgs(func(a *backend.CreateExecutionArgs) {
						a.InputPayload, a.Priority = payload, int32((lo+i)%10)
					})
					_, err := loop.CreateExecution(engCtx, a)
					return busy.check(b, "create", err)
				})
				timed(&rawEnq, func() {
					engBenchParallel(n, workers, func(int) bool {
						_, err := raw.insert(payload, time.Now().UnixMilli())
						return busy.check(b, "raw insert", err)
					})
				})
			}
			for lo := 0; lo < b.N; lo += drainChunk {
				n := min(drainChunk, b.N-lo)
				timed(&engDrain, func() {
					engBenchParallel(n, workers, func(int) bool {
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
				})
				timed(&loopDrain, func() {
					drainLoop(b, &busy, loop, n, workers)
				})
				timed(&rawDrain, func() {
					engBenchParallel(n, workers, func(int) bool {
						now := time.Now().UnixMilli()
						id, found, err := raw.claim(now, 0)
						if !busy.check(b, "raw claim", err) {
							return false
						}
						if !found {
							b.Error("raw claim found no job")
							return false
						}
						return busy.check(b, "raw complete", raw.finish([]byte("done"), now, id))
					})
				})
			}
			b.StopTimer()
			busy.report(b)
			raw.completed(b, b.N)
			rate := func(d time.Duration) float64 { return float64(b.N) / d.Seconds() }
			b.ReportMetric(rate(engDrain), "drain_jobs/s")
			b.ReportMetric(rate(rawDrain), "raw_drain_jobs/s")
			b.ReportMetric(rate(engDrain)/rate(rawDrain), "drain_ratio")
			b.ReportMetric(rate(loopDrain), "loop_drain_jobs/s")
			b.ReportMetric(rate(loopDrain)/rate(rawDrain), "loop_drain_ratio")
			b.ReportMetric((rawEnq+rawDrain).Seconds()/(engEnq+loopDrain).Seconds(), "loop_total_ratio")
			b.ReportMetric(rate(engEnq), "enqueue_jobs/s")
			b.ReportMetric(rate(engEnq)/rate(rawEnq), "enqueue_ratio")
			b.ReportMetric((rawEnq+rawDrain).Seconds()/(engEnq+engDrain).Seconds(), "total_ratio")
		})
	}
}

// drainLoop drains n jobs of e with workers goroutines, each a worker
// loop: one Claim, then CompleteAndClaim until its share is done, the last
// job completed alone, so exactly n jobs are claimed and completed.
func drainLoop(b *testing.B, busy *engBenchBusy, e *backend.Backend, n, workers int) {
	var wg sync.WaitGroup
	for w := range workers {
		share := n / workers
		if w < n%workers {
			share++
		}
		if share == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := e.Claim(engCtx, engClaimArgs())
			for i := 1; ; i++ {
				if !busy.check(b, "claim", err) {
					return
				}
				if l == nil {
					b.Error("claim found no work")
					return
				}
				if i == share {
					busy.check(b, "complete", e.Complete(engCtx, l.Handle, []byte("done")))
					return
				}
				l, err = e.CompleteAndClaim(engCtx, l.Handle, []byte("done"), engClaimArgs())
			}
		}()
	}
	wg.Wait()
}
