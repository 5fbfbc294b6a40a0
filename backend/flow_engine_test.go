package backend_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// The flow engine beyond upstream's scenarios: check orders, the
// cascade, active children, edge groups, the reconcilers, flow cancel
// policies.

// A 1,000-deep chain's skip cascade finishes inside the failing call's
// transaction (the worklist needs no recursion).
func TestFlowChainCascade(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, false)
	flow := flowNew(t, b)
	const depth = 1000
	ids := make([]backend.ExecutionID, depth)
	for i := range ids {
		ids[i] = flowMember(t, b, flow)
		if i > 0 {
			flowEdge(t, b, flow, ids[i-1], ids[i])
		}
	}
	flowFail(t, b, ids[0])
	var skipped, events int
	err := b.ReaderDB().QueryRowContext(engCtx, `SELECT (SELECT count(*) FROM ff_exec_core WHERE public_state = 'skipped'),
  (SELECT count(*) FROM ff_completion_event WHERE outcome = 'skipped')`).Scan(&skipped, &events)
	if err != nil || skipped != depth-1 || events != depth-1 {
		t.Fatalf("%d skipped, %d skipped events after the root failed (want %d), %v", skipped, events, depth-1, err)
	}
	if g := flowGroup(t, b, flow, ids[depth-1]); g.Skipped != 1 || g.State != "impossible" {
		t.Fatalf("last link's group: %+v", g)
	}
}

// An active child keeps running when an edge is applied; a failed
// upstream then skips it, ending its attempt, and its worker's next call
// fails.
func TestFlowSkipActiveChild(t *testing.T) {
	t.Parallel()
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		flow := flowNew(t, b)
		up, child := flowMember(t, b, flow), flowMember(t, b, flow)
		l := flowClaimID(t, b, child)
		flowEdge(t, b, flow, up, child)
		if got := engState(t, b, child); got != backend.StateActive {
			t.Fatalf("active child after apply: %s", got)
		}
		flowFail(t, b, up)
		if got := engState(t, b, child); got != backend.StateSkipped {
			t.Fatalf("active child after its upstream failed: %s", got)
		}
		if sv := engInfo(t, b, child).StateVector; sv.AttemptState != "attempt_terminal" {
			t.Fatalf("skipped active child: %+v", sv)
		}
		atts, err := b.ListAttempts(engCtx, child)
		if err != nil || len(atts) != 1 || atts[0].Outcome != "cancelled" || atts[0].FailureReason != "dependency_impossible" {
			t.Fatalf("attempts %+v, %v", atts, err)
		}
		if got := engJoin(engEvents(t, b, backend.OutboxLease, child)); got != "acquired,revoked" {
			t.Fatalf("lease events %s", got)
		}
		engWantCode(t, b.Complete(engCtx, l.Handle, nil), backend.KindContention, backend.CodeStaleLease)
		engCheckInvariants(t, b)
		engCheckStorage(t, b.ReaderDB())
	})
}

// Apply takes a delayed child out of the eligible set too, and counts
// every edge in its blocking detail.
func TestFlowApplyBlocksRunnable(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, true)
	flow := flowNew(t, b)
	until := engT0 + 60_000
	u1, u2 := flowMember(t, b, flow), flowMember(t, b, flow)
	child := flowMember(t, b, flow, func(a *backend.CreateExecutionArgs) { a.DelayUntil = &until })
	if got := engState(t, b, child); got != backend.StateDelayed {
		t.Fatalf("created %s", got)
	}
	flowEdge(t, b, flow, u1, child)
	e2 := flowEdge(t, b, flow, u2, child)
	info := engInfo(t, b, child)
	if info.PublicState != backend.StateWaitingChildren || info.BlockingDetail != "2 dep(s) unresolved incl "+e2.String() {
		t.Fatalf("delayed child after two applies: %+v", info)
	}
	if l, err := b.Claim(engCtx, engClaimArgs(func(a *backend.ClaimArgs) { a.LaneID = flowLane(child) })); err != nil || l != nil {
		t.Fatalf("a blocked child was claimable: %+v, %v", l, err)
	}
	engCheckInvariants(t, b)
	engCheckStorage(t, b.ReaderDB())
}

