package backend_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
)

// Helpers of the flow tests (prefix flow).

// flowNew creates an open flow.
func flowNew(t testing.TB, b *backend.Backend) uuid.UUID {
	t.Helper()
	id := uuid.New()
	res, err := b.CreateFlow(engCtx, backend.CreateFlowArgs{FlowID: id, FlowKind: "dag", Namespace: "ns"})
	if err != nil || !res.Created {
		t.Fatalf("CreateFlow = %+v, %v", res, err)
	}
	return id
}

// flowLane is the lane flowMember puts an execution on: one of its own,
// so that flowClaimID claims exactly it.
func flowLane(id backend.ExecutionID) string { return "l-" + id.UUID.String()[:13] }

// flowMember creates an execution on its own lane (flowLane) and adds it
// to the flow.
func flowMember(t testing.TB, b *backend.Backend, flow uuid.UUID, mods ...func(*backend.CreateExecutionArgs)) backend.ExecutionID {
	t.Helper()
	own := func(a *backend.CreateExecutionArgs) { a.LaneID = flowLane(a.ExecutionID) }
	id := engCreate(t, b, append(mods, own)...)
	res, err := b.AddExecutionToFlow(engCtx, backend.AddExecutionToFlowArgs{FlowID: flow, ExecutionID: id})
	if err != nil || res.AlreadyMember {
		t.Fatalf("AddExecutionToFlow(%s) = %+v, %v", id, res, err)
	}
	return id
}

// flowRevision reads the flow's graph revision.
func flowRevision(t testing.TB, b *backend.Backend, flow uuid.UUID) uint64 {
	t.Helper()
	info, err := b.DescribeFlow(engCtx, flow)
	if err != nil {
		t.Fatal(err)
	}
	return info.GraphRevision
}

// flowStoredRevision reads the flow's graph revision from ff_flow_core:
// one row, where DescribeFlow reads every member, so that building a long
// chain edge by edge stays linear (TestFlowChainCascade under -race).
func flowStoredRevision(t testing.TB, b *backend.Backend, flow uuid.UUID) uint64 {
	t.Helper()
	var rev uint64
	if err := b.ReaderDB().QueryRowContext(engCtx, `SELECT graph_revision FROM ff_flow_core WHERE flow_id = ?`,
		flow[:]).Scan(&rev); err != nil {
		t.Fatal(err)
	}
	return rev
}

// flowEdge stages and applies up → down at the flow's current revision
// and returns the edge id.
func flowEdge(t testing.TB, b *backend.Backend, flow uuid.UUID, up, down backend.ExecutionID, mods ...func(*backend.StageDependencyEdgeArgs)) uuid.UUID {
	t.Helper()
	e := flowStage(t, b, flow, up, down, mods...)
	flowApply(t, b, flow, e, up, down)
	return e
}

// flowStage stages up → down at the flow's current revision.
func flowStage(t testing.TB, b *backend.Backend, flow uuid.UUID, up, down backend.ExecutionID, mods ...func(*backend.StageDependencyEdgeArgs)) uuid.UUID {
	t.Helper()
	a := backend.StageDependencyEdgeArgs{FlowID: flow, EdgeID: uuid.New(), UpstreamExecutionID: up, DownstreamExecutionID: down,
		ExpectedGraphRevision: flowStoredRevision(t, b, flow)}
	for _, m := range mods {
		m(&a)
	}
	if _, err := b.StageDependencyEdge(engCtx, a); err != nil {
		t.Fatalf("StageDependencyEdge(%s → %s): %v", up, down, err)
	}
	return a.EdgeID
}

// flowApply applies a staged edge and returns the unsatisfied count.
func flowApply(t testing.TB, b *backend.Backend, flow, edge uuid.UUID, up, down backend.ExecutionID) uint32 {
	t.Helper()
	res, err := b.ApplyDependencyToChild(engCtx, backend.ApplyDependencyToChildArgs{FlowID: flow, EdgeID: edge,
		UpstreamExecutionID: up, DownstreamExecutionID: down})
	if err != nil || res.AlreadyApplied {
		t.Fatalf("ApplyDependencyToChild(%s → %s) = %+v, %v", up, down, res, err)
	}
	return res.UnsatisfiedCount
}

// flowClaimID claims id on its own lane and fails the test if it is not
// claimable.
func flowClaimID(t testing.TB, b *backend.Backend, id backend.ExecutionID) *backend.Lease {
	t.Helper()
	l, err := b.Claim(engCtx, engClaimArgs(func(a *backend.ClaimArgs) { a.LaneID = flowLane(id) }))
	if err != nil {
		t.Fatal(err)
	}
	if l == nil || l.ExecutionID != id {
		t.Fatalf("%s is not claimable (state %s): claimed %+v", id, engState(t, b, id), l)
	}
	return l
}

// flowRun claims id and completes it with result.
func flowRun(t testing.TB, b *backend.Backend, id backend.ExecutionID, result []byte) {
	t.Helper()
	l := flowClaimID(t, b, id)
	if err := b.Complete(engCtx, l.Handle, result); err != nil {
		t.Fatal(err)
	}
}

// flowFail claims id and fails it permanently.
func flowFail(t testing.TB, b *backend.Backend, id backend.ExecutionID) {
	t.Helper()
	l := flowClaimID(t, b, id)
	if res, err := b.Fail(engCtx, l.Handle, backend.FailArgs{Class: backend.FailPermanent, Reason: "boom"}); err != nil || res.RetryScheduled {
		t.Fatalf("Fail = %+v, %v", res, err)
	}
}

// flowStates reads the public states of ids, comma-joined.
func flowStates(t testing.TB, b *backend.Backend, ids ...backend.ExecutionID) string {
	t.Helper()
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = engState(t, b, id)
	}
	return engJoin(s)
}

// flowGroup reads a child's edge group from DescribeFlow.
func flowGroup(t testing.TB, b *backend.Backend, flow uuid.UUID, child backend.ExecutionID) backend.EdgeGroupInfo {
	t.Helper()
	info, err := b.DescribeFlow(engCtx, flow)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range info.EdgeGroups {
		if g.DownstreamExecutionID == child.String() {
			return g
		}
	}
	t.Fatalf("no edge group for %s", child)
	return backend.EdgeGroupInfo{}
}
