package backend_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// Upstream's flow scenarios (engine-canonical.md §3), ported.

// producer_flow.rs: revision 3 after 3 members; staging threads 3 → 4 →
// 5; a stale revision is contention; apply → Applied{1}, again →
// AlreadyApplied, a second edge into the child → Applied{2}; cancel_all
// lists the 3 members.
func TestFlowRevisionThreading(t *testing.T) {
	t.Parallel()
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		flow := flowNew(t, b)
		a, c, d := flowMember(t, b, flow), flowMember(t, b, flow), flowMember(t, b, flow)
		info, err := b.DescribeFlow(engCtx, flow)
		if err != nil || info.GraphRevision != 3 || info.NodeCount != 3 || info.EdgeCount != 0 {
			t.Fatalf("after 3 members: %+v, %v", info, err)
		}
		stage := func(up, down backend.ExecutionID, rev uint64) (uuid.UUID, backend.StageDependencyEdgeResult, error) {
			e := uuid.New()
			res, err := b.StageDependencyEdge(engCtx, backend.StageDependencyEdgeArgs{FlowID: flow, EdgeID: e,
				UpstreamExecutionID: up, DownstreamExecutionID: down, ExpectedGraphRevision: rev})
			return e, res, err
		}
		e1, res, err := stage(a, d, 3)
		if err != nil || res.NewGraphRevision != 4 || res.EdgeID != e1 {
			t.Fatalf("stage at 3 = %+v, %v", res, err)
		}
		e2, res, err := stage(c, d, 4)
		if err != nil || res.NewGraphRevision != 5 {
			t.Fatalf("stage at 4 = %+v, %v", res, err)
		}
		_, _, err = stage(a, c, 4)
		engWantCode(t, err, backend.KindContention, "stale_graph_revision")
		if got := flowRevision(t, b, flow); got != 5 {
			t.Fatalf("a stale stage moved the revision to %d", got)
		}
		if n := flowApply(t, b, flow, e1, a, d); n != 1 {
			t.Fatalf("first apply: Applied{%d}, want 1", n)
		}
		again, err := b.ApplyDependencyToChild(engCtx, backend.ApplyDependencyToChildArgs{FlowID: flow, EdgeID: e1,
			UpstreamExecutionID: a, DownstreamExecutionID: d})
		if err != nil || !again.AlreadyApplied {
			t.Fatalf("second apply = %+v, %v", again, err)
		}
		if js, _ := json.Marshal(again); string(js) != `"AlreadyApplied"` {
			t.Fatalf("AlreadyApplied renders %s", js)
		}
		if n := flowApply(t, b, flow, e2, c, d); n != 2 {
			t.Fatalf("second edge: Applied{%d}, want 2", n)
		}
		if got := flowStates(t, b, a, c, d); got != "waiting,waiting,waiting_children" {
			t.Fatalf("states %s", got)
		}
		res2, err := b.CancelFlow(engCtx, backend.CancelFlowArgs{FlowID: flow, Reason: "done", CancellationPolicy: backend.CancelAllPolicy}, true)
		if err != nil || res2.Outcome != backend.FlowCancelled || len(res2.MemberExecutionIDs) != 3 {
			t.Fatalf("cancel_all = %+v, %v", res2, err)
		}
	})
}

// Canonical cycle rejection: a path downstream → upstream refuses the
// edge; a self edge is refused before anything else.
func TestFlowCycleRejection(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, true)
	flow := flowNew(t, b)
	a, c, d := flowMember(t, b, flow), flowMember(t, b, flow), flowMember(t, b, flow)
	flowStage(t, b, flow, a, c)
	flowStage(t, b, flow, c, d)
	rev := flowRevision(t, b, flow)
	for _, tc := range []struct {
		name     string
		up, down backend.ExecutionID
		code     string
	}{
		{"closing a triangle", d, a, "cycle_detected"},
		{"reversing an edge", c, a, "cycle_detected"},
		{"self edge", c, c, "self_referencing_edge"},
	} {
		_, err := b.StageDependencyEdge(engCtx, backend.StageDependencyEdgeArgs{FlowID: flow, EdgeID: uuid.New(),
			UpstreamExecutionID: tc.up, DownstreamExecutionID: tc.down, ExpectedGraphRevision: rev})
		engWantCode(t, err, backend.KindConflict, tc.code)
	}
	if got := flowRevision(t, b, flow); got != rev {
		t.Fatalf("refused edges moved the revision %d → %d", rev, got)
	}
	// A → D is a shortcut, not a cycle.
	flowStage(t, b, flow, a, d)
}

