package scanners_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/scanners"
	"github.com/ffsqlite/ffsqlite/suspension"
)

// waitFixture creates, claims and suspends an execution with a timeout,
// and creates a pending waitpoint on a second claimed execution.
func waitFixture(t *testing.T, b *backend.Backend, now, timeout, pendingFor int64) (suspended, pending backend.ExecutionID) {
	t.Helper()
	ctx := context.Background()
	if _, err := b.SeedWaitpointSecret(ctx, "k1", []byte("secret")); err != nil {
		t.Fatal(err)
	}
	claim := func() *backend.Lease {
		id := backend.NewExecutionID(0)
		if _, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{ExecutionID: id, Namespace: "ns", LaneID: "default",
			ExecutionKind: "k", InputPayload: backend.Bytes("{}"), CreatorIdentity: "test", Now: now}); err != nil {
			t.Fatal(err)
		}
		l, err := b.Claim(ctx, backend.ClaimArgs{WorkerID: "w", WorkerInstanceID: "w-1", LaneID: "default"})
		if err != nil || l == nil || l.ExecutionID != id {
			t.Fatalf("claim = %+v, %v", l, err)
		}
		return l
	}
	l := claim()
	wp := uuid.New()
	if _, err := b.Suspend(ctx, l.Handle, suspension.SuspendArgs{
		SuspensionID: uuid.New(), Waitpoints: []suspension.WaitpointBinding{suspension.Fresh(wp, "k")},
		ResumeCondition: suspension.Single("k", suspension.Wildcard()), ResumePolicy: suspension.DefaultResumePolicy(),
		ReasonCode: suspension.ReasonWaitingForSignal, RequestedBy: suspension.RequestedByWorker,
		TimeoutAt: &timeout, TimeoutBehavior: suspension.TimeoutCancel,
	}); err != nil {
		t.Fatal(err)
	}
	l2 := claim()
	if _, err := b.CreateWaitpoint(ctx, l2.Handle, backend.CreateWaitpointArgs{WaitpointKey: "p", ExpiresInMS: pendingFor}); err != nil {
		t.Fatal(err)
	}
	return l.ExecutionID, l2.ExecutionID
}

func TestSuspensionTimeoutReconciler(t *testing.T) {
	t.Parallel()
	b, clock := openDB(t)
	ctx := context.Background()
	id, _ := waitFixture(t, b, clock.MS(), t0+500, 60_000)
	s, err := scanners.ForBackend(b, only(scanners.SuspensionTimeout), scanners.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := s.RunOnce(ctx, t0+499)[0]; r.Reconciler != scanners.SuspensionTimeout || r.Processed != 0 || r.Errors != 0 {
		t.Fatalf("not due: %+v", r)
	}
	if r := s.RunOnce(ctx, t0+500)[0]; r.Processed != 1 || r.Errors != 0 {
		t.Fatalf("due: %+v", r)
	}
	if st, err := b.GetPublicState(ctx, id); err != nil || st != "cancelled" {
		t.Fatalf("state = %s, %v", st, err)
	}
	if r := s.RunOnce(ctx, t0+500)[0]; r.Processed != 0 {
		t.Fatalf("not idempotent: %+v", r)
	}
}

func TestPendingWaitpointExpiryReconciler(t *testing.T) {
	t.Parallel()
	b, clock := openDB(t)
	ctx := context.Background()
	_, id := waitFixture(t, b, clock.MS(), t0+3_600_000, 1000)
	s, err := scanners.ForBackend(b, only(scanners.PendingWaitpointExpiry), scanners.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := s.RunOnce(ctx, t0+999)[0]; r.Reconciler != scanners.PendingWaitpointExpiry || r.Processed != 0 {
		t.Fatalf("not due: %+v", r)
	}
	if r := s.RunOnce(ctx, t0+1000)[0]; r.Processed != 1 || r.Errors != 0 {
		t.Fatalf("due: %+v", r)
	}
	page, err := b.ListPendingWaitpoints(ctx, id, nil, 0)
	if err != nil || len(page.Waitpoints) != 0 {
		t.Fatalf("still pending: %+v, %v", page, err)
	}
	if r := s.RunOnce(ctx, t0+1000)[0]; r.Processed != 0 {
		t.Fatalf("not idempotent: %+v", r)
	}
}