// Edges and members on several partitions: correctness never depends on
// the partition label.
func TestFlowAcrossPartitions(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, false)
	flow := flowNew(t, b)
	on := func(p uint16) func(*backend.CreateExecutionArgs) {
		return func(a *backend.CreateExecutionArgs) { a.ExecutionID = backend.NewExecutionID(p) }
	}
	a, c, d := flowMember(t, b, flow, on(3)), flowMember(t, b, flow, on(0)), flowMember(t, b, flow, on(900))
	flowEdge(t, b, flow, a, c, func(s *backend.StageDependencyEdgeArgs) { r := "x"; s.DataPassingRef = &r })
	flowEdge(t, b, flow, c, d)
	flowRun(t, b, a, []byte("from a"))
	if l := flowClaimID(t, b, c); string(l.InputPayload) != "from a" {
		t.Fatalf("c's input %q", l.InputPayload)
	} else if err := b.Complete(engCtx, l.Handle, nil); err != nil {
		t.Fatal(err)
	}
	if got := engState(t, b, d); got != backend.StateWaiting {
		t.Fatalf("d: %s", got)
	}
	edges, err := b.FlowEdges(engCtx, flow)
	if err != nil || len(edges) != 2 || edges[0].UpstreamExecutionID != a.String() || edges[1].DownstreamExecutionID != d.String() ||
		edges[0].EdgeState != backend.EdgeSatisfied || edges[0].UpstreamOutcome == nil || *edges[0].UpstreamOutcome != "success" {
		t.Fatalf("edges %+v, %v", edges, err)
	}
}

// The check order of routes 18, 20 and 21: each refusal names the first
// rule broken and changes nothing.
func TestFlowCheckOrder(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, true)
	flow, other, gone := flowNew(t, b), flowNew(t, b), flowNew(t, b)
	a, c := flowMember(t, b, flow), flowMember(t, b, flow)
	stranger := engCreate(t, b)
	theirs := flowMember(t, b, other)
	unknown := backend.NewExecutionID(7)
	if _, err := b.CancelFlow(engCtx, backend.CancelFlowArgs{FlowID: gone, Reason: "r", CancellationPolicy: "cancel_flow_only"}, true); err != nil {
		t.Fatal(err)
	}
	add := func(f uuid.UUID, id backend.ExecutionID) error {
		_, err := b.AddExecutionToFlow(engCtx, backend.AddExecutionToFlowArgs{FlowID: f, ExecutionID: id})
		return err
	}
	engWantCode(t, add(uuid.New(), unknown), backend.KindNotFound, "flow")
	engWantCode(t, add(gone, unknown), backend.KindState, "flow_already_terminal")
	engWantCode(t, add(flow, unknown), backend.KindNotFound, "execution")
	err := add(flow, theirs)
	engWantCode(t, err, backend.KindValidation, "invalid_input")
	if !strings.Contains(err.Error(), "already_member_of_different_flow:"+other.String()) {
		t.Fatalf("other flow: %v", err)
	}
	res, err := b.AddExecutionToFlow(engCtx, backend.AddExecutionToFlowArgs{FlowID: flow, ExecutionID: a})
	if err != nil || !res.AlreadyMember || res.NodeCount != 2 {
		t.Fatalf("re-add = %+v, %v", res, err)
	}
	if js, _ := json.Marshal(res); string(js) != `{"AlreadyMember":{"execution_id":"`+a.String()+`","node_count":2}}` {
		t.Fatalf("AlreadyMember renders %s", js)
	}

	rev := flowRevision(t, b, flow)
	stage := func(f uuid.UUID, up, down backend.ExecutionID, r uint64, edge uuid.UUID) error {
		_, err := b.StageDependencyEdge(engCtx, backend.StageDependencyEdgeArgs{FlowID: f, EdgeID: edge,
			UpstreamExecutionID: up, DownstreamExecutionID: down, ExpectedGraphRevision: r})
		return err
	}
	engWantCode(t, stage(uuid.New(), a, a, 99, uuid.New()), backend.KindConflict, "self_referencing_edge")
	engWantCode(t, stage(uuid.New(), a, c, 99, uuid.New()), backend.KindNotFound, "flow")
	engWantCode(t, stage(gone, a, c, 99, uuid.New()), backend.KindState, "flow_already_terminal")
	engWantCode(t, stage(flow, a, stranger, rev+1, uuid.New()), backend.KindContention, "stale_graph_revision")
	engWantCode(t, stage(flow, a, stranger, rev, uuid.New()), backend.KindState, "execution_not_in_flow")
	engWantCode(t, stage(flow, theirs, c, rev, uuid.New()), backend.KindState, "execution_not_in_flow")
	e := uuid.New()
	if err := stage(flow, a, c, rev, e); err != nil {
		t.Fatal(err)
	}
	engWantCode(t, stage(flow, a, c, rev+1, e), backend.KindConflict, "dependency_already_exists")
	if got := flowRevision(t, b, flow); got != rev+1 {
		t.Fatalf("revision %d after one staged edge and refusals, want %d", got, rev+1)
	}

	apply := func(f, edge uuid.UUID, up, down backend.ExecutionID) error {
		_, err := b.ApplyDependencyToChild(engCtx, backend.ApplyDependencyToChildArgs{FlowID: f, EdgeID: edge,
			UpstreamExecutionID: up, DownstreamExecutionID: down})
		return err
	}
	engWantCode(t, apply(flow, e, a, unknown), backend.KindNotFound, "execution")
	engWantCode(t, apply(flow, e, a, theirs), backend.KindConflict, "execution_already_in_flow")
	engWantCode(t, apply(flow, uuid.New(), a, c), backend.KindValidation, "invalid_input")
	engWantCode(t, apply(uuid.New(), e, a, c), backend.KindConflict, "execution_already_in_flow")
	engWantCode(t, apply(flow, e, c, a), backend.KindValidation, "invalid_input")
	if got := engState(t, b, c); got != backend.StateWaiting {
		t.Fatalf("refused applies moved the child to %s", got)
	}
}