// fanout_fanin_flow_happy.rs: A → {B, C} → D, first edge at revision 4;
// completing A makes B and C waiting; D waits for both.
func TestFlowDiamondHappy(t *testing.T) {
	t.Parallel()
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		flow := flowNew(t, b)
		a, bb, c, d := flowMember(t, b, flow), flowMember(t, b, flow), flowMember(t, b, flow), flowMember(t, b, flow)
		if rev := flowRevision(t, b, flow); rev != 4 {
			t.Fatalf("first edge at revision %d, want 4", rev)
		}
		flowEdge(t, b, flow, a, bb)
		flowEdge(t, b, flow, a, c)
		flowEdge(t, b, flow, bb, d)
		flowEdge(t, b, flow, c, d)
		if got := flowStates(t, b, a, bb, c, d); got != "waiting,waiting_children,waiting_children,waiting_children" {
			t.Fatalf("built: %s", got)
		}
		if info := engInfo(t, b, d); info.StateVector.EligibilityState != "blocked_by_dependencies" ||
			info.StateVector.BlockingReason != "waiting_for_children" || info.BlockingDetail == "" {
			t.Fatalf("D: %+v", info)
		}
		flowRun(t, b, a, nil)
		if got := flowStates(t, b, a, bb, c, d); got != "completed,waiting,waiting,waiting_children" {
			t.Fatalf("after A: %s", got)
		}
		flowRun(t, b, bb, nil)
		if got := engState(t, b, d); got != backend.StateWaitingChildren {
			t.Fatalf("D after B only: %s", got)
		}
		if g := flowGroup(t, b, flow, d); g.Satisfied != 1 || g.Unsatisfied != 1 || g.State != "pending" {
			t.Fatalf("D's group after B: %+v", g)
		}
		flowRun(t, b, c, nil)
		if got := engState(t, b, d); got != backend.StateWaiting {
			t.Fatalf("D after B and C: %s", got)
		}
		if info := engInfo(t, b, d); info.BlockingDetail != "" || info.StateVector.AttemptState != "pending_first_attempt" {
			t.Fatalf("D unblocked: %+v", info)
		}
		flowRun(t, b, d, nil)
		if got := flowStates(t, b, a, bb, c, d); got != "completed,completed,completed,completed" {
			t.Fatalf("end: %s", got)
		}
		engCheckInvariants(t, b)
		engCheckStorage(t, b.ReaderDB())
	})
}

