package backend_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
)

// Flow benchmarks: the cost of resolution when an upstream ends, per
// child and per link, with the baselines in the same run.

// flowBenchDAG seeds (in one transaction) a flow whose edges are edges
// over n members on lane lane, and returns the members.
func flowBenchDAG(b *testing.B, e *backend.Backend, lane string, n int, edges func(ids []backend.ExecutionID) [][2]int) []backend.ExecutionID {
	b.Helper()
	flow := uuid.New()
	items := []backend.SeedItem{backend.CreateFlowArgs{FlowID: flow, FlowKind: "bench", Namespace: "ns"}}
	ids := make([]backend.ExecutionID, n)
	for i := range ids {
		a := engArgs(engLane(lane))
		ids[i] = a.ExecutionID
		items = append(items, a, backend.AddExecutionToFlowArgs{FlowID: flow, ExecutionID: a.ExecutionID})
	}
	rev := uint64(n)
	for _, p := range edges(ids) {
		items = append(items, backend.StageDependencyEdgeArgs{FlowID: flow, EdgeID: uuid.New(), UpstreamExecutionID: ids[p[0]],
			DownstreamExecutionID: ids[p[1]], ExpectedGraphRevision: rev})
		rev++
	}
	if _, err := e.Seed(engCtx, items); err != nil {
		b.Fatal(err)
	}
	return ids
}

// fanout: member 0 is the upstream of every other member.
func fanout(ids []backend.ExecutionID) [][2]int {
	var out [][2]int
	for i := 1; i < len(ids); i++ {
		out = append(out, [2]int{0, i})
	}
	return out
}

// chain: member i is the upstream of member i+1.
func chain(ids []backend.ExecutionID) [][2]int {
	var out [][2]int
	for i := 1; i < len(ids); i++ {
		out = append(out, [2]int{i - 1, i})
	}
	return out
}

// flowBenchEnd claims the lane's upstream and times its end: a complete
// (ok) or a terminal failure.
func flowBenchEnd(b *testing.B, e *backend.Backend, lane string, ok bool) time.Duration {
	b.Helper()
	l, err := e.Claim(engCtx, engClaimArgs(func(a *backend.ClaimArgs) { a.LaneID = lane }))
	if err != nil || l == nil {
		b.Fatalf("claim %s = %v, %v", lane, l, err)
	}
	start := time.Now()
	if ok {
		err = e.Complete(engCtx, l.Handle, []byte("r"))
	} else {
		_, err = e.Fail(engCtx, l.Handle, backend.FailArgs{Class: backend.FailPermanent, Reason: "bench"})
	}
	took := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	return took
}

// BenchmarkFlowFanout times the Complete of an upstream with k = 1, 100
// and 10,000 applied children (each becomes eligible in that same
// transaction), interleaved in each iteration, beside the Complete of an
// execution in no flow. It reports each one's time, the cost per child,
// and the ratio of the per-child cost at 10,000 to that at 100 (O(k): 1
// means linear).
func BenchmarkFlowFanout(b *testing.B) {
	e := engBenchEngine(b)
	ks := []int{1, 100, 10_000}
	total := map[int]time.Duration{}
	var plain time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		lanes := map[int]string{}
		for _, k := range ks {
			lanes[k] = "fan-" + uuid.NewString()[:8]
			flowBenchDAG(b, e, lanes[k], k+1, fanout)
		}
		engCreate(b, e, engLane("solo"))
		b.StartTimer()
		plain += flowBenchEnd(b, e, "solo", true)
		for _, k := range ks {
			total[k] += flowBenchEnd(b, e, lanes[k], true)
		}
	}
	b.StopTimer()
	n := float64(b.N)
	per := func(k int) float64 { return float64(total[k].Nanoseconds()) / n / float64(k) }
	b.ReportMetric(float64(plain.Microseconds())/n, "µs/complete-alone")
	b.ReportMetric(float64(total[1].Microseconds())/n, "µs/complete-k1")
	b.ReportMetric(float64(total[100].Microseconds())/n, "µs/complete-k100")
	b.ReportMetric(float64(total[10_000].Milliseconds())/n, "ms/complete-k10000")
	b.ReportMetric(per(100)/1000, "µs/child-k100")
	b.ReportMetric(per(10_000)/1000, "µs/child-k10000")
	b.ReportMetric(per(10_000)/per(100), "child-cost-10000/100")
}

// BenchmarkFlowChainSkip times the terminal failure of the root of a
// 1,000-deep chain, whose skip cascades to all 999 descendants in that
// one transaction, beside a 100-deep chain in the same iteration; it
// reports the cost per link and its ratio between the two depths.
func BenchmarkFlowChainSkip(b *testing.B) {
	e := engBenchEngine(b)
	depths := []int{100, 1000}
	total := map[int]time.Duration{}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		lanes := map[int]string{}
		roots := map[int]backend.ExecutionID{}
		for _, d := range depths {
			lanes[d] = "chain-" + uuid.NewString()[:8]
			ids := flowBenchDAG(b, e, lanes[d], d, chain)
			roots[d] = ids[len(ids)-1]
		}
		b.StartTimer()
		for _, d := range depths {
			total[d] += flowBenchEnd(b, e, lanes[d], false)
		}
		b.StopTimer()
		for _, d := range depths {
			if s := engState(b, e, roots[d]); s != backend.StateSkipped {
				b.Fatalf("the end of the %d-deep chain is %s", d, s)
			}
		}
	}
	n := float64(b.N)
	per := func(d int) float64 { return float64(total[d].Nanoseconds()) / n / float64(d-1) }
	b.ReportMetric(float64(total[1000].Milliseconds())/n, "ms/cascade-1000")
	b.ReportMetric(per(100)/1000, "µs/link-100")
	b.ReportMetric(per(1000)/1000, "µs/link-1000")
	b.ReportMetric(per(1000)/per(100), "link-cost-1000/100")
}
