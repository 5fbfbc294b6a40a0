package backend_test

import (
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
)

// Flow outcomes as canonical decides them (found by a review of the flows
// against engine-canonical; each pins a canonical outcome).

// Canonical ff_apply_dependency_to_child blocks a runnable child on every
// apply, whatever the edge group's policy (lua/flow.lua step 6). With
// quorum(2) the first applied edge (n=1 < k) must leave the child
// waiting_children, not claimable.
func TestQuorumFirstApplyBlocks(t *testing.T) {
	b, _ := engOpen(t, true)
	flow := flowNew(t, b)
	u1, u2, u3 := flowMember(t, b, flow), flowMember(t, b, flow), flowMember(t, b, flow)
	child := flowMember(t, b, flow)
	if err := b.SetEdgeGroupPolicy(engCtx, backend.SetEdgeGroupPolicyArgs{FlowID: flow, DownstreamExecutionID: child,
		Policy: backend.EdgeGroupPolicy{Kind: backend.GroupQuorum, K: 2, OnSatisfied: backend.OnSatisfiedLetRun}}); err != nil {
		t.Fatal(err)
	}
	flowEdge(t, b, flow, u1, child)
	if got := engState(t, b, child); got != backend.StateWaitingChildren {
		t.Errorf("quorum(2) child after its first applied edge: %s, want waiting_children", got)
	}
	flowEdge(t, b, flow, u2, child)
	flowEdge(t, b, flow, u3, child)
	if got := engState(t, b, child); got != backend.StateWaitingChildren {
		t.Fatalf("after three edges: %s", got)
	}
}

// Quorum(2) over three upstreams that have all already succeeded, the
// edges applied one by one (the usual client sequence: stage, apply,
// stage, apply): canonical resolves these at the reconciler and the child
// runs. ffsqlite resolves at apply time; the first apply (n=1 < k=2)
// must not skip the child for good.
func TestQuorumApplyAfterUpstreamsFinished(t *testing.T) {
	b, _ := engOpen(t, true)
	flow := flowNew(t, b)
	u1, u2, u3 := flowMember(t, b, flow), flowMember(t, b, flow), flowMember(t, b, flow)
	child := flowMember(t, b, flow)
	if err := b.SetEdgeGroupPolicy(engCtx, backend.SetEdgeGroupPolicyArgs{FlowID: flow, DownstreamExecutionID: child,
		Policy: backend.EdgeGroupPolicy{Kind: backend.GroupQuorum, K: 2, OnSatisfied: backend.OnSatisfiedLetRun}}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []backend.ExecutionID{u1, u2, u3} {
		flowRun(t, b, u, nil)
	}
	flowEdge(t, b, flow, u1, child)
	if got := engState(t, b, child); got == backend.StateSkipped {
		t.Errorf("quorum(2) child skipped by one successful upstream applied first")
	}
	flowEdge(t, b, flow, u2, child)
	flowEdge(t, b, flow, u3, child)
	if g := flowGroup(t, b, flow, child); g.State != "satisfied" || engState(t, b, child) != backend.StateWaiting {
		t.Errorf("after three successful upstreams: group %+v, child %s", g, engState(t, b, child))
	}
	engCheckFlows(t, b.ReaderDB(), true) // "skipped member whose group is not impossible"
}

// Canonical resolve_dependency_quorum copies an upstream's result into
// the child's input only on the resolution that satisfies the group
// (the satisfied branch; a success that leaves the group pending copies
// nothing). Quorum(2): A (data edge) succeeds first, B (no data edge)
// satisfies the group: the child keeps its own input.
func TestQuorumDataPassingOnlyAtSatisfaction(t *testing.T) {
	b, _ := engOpen(t, true)
	flow := flowNew(t, b)
	ua, ub, uc := flowMember(t, b, flow), flowMember(t, b, flow), flowMember(t, b, flow)
	child := flowMember(t, b, flow, func(a *backend.CreateExecutionArgs) { a.InputPayload = []byte("own input") })
	if err := b.SetEdgeGroupPolicy(engCtx, backend.SetEdgeGroupPolicyArgs{FlowID: flow, DownstreamExecutionID: child,
		Policy: backend.EdgeGroupPolicy{Kind: backend.GroupQuorum, K: 2, OnSatisfied: backend.OnSatisfiedLetRun}}); err != nil {
		t.Fatal(err)
	}
	ref := func(a *backend.StageDependencyEdgeArgs) { s := "r"; a.DataPassingRef = &s }
	flowEdge(t, b, flow, ua, child, ref)
	flowEdge(t, b, flow, ub, child)
	flowEdge(t, b, flow, uc, child)
	flowRun(t, b, ua, []byte("from a"))
	flowRun(t, b, ub, []byte("from b"))
	l := flowClaimID(t, b, child)
	if string(l.InputPayload) != "own input" {
		t.Fatalf("quorum child claimed with input %q, want %q (only the satisfying edge passes data)", l.InputPayload, "own input")
	}
}

// Replaying a flow member that has no incoming edge must not invent an
// edge group for it (qGroupRecount's INSERT … SELECT over zero edges
// writes an all_of row of zeros; canonical creates a group only on the
// first apply or set_edge_group_policy).
func TestReplayOfMemberWithoutEdgesCreatesNoGroup(t *testing.T) {
	b, _ := engOpen(t, true)
	flow := flowNew(t, b)
	a := flowMember(t, b, flow)
	flowFail(t, b, a)
	if _, err := b.ReplayExecution(engCtx, backend.ReplayExecutionArgs{ExecutionID: a}); err != nil {
		t.Fatal(err)
	}
	info, err := b.DescribeFlow(engCtx, flow)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.EdgeGroups) != 0 {
		t.Fatalf("edge groups after replaying a member without edges: %+v", info.EdgeGroups)
	}
}

// Canonical cancel_remaining enumerates the child's whole in-set (every
// staged edge, applied or not) and cancels each upstream that is not
// terminal (lua/flow.lua resolve_dependency_quorum). any_of over A (applied)
// and B (staged only): A's success cancels B, reason sibling_quorum_satisfied.
func TestCancelRemainingCancelsStagedSibling(t *testing.T) {
	b, _ := engOpen(t, true)
	flow := flowNew(t, b)
	ua, ub := flowMember(t, b, flow), flowMember(t, b, flow)
	child := flowMember(t, b, flow)
	if err := b.SetEdgeGroupPolicy(engCtx, backend.SetEdgeGroupPolicyArgs{FlowID: flow, DownstreamExecutionID: child,
		Policy: backend.EdgeGroupPolicy{Kind: backend.GroupAnyOf, OnSatisfied: backend.OnSatisfiedCancelRemaining}}); err != nil {
		t.Fatal(err)
	}
	flowEdge(t, b, flow, ua, child)
	flowStage(t, b, flow, ub, child)
	flowRun(t, b, ua, nil)
	if got := flowStates(t, b, child, ua, ub); got != "waiting,completed,cancelled" {
		t.Fatalf("states %s, want waiting,completed,cancelled", got)
	}
}