// any_of and quorum(k) groups, with cancel_remaining and let_run.
func TestFlowEdgeGroups(t *testing.T) {
	t.Parallel()
	type step struct {
		up      int  // upstream index
		success bool // complete, else fail permanently
	}
	cases := []struct {
		name   string
		policy backend.EdgeGroupPolicy
		steps  []step
		// want: the child's state, then the three upstreams' states.
		want string
		// cancelReason of the upstreams cancelled as remaining siblings.
		cancelReason string
	}{
		{"any_of cancel_remaining", backend.EdgeGroupPolicy{Kind: backend.GroupAnyOf, OnSatisfied: backend.OnSatisfiedCancelRemaining},
			[]step{{0, true}}, "waiting,completed,cancelled,cancelled", "sibling_quorum_satisfied"},
		{"any_of let_run", backend.EdgeGroupPolicy{Kind: backend.GroupAnyOf, OnSatisfied: backend.OnSatisfiedLetRun},
			[]step{{0, false}, {1, true}}, "waiting,failed,completed,waiting", ""},
		{"any_of all fail", backend.EdgeGroupPolicy{Kind: backend.GroupAnyOf, OnSatisfied: backend.OnSatisfiedLetRun},
			[]step{{0, false}, {1, false}, {2, false}}, "skipped,failed,failed,failed", ""},
		{"quorum 2 impossible cancel_remaining", backend.EdgeGroupPolicy{Kind: backend.GroupQuorum, K: 2, OnSatisfied: backend.OnSatisfiedCancelRemaining},
			[]step{{0, false}, {1, false}}, "skipped,failed,failed,cancelled", "sibling_quorum_impossible"},
		{"quorum 2 satisfied across a failure", backend.EdgeGroupPolicy{Kind: backend.GroupQuorum, K: 2, OnSatisfied: backend.OnSatisfiedLetRun},
			[]step{{0, true}, {1, false}, {2, true}}, "waiting,completed,failed,completed", ""},
		{"quorum 2 pending", backend.EdgeGroupPolicy{Kind: backend.GroupQuorum, K: 2, OnSatisfied: backend.OnSatisfiedLetRun},
			[]step{{0, true}, {1, false}}, "waiting_children,completed,failed,waiting", ""},
		{"all_of explicit", backend.EdgeGroupPolicy{Kind: backend.GroupAllOf},
			[]step{{0, true}, {1, true}, {2, true}}, "waiting,completed,completed,completed", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, _ := engOpen(t, true)
			flow := flowNew(t, b)
			ups := []backend.ExecutionID{flowMember(t, b, flow), flowMember(t, b, flow), flowMember(t, b, flow)}
			child := flowMember(t, b, flow)
			if err := b.SetEdgeGroupPolicy(engCtx, backend.SetEdgeGroupPolicyArgs{FlowID: flow, DownstreamExecutionID: child, Policy: tc.policy}); err != nil {
				t.Fatal(err)
			}
			for _, u := range ups {
				flowEdge(t, b, flow, u, child)
			}
			for _, s := range tc.steps {
				if s.success {
					flowRun(t, b, ups[s.up], nil)
				} else {
					flowFail(t, b, ups[s.up])
				}
			}
			if got := flowStates(t, b, child, ups[0], ups[1], ups[2]); got != tc.want {
				t.Fatalf("states %s, want %s", got, tc.want)
			}
			for _, u := range ups {
				var reason string
				err := b.ReaderDB().QueryRowContext(engCtx, `SELECT COALESCE(cancellation_reason, '') FROM ff_exec_core
WHERE partition_key = ? AND execution_id = ?`, int64(u.Partition), u.UUID[:]).Scan(&reason)
				if err != nil {
					t.Fatal(err)
				}
				if engState(t, b, u) == backend.StateCancelled && reason != tc.cancelReason {
					t.Fatalf("sibling cancelled with reason %q, want %q", reason, tc.cancelReason)
				}
			}
			engCheckInvariants(t, b)
			engCheckStorage(t, b.ReaderDB())
		})
	}
}

