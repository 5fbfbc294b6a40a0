package backend_test

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/suspension"
)

// BenchmarkSuspendCycle times the durable-wait cycle create → claim →
// suspend → signal → resumed claim → complete against the plain lifecycle
// create → claim → complete in the same run: each on a fresh file engine,
// the same number of jobs and workers (each worker on a lane of its own),
// alternating in rounds. It reports both rates and x_plain, the cycle's
// time per job over the plain lifecycle's (target ≤ 2.5: the cycle is 6
// write transactions to the plain lifecycle's 3).
func BenchmarkSuspendCycle(b *testing.B) {
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			plain := engBenchEngine(b)
			cycle := engBenchEngine(b)
			if _, err := cycle.SeedWaitpointSecret(engCtx, "k1", waitSecret); err != nil {
				b.Fatal(err)
			}
			var busy engBenchBusy
			payload := []byte(`{"job":true}`)
			// run does n jobs on the workers (each with its own lane) and
			// returns the wall time.
			run := func(n int, job func(lane string) bool) time.Duration {
				var next atomic.Int64
				var wg sync.WaitGroup
				start := time.Now()
				for w := range workers {
					lane := "lane-" + strconv.Itoa(w)
					wg.Add(1)
					go func() {
						defer wg.Done()
						for next.Add(1) <= int64(n) && job(lane) {
						}
					}()
				}
				wg.Wait()
				return time.Since(start)
			}
			claim := func(e *backend.Backend, lane string) *backend.Lease {
				l, err := e.Claim(engCtx, engClaimArgs(func(c *backend.ClaimArgs) { c.LaneID = lane }))
				if !busy.check(b, "claim", err) {
					return nil
				}
				if l == nil {
					b.Error("claim found no work")
				}
				return l
			}
			create := func(e *backend.Backend, lane string) (backend.ExecutionID, bool) {
				a := engArgs(engLane(lane), func(a *backend.CreateExecutionArgs) { a.InputPayload = payload })
				_, err := e.CreateExecution(engCtx, a)
				return a.ExecutionID, busy.check(b, "create", err)
			}
			plainJob := func(lane string) bool {
				if _, ok := create(plain, lane); !ok {
					return false
				}
				l := claim(plain, lane)
				return l != nil && busy.check(b, "complete", plain.Complete(engCtx, l.Handle, []byte("done")))
			}
			cycleJob := func(lane string) bool {
				id, ok := create(cycle, lane)
				if !ok {
					return false
				}
				l := claim(cycle, lane)
				if l == nil {
					return false
				}
				wp := uuid.New()
				key := "wpk:" + wp.String()
				out, err := cycle.Suspend(engCtx, l.Handle, suspension.SuspendArgs{
					SuspensionID: uuid.New(), Waitpoints: []suspension.WaitpointBinding{suspension.Fresh(wp, key)},
					ResumeCondition: suspension.Single(key, suspension.ByName("approve")),
					ResumePolicy:    suspension.DefaultResumePolicy(), ReasonCode: suspension.ReasonWaitingForApproval,
					RequestedBy: suspension.RequestedByWorker, TimeoutBehavior: suspension.TimeoutFail,
				})
				if !busy.check(b, "suspend", err) {
					return false
				}
				res, err := cycle.DeliverSignal(engCtx, waitSignal(id, wp.String(), out.Details.WaitpointToken, "approve",
					func(a *backend.DeliverSignalArgs) { a.Payload = []byte(`{"ok":true}`) }))
				if !busy.check(b, "signal", err) {
					return false
				}
				if res.Effect != suspension.EffectResumed {
					b.Errorf("signal effect %s", res.Effect)
					return false
				}
				r := claim(cycle, lane)
				if r == nil || !r.Resumed || len(r.Signals) != 1 {
					b.Errorf("resumed claim = %+v", r)
					return false
				}
				return busy.check(b, "complete", cycle.Complete(engCtx, r.Handle, []byte("done")))
			}
			// The two alternate in rounds of 64 jobs, so that a change in
			// the machine's load hits both alike.
			const round = 64
			var plainTime, cycleTime time.Duration
			b.ResetTimer()
			for done := 0; done < b.N && !b.Failed(); done += round {
				n := min(round, b.N-done)
				plainTime += run(n, plainJob)
				cycleTime += run(n, cycleJob)
			}
			b.StopTimer()
			busy.report(b)
			plainRate := float64(b.N) / plainTime.Seconds()
			cycleRate := float64(b.N) / cycleTime.Seconds()
			b.ReportMetric(cycleRate, "cycles/s")
			b.ReportMetric(plainRate, "plain_jobs/s")
			b.ReportMetric(plainRate/cycleRate, "x_plain")
		})
	}
}
