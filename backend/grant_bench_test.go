package backend_test

import (
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
)

// BenchmarkGrantLifecycle times one job through route 14's path (issue a
// grant, consume it, complete) against the plain claim path (claim,
// complete) in the same run, each over a backlog of at most 256 waiting
// executions created in untimed batches, and reports grant/claim, the
// cost of the extra write transaction a grant takes.
func BenchmarkGrantLifecycle(b *testing.B) {
	rates := map[string]float64{}
	for _, mode := range []string{"claim", "grant"} {
		b.Run(mode, func(b *testing.B) {
			e := engBenchEngine(b)
			var busy engBenchBusy
			const batch = 256
			b.ResetTimer()
			for done := 0; done < b.N; {
				b.StopTimer()
				n := min(batch, b.N-done)
				for range n {
					if _, err := e.CreateExecution(engCtx, engArgs()); !busy.check(b, "create", err) {
						return
					}
				}
				b.StartTimer()
				for range n {
					var l *backend.Lease
					var err error
					if mode == "claim" {
						l, err = e.Claim(engCtx, engClaimArgs())
					} else {
						var g *backend.ClaimGrant
						if g, err = e.IssueClaimGrant(engCtx, grantArgs()); err == nil && g != nil {
							l, err = e.ClaimFromGrant(engCtx, fromGrant(g))
						}
					}
					if !busy.check(b, mode, err) {
						return
					}
					if l == nil {
						b.Fatal("no work")
					}
					if !busy.check(b, "complete", e.Complete(engCtx, l.Handle, []byte("ok"))) {
						return
					}
				}
				done += n
			}
			b.StopTimer()
			busy.report(b)
			rates[mode] = float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(rates[mode], "jobs/s")
			if mode == "grant" && rates["claim"] > 0 {
				b.ReportMetric(rates["claim"]/rates["grant"], "grant/claim_cost")
			}
		})
	}
}