// SetEdgeGroupPolicy's rules.
func TestFlowEdgeGroupPolicyRules(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, true)
	flow := flowNew(t, b)
	up, child, stranger := flowMember(t, b, flow), flowMember(t, b, flow), engCreate(t, b)
	set := func(f uuid.UUID, c backend.ExecutionID, p backend.EdgeGroupPolicy) error {
		return b.SetEdgeGroupPolicy(engCtx, backend.SetEdgeGroupPolicyArgs{FlowID: f, DownstreamExecutionID: c, Policy: p})
	}
	anyOf := backend.EdgeGroupPolicy{Kind: backend.GroupAnyOf, OnSatisfied: backend.OnSatisfiedLetRun}
	engWantCode(t, set(flow, child, backend.EdgeGroupPolicy{Kind: "two_of"}), backend.KindValidation, "invalid_input")
	engWantCode(t, set(flow, child, backend.EdgeGroupPolicy{Kind: backend.GroupQuorum, OnSatisfied: backend.OnSatisfiedLetRun}), backend.KindValidation, "invalid_input")
	engWantCode(t, set(flow, child, backend.EdgeGroupPolicy{Kind: backend.GroupAnyOf}), backend.KindValidation, "invalid_input")
	engWantCode(t, set(uuid.New(), child, anyOf), backend.KindNotFound, "flow")
	engWantCode(t, set(flow, stranger, anyOf), backend.KindState, "execution_not_in_flow")
	if err := set(flow, child, anyOf); err != nil {
		t.Fatal(err)
	}
	flowEdge(t, b, flow, up, child)
	if err := set(flow, child, anyOf); err != nil {
		t.Fatalf("restating the same kind: %v", err)
	}
	engWantCode(t, set(flow, child, backend.EdgeGroupPolicy{Kind: backend.GroupAllOf}), backend.KindValidation, "invalid_input")
	if g := flowGroup(t, b, flow, child); g.Policy.Kind != backend.GroupAnyOf || g.Unsatisfied != 1 {
		t.Fatalf("group %+v", g)
	}
}