// fanout_fanin_flow_fanin_skip.rs: B fails terminally, C completes → D is
// skipped, with completion event "skipped" and attempt state none.
func TestFlowDiamondSkip(t *testing.T) {
	t.Parallel()
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		flow := flowNew(t, b)
		a, bb, c, d := flowMember(t, b, flow), flowMember(t, b, flow), flowMember(t, b, flow), flowMember(t, b, flow)
		e := flowMember(t, b, flow) // below D: the skip cascades
		flowEdge(t, b, flow, a, bb)
		flowEdge(t, b, flow, a, c)
		flowEdge(t, b, flow, bb, d)
		flowEdge(t, b, flow, c, d)
		flowEdge(t, b, flow, d, e)
		flowRun(t, b, a, nil)
		flowFail(t, b, bb)
		if got := flowStates(t, b, bb, c, d, e); got != "failed,waiting,skipped,skipped" {
			t.Fatalf("after B failed: %s", got)
		}
		flowRun(t, b, c, nil)
		if got := flowStates(t, b, c, d); got != "completed,skipped" {
			t.Fatalf("after C: %s", got)
		}
		info := engInfo(t, b, d)
		if sv := info.StateVector; sv.TerminalOutcome != "skipped" || sv.AttemptState != "none" || sv.LifecyclePhase != "terminal" {
			t.Fatalf("D: %+v", sv)
		}
		if got := engJoin(engEvents(t, b, backend.OutboxCompletion, d)); got != "skipped" {
			t.Fatalf("D's completion events: %s", got)
		}
		if g := flowGroup(t, b, flow, d); g.Satisfied != 1 || g.Failed != 1 || g.State != "impossible" {
			t.Fatalf("D's group: %+v", g)
		}
		if g := flowGroup(t, b, flow, e); g.Skipped != 1 || g.State != "impossible" {
			t.Fatalf("E's group: %+v", g)
		}
		engCheckInvariants(t, b)
		engCheckStorage(t, b.ReaderDB())
	})
}

// Data passing: a non-empty data_passing_ref makes the child's input the
// upstream's result; a void completion leaves the input alone.
func TestFlowDataPassing(t *testing.T) {
	t.Parallel()
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		flow := flowNew(t, b)
		ref := func(a *backend.StageDependencyEdgeArgs) { s := "result"; a.DataPassingRef = &s }
		input := func(a *backend.CreateExecutionArgs) { a.InputPayload = []byte("own input") }
		up, child := flowMember(t, b, flow), flowMember(t, b, flow, input)
		void, child2 := flowMember(t, b, flow), flowMember(t, b, flow, input)
		plain, child3 := flowMember(t, b, flow), flowMember(t, b, flow, input)
		flowEdge(t, b, flow, up, child, ref)
		flowEdge(t, b, flow, void, child2, ref)
		flowEdge(t, b, flow, plain, child3)
		flowRun(t, b, up, []byte{0xff, 0x00, 'o', 'k'})
		flowRun(t, b, void, nil)
		flowRun(t, b, plain, []byte("not passed"))
		for _, tc := range []struct {
			id   backend.ExecutionID
			want string
		}{{child, "\xff\x00ok"}, {child2, "own input"}, {child3, "own input"}} {
			l := flowClaimID(t, b, tc.id)
			if string(l.InputPayload) != tc.want {
				t.Errorf("%s claimed with input %q, want %q", tc.id, l.InputPayload, tc.want)
			}
		}
	})
}

// Applying an edge whose upstream has already ended resolves it at once:
// a success leaves the child eligible, a failure skips it.
func TestFlowApplyAfterUpstreamFinished(t *testing.T) {
	t.Parallel()
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		flow := flowNew(t, b)
		ok, bad := flowMember(t, b, flow), flowMember(t, b, flow)
		flowRun(t, b, ok, nil)
		flowFail(t, b, bad)
		c1, c2 := flowMember(t, b, flow), flowMember(t, b, flow)
		if n := flowApply(t, b, flow, flowStage(t, b, flow, ok, c1), ok, c1); n != 0 {
			t.Fatalf("apply after a success: %d unsatisfied", n)
		}
		if got := engState(t, b, c1); got != backend.StateWaiting {
			t.Fatalf("child of a finished upstream: %s", got)
		}
		flowApply(t, b, flow, flowStage(t, b, flow, bad, c2), bad, c2)
		if got := engState(t, b, c2); got != backend.StateSkipped {
			t.Fatalf("child of a failed upstream: %s", got)
		}
		flowRun(t, b, c1, nil)
		engCheckInvariants(t, b)
		engCheckStorage(t, b.ReaderDB())
	})
}

