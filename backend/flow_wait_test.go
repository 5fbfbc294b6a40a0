package backend_test

import (
	"encoding/json"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// A worker waits for its children: the attempt pauses until the
// dependencies resolve, then the same attempt resumes.
func TestFlowWaitForChildren(t *testing.T) {
	t.Parallel()
	waitBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		flow := flowNew(t, b)
		parent := flowMember(t, b, flow)
		l := flowClaimID(t, b, parent)
		u1, u2 := flowMember(t, b, flow), flowMember(t, b, flow)
		flowEdge(t, b, flow, u1, parent)
		flowEdge(t, b, flow, u2, parent, func(a *backend.StageDependencyEdgeArgs) { r := "out"; a.DataPassingRef = &r })
		res, err := b.WaitForChildren(engCtx, l.Handle)
		if err != nil || !res.Waiting || res.UnsatisfiedCount != 2 {
			t.Fatalf("WaitForChildren = %+v, %v", res, err)
		}
		if js, _ := json.Marshal(res); string(js) != `{"Waiting":{"unsatisfied_count":2}}` {
			t.Fatalf("renders %s", js)
		}
		sv := waitVector(t, b, parent)
		if sv.PublicState != backend.StateWaitingChildren || sv.AttemptState != "attempt_interrupted" || sv.OwnershipState != "unowned" {
			t.Fatalf("waiting parent: %+v", sv)
		}
		if got := engJoin(engEvents(t, b, backend.OutboxLease, parent)); got != "acquired,released" {
			t.Fatalf("lease events %s", got)
		}
		engWantCode(t, b.Complete(engCtx, l.Handle, nil), backend.KindContention, "")
		if nl, err := b.Claim(engCtx, engClaimArgs(func(a *backend.ClaimArgs) { a.LaneID = flowLane(parent) })); err != nil || nl != nil {
			t.Fatalf("a waiting parent was claimable: %+v, %v", nl, err)
		}
		waitCheckInvariants(t, b)
		flowRun(t, b, u1, nil)
		if got := engState(t, b, parent); got != backend.StateWaitingChildren {
			t.Fatalf("parent after one child: %s", got)
		}
		flowRun(t, b, u2, []byte("child result"))
		if got := engState(t, b, parent); got != backend.StateWaiting {
			t.Fatalf("parent after both children: %s", got)
		}
		r := flowClaimID(t, b, parent)
		if !r.Resumed || r.AttemptIndex != l.AttemptIndex || r.AttemptID != l.AttemptID || r.LeaseEpoch != l.LeaseEpoch+1 ||
			r.Handle.Kind != backend.HandleResumed || string(r.InputPayload) != "child result" {
			t.Fatalf("resumed lease %+v (first %+v)", r, l)
		}
		if err := b.Complete(engCtx, r.Handle, nil); err != nil {
			t.Fatal(err)
		}
		atts, err := b.ListAttempts(engCtx, parent)
		if err != nil || len(atts) != 1 || atts[0].Outcome != "success" {
			t.Fatalf("one attempt, completed: %+v, %v", atts, err)
		}
		waitCheckInvariants(t, b)
		engCheckStorage(t, b.ReaderDB())
	})
}

// Nothing to wait for: AlreadySatisfied, the worker keeps its lease.
func TestFlowWaitForChildrenSatisfied(t *testing.T) {
	t.Parallel()
	b, _ := waitOpen(t, true)
	loner := engCreate(t, b)
	l := engClaim(t, b)
	if l.ExecutionID != loner {
		t.Fatal("claimed another execution")
	}
	res, err := b.WaitForChildren(engCtx, l.Handle)
	if js, _ := json.Marshal(res); err != nil || string(js) != `"AlreadySatisfied"` {
		t.Fatalf("not a member: %s, %v", js, err)
	}
	flow := flowNew(t, b)
	up := flowMember(t, b, flow)
	parent := flowMember(t, b, flow)
	flowRun(t, b, up, nil)
	pl := flowClaimID(t, b, parent)
	flowEdge(t, b, flow, up, parent) // resolved at once: up has completed
	if res, err := b.WaitForChildren(engCtx, pl.Handle); err != nil || res.Waiting || res.Skipped {
		t.Fatalf("satisfied member = %+v, %v", res, err)
	}
	if _, err := b.Renew(engCtx, pl.Handle, 0); err != nil {
		t.Fatalf("the lease was kept: %v", err)
	}
	if err := b.Complete(engCtx, pl.Handle, nil); err != nil {
		t.Fatal(err)
	}
}

// A failed child skips the waiting parent; its paused attempt ends.
func TestFlowWaitForChildrenSkipped(t *testing.T) {
	t.Parallel()
	b, _ := waitOpen(t, false)
	flow := flowNew(t, b)
	parent := flowMember(t, b, flow)
	l := flowClaimID(t, b, parent)
	child := flowMember(t, b, flow)
	flowEdge(t, b, flow, child, parent)
	if res, err := b.WaitForChildren(engCtx, l.Handle); err != nil || !res.Waiting {
		t.Fatalf("WaitForChildren = %+v, %v", res, err)
	}
	flowFail(t, b, child)
	sv := waitVector(t, b, parent)
	if sv.PublicState != backend.StateSkipped || sv.AttemptState != "attempt_terminal" {
		t.Fatalf("parent: %+v", sv)
	}
	atts, err := b.ListAttempts(engCtx, parent)
	if err != nil || len(atts) != 1 || atts[0].Outcome != "cancelled" || atts[0].FailureReason != "dependency_impossible" {
		t.Fatalf("attempts %+v, %v", atts, err)
	}
	waitCheckInvariants(t, b)
	engCheckStorage(t, b.ReaderDB())
}

// A suspended child is skipped like any other: its suspension and
// waitpoints close, its paused attempt ends.
func TestFlowSkipSuspendedChild(t *testing.T) {
	t.Parallel()
	b, _ := waitOpen(t, false)
	flow := flowNew(t, b)
	up := flowMember(t, b, flow)
	child := flowMember(t, b, flow)
	l := flowClaimID(t, b, child)
	flowEdge(t, b, flow, up, child)
	args := waitArgs("go")
	if out, err := b.Suspend(engCtx, l.Handle, args); err != nil || out.AlreadySatisfied {
		t.Fatalf("Suspend = %+v, %v", out, err)
	}
	flowFail(t, b, up)
	if got := engState(t, b, child); got != backend.StateSkipped {
		t.Fatalf("suspended child after its upstream failed: %s", got)
	}
	if s := waitSuspensionState(t, b, child); s != "closed/execution_terminal" {
		t.Fatalf("suspension %s", s)
	}
	waitCheckInvariants(t, b)
	engCheckStorage(t, b.ReaderDB())
}