// The dependency reconciler resolves what no terminal transition did: a
// cancel with source flow_cascade (no outcome published) and a member
// finished by another writer.
func TestFlowDependencyReconciler(t *testing.T) {
	t.Parallel()
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		flow := flowNew(t, b)
		a, c := flowMember(t, b, flow), flowMember(t, b, flow)
		x, y := flowMember(t, b, flow), flowMember(t, b, flow)
		flowEdge(t, b, flow, a, c)
		flowEdge(t, b, flow, x, y)
		if _, err := b.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: a, Reason: "r", Source: backend.SourceFlowCascade}); err != nil {
			t.Fatal(err)
		}
		if got := engState(t, b, c); got != backend.StateWaitingChildren {
			t.Fatalf("child of a flow_cascade cancel: %s", got)
		}
		// Another writer completes x without resolving anything.
		engExec(t, b, `UPDATE ff_exec_core SET lifecycle_phase = 'terminal', eligibility_state = 'not_applicable',
  blocking_reason = 'none', public_state = 'completed', terminal_at_ms = 1,
  raw_fields = json_set(raw_fields, '$.terminal_outcome', 'success') WHERE partition_key = ? AND execution_id = ?`, int64(x.Partition), x.UUID[:])
		rep, err := b.ReconcileDependencies(engCtx, clock.MS(), 100)
		if err != nil || rep.Processed != 2 || rep.Errors != 0 {
			t.Fatalf("reconciler = %+v, %v", rep, err)
		}
		if got := flowStates(t, b, c, y); got != "skipped,waiting" {
			t.Fatalf("after the reconciler: %s", got)
		}
		if rep, err := b.ReconcileDependencies(engCtx, clock.MS(), 100); err != nil || rep.Processed != 0 {
			t.Fatalf("second pass = %+v, %v", rep, err)
		}
		// A member left blocked with every edge resolved is settled.
		engExec(t, b, `UPDATE ff_exec_core SET eligibility_state = 'blocked_by_dependencies', blocking_reason = 'waiting_for_children',
  public_state = 'waiting_children' WHERE partition_key = ? AND execution_id = ?`, int64(y.Partition), y.UUID[:])
		if rep, err := b.ReconcileDependencies(engCtx, clock.MS(), 100); err != nil || rep.Processed != 1 {
			t.Fatalf("blocked pass = %+v, %v", rep, err)
		}
		if got := engState(t, b, y); got != backend.StateWaiting {
			t.Fatalf("settled member: %s", got)
		}
	})
}

// Route 19's policies: only cancel_all cancels members; a second cancel
// answers with the stored policy; a cancelled flow refuses members and
// edges.
func TestFlowCancelPolicies(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, true)
	flow := flowNew(t, b)
	a, c := flowMember(t, b, flow), flowMember(t, b, flow)
	flowEdge(t, b, flow, a, c)
	res, err := b.CancelFlow(engCtx, backend.CancelFlowArgs{FlowID: flow, Reason: "stop", CancellationPolicy: "cancel_pending"}, false)
	if err != nil || res.Outcome != backend.FlowCancelled || res.CancellationPolicy != "cancel_pending" || len(res.MemberExecutionIDs) != 2 {
		t.Fatalf("cancel_pending = %+v, %v", res, err)
	}
	if got := flowStates(t, b, a, c); got != "waiting,waiting_children" {
		t.Fatalf("members after cancel_pending: %s", got)
	}
	res, err = b.CancelFlow(engCtx, backend.CancelFlowArgs{FlowID: flow, Reason: "again", CancellationPolicy: "cancel_all"}, true)
	if err != nil || res.Outcome != backend.FlowCancelled || res.CancellationPolicy != "cancel_pending" || len(res.MemberExecutionIDs) != 2 {
		t.Fatalf("repeat = %+v, %v", res, err)
	}
	if got := flowStates(t, b, a, c); got != "waiting,waiting_children" {
		t.Fatalf("a repeated cancel touched members: %s", got)
	}
	info, err := b.DescribeFlow(engCtx, flow)
	if err != nil || info.PublicFlowState != "cancelled" || info.CancelReason == nil || *info.CancelReason != "stop" || info.CancelledAt == nil {
		t.Fatalf("flow %+v, %v", info, err)
	}
	var details string
	if err := b.ReaderDB().QueryRowContext(engCtx, `SELECT details FROM ff_operator_event WHERE event_type = 'flow_cancel_requested' AND execution_id = ?`,
		flow.String()).Scan(&details); err != nil || !strings.Contains(details, `"member_count":2`) {
		t.Fatalf("flow_cancel_requested %q, %v", details, err)
	}
	_, err = b.AddExecutionToFlow(engCtx, backend.AddExecutionToFlowArgs{FlowID: flow, ExecutionID: engCreate(t, b)})
	engWantCode(t, err, backend.KindState, "flow_already_terminal")
	_, err = b.CancelFlow(engCtx, backend.CancelFlowArgs{FlowID: uuid.New(), Reason: "r", CancellationPolicy: "cancel_all"}, true)
	engWantCode(t, err, backend.KindNotFound, "flow")
	// The members still resolve: completing a lets c run.
	flowRun(t, b, a, nil)
	if got := engState(t, b, c); got != backend.StateWaiting {
		t.Fatalf("c after a: %s", got)
	}
}

