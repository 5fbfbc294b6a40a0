package backend_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
)

// BenchmarkQuotaAdmissionUnattached is what quota admission costs the
// executions without a quota (every claim looks its candidate's
// attachment up): the lifecycle of unattached executions on an engine
// with admission and on one with it turned off, taking turns every 200
// jobs in the same run. It reports both rates and their ratio.
//
//	go test -run '^$' -bench QuotaAdmissionUnattached -benchtime 4000x -count 3 ./backend/
func BenchmarkQuotaAdmissionUnattached(b *testing.B) {
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			on, off := engBenchEngine(b), engBenchEngine(b)
			off.QuotaAdmissionOffForTest()
			quotaBenchPair(b, workers, on, off, nil, nil, "admission", "off")
		})
	}
}

// quotaBenchPair runs lifecycles on engines x (policy px) and y (policy
// py) in turns of 200 jobs and reports their rates and x/y.
func quotaBenchPair(b *testing.B, workers int, x, y *backend.Backend, px, py json.RawMessage, nx, ny string) {
	var busy engBenchBusy
	run := func(e *backend.Backend, policy json.RawMessage, n int) time.Duration {
		start := time.Now()
		engBenchParallel(n, workers, func(int) bool {
			a := engArgs(func(a *backend.CreateExecutionArgs) { a.Policy = policy })
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
	var dx, dy time.Duration
	b.ResetTimer()
	for lo := 0; lo < b.N; lo += 200 {
		n := min(200, b.N-lo)
		if lo%400 == 0 {
			dx += run(x, px, n)
			dy += run(y, py, n)
		} else {
			dy += run(y, py, n)
			dx += run(x, px, n)
		}
	}
	b.StopTimer()
	busy.report(b)
	rate := func(d time.Duration) float64 { return float64(b.N) / d.Seconds() }
	b.ReportMetric(rate(dx), nx+"_jobs/s")
	b.ReportMetric(rate(dy), ny+"_jobs/s")
	b.ReportMetric(rate(dx)/rate(dy), nx+"/"+ny)
}

// BenchmarkQuotaAdmission is the price of quota admission at claim: the
// whole lifecycle (create, claim, complete) of executions attached to a
// quota whose limits never bind, against the same lifecycle without a
// quota, each on a file of its own, taking turns every 200 jobs in the
// same run, with 1 or 16 workers. The quotas: a concurrency cap (64, no
// rate limit), and a rate limit (10^9 per second, so its window holds the
// last second's admissions) with the cap. It reports each rate and the
// ratio quota/plain.
//
//	go test -run '^$' -bench QuotaAdmission -benchtime 4000x -count 3 ./backend/
func BenchmarkQuotaAdmission(b *testing.B) {
	for _, quota := range []struct {
		name                  string
		window, maxReq, concr uint64
	}{{"cap", 60, 0, 64}, {"rate+cap", 1, 1_000_000_000, 64}} {
		for _, workers := range []int{1, 16} {
			b.Run(fmt.Sprintf("quota=%s/workers=%d", quota.name, workers), func(b *testing.B) {
				plain, limited := engBenchEngine(b), engBenchEngine(b)
				q := uuid.New()
				if _, err := limited.CreateQuotaPolicy(engCtx, backend.CreateQuotaPolicyArgs{QuotaPolicyID: q,
					WindowSeconds: quota.window, MaxRequestsPerWindow: quota.maxReq, MaxConcurrent: quota.concr}); err != nil {
					b.Fatal(err)
				}
				attached := json.RawMessage(`{"quota_policy_id":"` + q.String() + `"}`)
				quotaBenchPair(b, workers, limited, plain, attached, nil, "quota", "plain")
			})
		}
	}
}