// wave9_operator.rs: replay of a skipped member resets its dependency
// state: waiting_children until its failed upstream has run again, then
// it runs; the replayed event says skipped_flow_member.
func TestFlowReplaySkippedMember(t *testing.T) {
	t.Parallel()
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		flow := flowNew(t, b)
		a, bb, c, d := flowMember(t, b, flow), flowMember(t, b, flow), flowMember(t, b, flow), flowMember(t, b, flow)
		flowEdge(t, b, flow, a, bb)
		flowEdge(t, b, flow, a, c)
		flowEdge(t, b, flow, bb, d)
		flowEdge(t, b, flow, c, d)
		flowRun(t, b, a, nil)
		flowRun(t, b, c, nil)
		flowFail(t, b, bb)
		if got := engState(t, b, d); got != backend.StateSkipped {
			t.Fatalf("D: %s", got)
		}
		res, err := b.ReplayExecution(engCtx, backend.ReplayExecutionArgs{ExecutionID: d})
		if err != nil || res.PublicState != backend.StateWaitingChildren {
			t.Fatalf("replay D = %+v, %v", res, err)
		}
		if g := flowGroup(t, b, flow, d); g.Satisfied != 1 || g.Failed != 0 || g.Skipped != 0 || g.Unsatisfied != 1 {
			t.Fatalf("D's group after replay: %+v (success kept, failures reset)", g)
		}
		var details string
		if err := b.ReaderDB().QueryRowContext(engCtx, `SELECT details FROM ff_operator_event
WHERE execution_id = ? AND event_type = 'replayed'`, d.String()).Scan(&details); err != nil {
			t.Fatal(err)
		}
		var dm map[string]any
		if json.Unmarshal([]byte(details), &dm) != nil || dm["branch"] != "skipped_flow_member" {
			t.Fatalf("replayed details %s", details)
		}
		if info := engInfo(t, b, d); info.StateVector.AttemptState != "pending_replay_attempt" {
			t.Fatalf("D replayed: %+v", info.StateVector)
		}
		// The dependency reconciler leaves it waiting for B's next run.
		if rep, err := b.ReconcileDependencies(engCtx, engT0, 100); err != nil || rep.Processed != 0 {
			t.Fatalf("reconciler on a replayed child = %+v, %v", rep, err)
		}
		if _, err := b.ReplayExecution(engCtx, backend.ReplayExecutionArgs{ExecutionID: bb}); err != nil {
			t.Fatal(err)
		}
		flowRun(t, b, bb, nil)
		if got := engState(t, b, d); got != backend.StateWaiting {
			t.Fatalf("D after B's second run: %s", got)
		}
		flowRun(t, b, d, nil)
		engCheckInvariants(t, b)
		engCheckStorage(t, b.ReaderDB())
	})
}

// The other order: replay the failed upstream first, then the skipped
// child: the child sees the upstream's newer success at once.
func TestFlowReplayUpstreamThenChild(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, false)
	flow := flowNew(t, b)
	a, c := flowMember(t, b, flow), flowMember(t, b, flow)
	flowEdge(t, b, flow, a, c)
	flowFail(t, b, a)
	if _, err := b.ReplayExecution(engCtx, backend.ReplayExecutionArgs{ExecutionID: a}); err != nil {
		t.Fatal(err)
	}
	if got := engState(t, b, c); got != backend.StateSkipped {
		t.Fatalf("C while A runs again: %s", got)
	}
	flowRun(t, b, a, nil)
	res, err := b.ReplayExecution(engCtx, backend.ReplayExecutionArgs{ExecutionID: c})
	if err != nil || res.PublicState != backend.StateWaiting {
		t.Fatalf("replay C after A succeeded = %+v, %v", res, err)
	}
	flowRun(t, b, c, nil)
	// Replaying A again and failing it: C has already run; nothing moves.
	engCheckInvariants(t, b)
	engCheckStorage(t, b.ReaderDB())
}