// Without wait, cancel_all answers CancellationScheduled and the members
// are cancelled in the background; the cascade skips what is below a
// cancelled member if it is not cancelled first.
func TestFlowCancelAsync(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, false)
	flow := flowNew(t, b)
	a, c, d := flowMember(t, b, flow), flowMember(t, b, flow), flowMember(t, b, flow)
	flowEdge(t, b, flow, a, c)
	ctx, cancel := context.WithTimeout(engCtx, 30*time.Second)
	defer cancel()
	events, err := b.Subscribe(ctx, backend.OutboxCompletion, 0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.CancelFlow(engCtx, backend.CancelFlowArgs{FlowID: flow, Reason: "bg", CancellationPolicy: "cancel_all"}, false)
	if err != nil || res.Outcome != backend.FlowCancellationScheduled || len(res.MemberExecutionIDs) != 3 {
		t.Fatalf("async cancel = %+v, %v", res, err)
	}
	if js, _ := json.Marshal(res); !strings.Contains(string(js), `{"CancellationScheduled":{"cancellation_policy":"cancel_all","member_count":3,"member_execution_ids":[`) {
		t.Fatalf("renders %s", js)
	}
	ended := map[string]bool{}
	for len(ended) < 3 {
		select {
		case ev := <-events:
			ended[ev.ExecutionID] = true
		case <-ctx.Done():
			t.Fatalf("only %d members ended", len(ended))
		}
	}
	for _, id := range []backend.ExecutionID{a, c, d} {
		if s := engState(t, b, id); s != backend.StateCancelled && s != backend.StateSkipped {
			t.Fatalf("%s after the background cancel: %s", id, s)
		}
	}
	// The backlog is acknowledged as the members go (the last ack can
	// land just after the last event: wait for the dispatch by closing).
	if err := b.Close(engCtx); err != nil {
		t.Fatal(err)
	}
}

// The cycle check walks at most 1,000 nodes: past that it refuses the
// edge as a cycle (canonical's conservative rejection).
func TestFlowCycleCheckCap(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, false)
	for _, tc := range []struct {
		chain int
		code  string
	}{{1000, ""}, {1001, "cycle_detected"}} {
		flow := uuid.New()
		items := []backend.SeedItem{backend.CreateFlowArgs{FlowID: flow, FlowKind: "dag", Namespace: "ns"}}
		ids := make([]backend.ExecutionID, tc.chain+1)
		for i := range ids {
			a := engArgs()
			ids[i] = a.ExecutionID
			items = append(items, a, backend.AddExecutionToFlowArgs{FlowID: flow, ExecutionID: a.ExecutionID})
		}
		rev := uint64(len(ids))
		for i := 1; i < tc.chain; i++ { // ids[0] → … → ids[chain-1]; ids[chain] stands apart
			items = append(items, backend.StageDependencyEdgeArgs{FlowID: flow, EdgeID: uuid.New(),
				UpstreamExecutionID: ids[i-1], DownstreamExecutionID: ids[i], ExpectedGraphRevision: rev})
			rev++
		}
		if _, err := b.Seed(engCtx, items); err != nil {
			t.Fatal(err)
		}
		// apart → ids[0]: the walk from ids[0] visits the whole chain.
		_, err := b.StageDependencyEdge(engCtx, backend.StageDependencyEdgeArgs{FlowID: flow, EdgeID: uuid.New(),
			UpstreamExecutionID: ids[tc.chain], DownstreamExecutionID: ids[0], ExpectedGraphRevision: rev})
		if tc.code == "" {
			if err != nil {
				t.Fatalf("a %d-node walk: %v", tc.chain, err)
			}
			continue
		}
		engWantCode(t, err, backend.KindConflict, tc.code)
	}
}
