package backend_test

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
)

// TestFlowPropertyRandomDAGs builds random DAGs (2–200 nodes, up to
// three upstreams each, random edge groups), runs them with random
// outcomes (complete, fail, fail then retry and complete, operator
// cancel at a random moment) until every node has ended, and checks that
// each node's final state agrees with an independent evaluation of its
// upstreams' outcomes, and that no applied edge is left unresolved.
func TestFlowPropertyRandomDAGs(t *testing.T) {
	t.Parallel()
	seeds := []int64{1, 2, 3, 4, 5, 6}
	if raceEnabled {
		seeds = seeds[:2]
	}
	if *propSeedFlag != 0 {
		seeds = []int64{*propSeedFlag}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			flowPropRun(t, seed)
		})
	}
}

// Planned outcomes of a node.
const (
	planComplete = iota
	planFail
	planRetry // fail once (retried), then complete
	planCancel
)

type propNode struct {
	id       backend.ExecutionID
	plan     int
	ups      []int
	policy   backend.EdgeGroupPolicy
	failed   bool // planRetry: the first attempt failed
	canceled bool // an acknowledged cancel
}

func flowPropRun(t *testing.T, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	b, _ := engOpen(t, rng.Intn(2) == 0)
	flow := flowNew(t, b)
	n := 2 + rng.Intn(199)
	nodes := make([]*propNode, n)
	retry := `{"retry_policy":{"max_retries":1,"backoff":{"type":"fixed","delay_ms":0}}}`
	for i := range nodes {
		nd := &propNode{plan: []int{planComplete, planComplete, planComplete, planComplete, planComplete, planFail, planRetry, planCancel}[rng.Intn(8)]}
		mods := []func(*backend.CreateExecutionArgs){engLane("p"), func(a *backend.CreateExecutionArgs) {
			a.ExecutionID = backend.NewExecutionID(uint16(rng.Intn(3)))
		}}
		if nd.plan == planRetry {
			mods = append(mods, engPolicy(retry))
		}
		id := engCreate(t, b, mods...)
		if _, err := b.AddExecutionToFlow(engCtx, backend.AddExecutionToFlowArgs{FlowID: flow, ExecutionID: id}); err != nil {
			t.Fatal(err)
		}
		nd.id = id
		if i > 0 {
			seen := map[int]bool{}
			for range rng.Intn(4) {
				u := rng.Intn(i)
				if !seen[u] {
					seen[u] = true
					nd.ups = append(nd.ups, u)
				}
			}
		}
		switch r := rng.Intn(10); {
		case r < 6 || len(nd.ups) < 2:
			nd.policy = backend.EdgeGroupPolicy{Kind: backend.GroupAllOf}
		case r < 8:
			nd.policy = backend.EdgeGroupPolicy{Kind: backend.GroupAnyOf, OnSatisfied: backend.OnSatisfiedLetRun}
		default:
			nd.policy = backend.EdgeGroupPolicy{Kind: backend.GroupQuorum, K: uint32(1 + rng.Intn(len(nd.ups))), OnSatisfied: backend.OnSatisfiedLetRun}
		}
		if nd.policy.Kind != backend.GroupAllOf {
			if err := b.SetEdgeGroupPolicy(engCtx, backend.SetEdgeGroupPolicyArgs{FlowID: flow, DownstreamExecutionID: id, Policy: nd.policy}); err != nil {
				t.Fatal(err)
			}
		}
		nodes[i] = nd
	}
	for _, nd := range nodes {
		for _, u := range nd.ups {
			flowEdge(t, b, flow, nodes[u].id, nd.id)
		}
	}
	byID := map[backend.ExecutionID]*propNode{}
	for _, nd := range nodes {
		byID[nd.id] = nd
	}
	// Run until every node has ended.
	for step := 0; ; step++ {
		if step > 20*n+100 {
			t.Fatalf("no end after %d steps", step)
		}
		if rng.Intn(6) == 0 { // a cancel at a random moment
			nd := nodes[rng.Intn(n)]
			if nd.plan == planCancel && !nd.canceled {
				_, err := b.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: nd.id, Reason: "plan"})
				switch {
				case err == nil:
					nd.canceled = engState(t, b, nd.id) == backend.StateCancelled
				case backend.KindOf(err) != backend.KindState:
					t.Fatal(err)
				}
			}
		}
		l, err := b.Claim(engCtx, engClaimArgs(func(a *backend.ClaimArgs) { a.LaneID = "p" }))
		if err != nil {
			t.Fatal(err)
		}
		if l == nil {
			open := 0
			for _, nd := range nodes {
				if s := engState(t, b, nd.id); s != backend.StateCompleted && s != backend.StateFailed &&
					s != backend.StateCancelled && s != backend.StateSkipped {
					open++
					if nd.plan != planCancel || nd.canceled {
						t.Fatalf("node %s (plan %d) is %s and nothing is claimable", nd.id, nd.plan, s)
					}
				}
			}
			if open == 0 {
				break
			}
			// Only nodes waiting for their planned cancel are left.
			for _, nd := range nodes {
				if nd.plan == planCancel && !nd.canceled {
					if _, err := b.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: nd.id, Reason: "plan"}); err == nil {
						nd.canceled = engState(t, b, nd.id) == backend.StateCancelled
					}
				}
			}
			continue
		}
		nd := byID[l.ExecutionID]
		switch {
		case nd.plan == planFail:
			_, err = b.Fail(engCtx, l.Handle, backend.FailArgs{Class: backend.FailPermanent, Reason: "plan"})
		case nd.plan == planRetry && !nd.failed:
			nd.failed = true
			_, err = b.Fail(engCtx, l.Handle, backend.FailArgs{Class: backend.FailTransient, Reason: "plan"})
		default: // complete; a planCancel node that ran before its cancel completes too
			err = b.Complete(engCtx, l.Handle, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// The independent evaluation, in topological order (upstreams have
	// lower indexes).
	want := make([]string, n)
	for i, nd := range nodes {
		got := engState(t, b, nd.id)
		switch {
		case nd.canceled:
			want[i] = backend.StateCancelled
		case len(nd.ups) > 0 && flowPropDecision(nd, want) == "impossible":
			want[i] = backend.StateSkipped
		case nd.plan == planFail:
			want[i] = backend.StateFailed
		default:
			want[i] = backend.StateCompleted
		}
		if got != want[i] {
			ups := make([]string, len(nd.ups))
			for j, u := range nd.ups {
				ups[j] = want[u]
			}
			t.Fatalf("node %d %s (plan %d, %s over %v) is %s, evaluated %s", i, nd.id, nd.plan, nd.policy.Kind, ups, got, want[i])
		}
	}
	var stale int
	if err := b.ReaderDB().QueryRowContext(engCtx, `SELECT count(*) FROM ff_edge WHERE json_extract(policy, '$.edge_state') <> 'satisfied'
  AND json_extract(policy, '$.edge_state') <> 'impossible'`).Scan(&stale); err != nil || stale != 0 {
		t.Fatalf("%d edges left unresolved, %v", stale, err)
	}
	if rep, err := b.ReconcileDependencies(engCtx, engT0, 1000); err != nil || rep.Processed != 0 {
		t.Fatalf("the reconciler found work: %+v, %v", rep, err)
	}
	engCheckInvariants(t, b)
	engCheckStorage(t, b.ReaderDB())
	engCheckFlows(t, b.ReaderDB(), true)
}

// flowPropDecision evaluates a node's group from its upstreams' final
// states.
func flowPropDecision(nd *propNode, states []string) string {
	var ok, bad int
	for _, u := range nd.ups {
		if states[u] == backend.StateCompleted {
			ok++
		} else {
			bad++
		}
	}
	k := len(nd.ups)
	switch nd.policy.Kind {
	case backend.GroupAnyOf:
		k = 1
	case backend.GroupQuorum:
		k = int(nd.policy.K)
	}
	if nd.policy.Kind == backend.GroupAllOf {
		if bad > 0 {
			return "impossible"
		}
		return "satisfied"
	}
	if ok >= k {
		return "satisfied"
	}
	return "impossible"
}