// cancel_flow_partial.rs: with ?wait=true and cancel_all, one member
// that cannot be cancelled makes the answer PartiallyCancelled naming it;
// a clean flow answers Cancelled with both members.
func TestFlowCancelPartial(t *testing.T) {
	t.Parallel()
	b, clock := engOpen(t, false)
	two := func() (uuid.UUID, backend.ExecutionID, backend.ExecutionID) {
		flow := flowNew(t, b)
		return flow, flowMember(t, b, flow), flowMember(t, b, flow)
	}
	flow, m1, broken := two()
	// Sabotage: the member's row cannot be written (malformed raw_fields).
	part, key := int64(broken.Partition), broken.UUID[:]
	engExec(t, b, `UPDATE ff_exec_core SET raw_fields = 'not json' WHERE partition_key = ? AND execution_id = ?`, part, key)
	res, err := b.CancelFlow(engCtx, backend.CancelFlowArgs{FlowID: flow, Reason: "readiness-cancel", CancellationPolicy: "cancel_all"}, true)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(res)
	var wire struct {
		PartiallyCancelled *struct {
			CancellationPolicy       string   `json:"cancellation_policy"`
			MemberExecutionIDs       []string `json:"member_execution_ids"`
			FailedMemberExecutionIDs []string `json:"failed_member_execution_ids"`
		}
	}
	if json.Unmarshal(js, &wire) != nil || wire.PartiallyCancelled == nil || wire.PartiallyCancelled.CancellationPolicy != "cancel_all" ||
		len(wire.PartiallyCancelled.MemberExecutionIDs) != 2 || len(wire.PartiallyCancelled.FailedMemberExecutionIDs) != 1 ||
		wire.PartiallyCancelled.FailedMemberExecutionIDs[0] != broken.String() {
		t.Fatalf("sabotaged cancel answered %s", js)
	}
	if got := engState(t, b, m1); got != backend.StateCancelled {
		t.Fatalf("clean member: %s", got)
	}
	// The broken member stays in the backlog; once it can be written and
	// the grace has passed, the cancel-backlog reconciler finishes it.
	engExec(t, b, `UPDATE ff_exec_core SET raw_fields = json_object('namespace', 'ns', 'terminal_outcome', 'none') WHERE partition_key = ? AND execution_id = ?`, part, key)
	if rep, err := b.ReconcileFlowCancels(engCtx, clock.MS(), 100); err != nil || rep.Processed != 0 {
		t.Fatalf("reconciler within the grace = %+v, %v", rep, err)
	}
	clock.Advance(31 * time.Second) // past the 30 s grace
	if rep, err := b.ReconcileFlowCancels(engCtx, clock.MS(), 100); err != nil || rep.Processed != 1 || rep.Errors != 0 {
		t.Fatalf("reconciler after the grace = %+v, %v", rep, err)
	}
	if got := engState(t, b, broken); got != backend.StateCancelled {
		t.Fatalf("broken member after the reconciler: %s", got)
	}
	var left int
	if err := b.ReaderDB().QueryRowContext(engCtx, `SELECT (SELECT count(*) FROM ff_cancel_backlog) + (SELECT count(*) FROM ff_cancel_backlog_member)`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("backlog rows left: %d, %v", left, err)
	}

	control, c1, c2 := two()
	res, err = b.CancelFlow(engCtx, backend.CancelFlowArgs{FlowID: control, Reason: "readiness-cancel-control", CancellationPolicy: "cancel_all"}, true)
	if err != nil || res.Outcome != backend.FlowCancelled || len(res.MemberExecutionIDs) != 2 {
		t.Fatalf("control cancel = %+v, %v", res, err)
	}
	if got := flowStates(t, b, c1, c2); got != "cancelled,cancelled" {
		t.Fatalf("control members: %s", got)
	}
	var reason, by string
	if err := b.ReaderDB().QueryRowContext(engCtx, `SELECT cancellation_reason, cancelled_by FROM ff_exec_core WHERE partition_key = ? AND execution_id = ?`,
		int64(c1.Partition), c1.UUID[:]).Scan(&reason, &by); err != nil || reason != "readiness-cancel-control" || by != backend.SourceOperatorOverride {
		t.Fatalf("member cancel recorded %q by %q, %v", reason, by, err)
	}
}
