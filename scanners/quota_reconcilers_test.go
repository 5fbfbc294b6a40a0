package scanners_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/scanners"
)

// The quota unblock reconciler makes a rate-limited execution waiting
// again once the quota's window has slid, and not before.
func TestQuotaUnblockReconciler(t *testing.T) {
	t.Parallel()
	b, clock := openDB(t)
	ctx := context.Background()
	q := uuid.New()
	if _, err := b.CreateQuotaPolicy(ctx, backend.CreateQuotaPolicyArgs{QuotaPolicyID: q, WindowSeconds: 1, MaxRequestsPerWindow: 1}); err != nil {
		t.Fatal(err)
	}
	ids := make([]backend.ExecutionID, 2)
	for i := range ids {
		ids[i] = backend.NewExecutionID(0)
		if _, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{ExecutionID: ids[i], Namespace: "ns", LaneID: "default",
			ExecutionKind: "k", InputPayload: backend.Bytes("{}"), CreatorIdentity: "test",
			Policy: []byte(`{"quota_policy_id":"` + q.String() + `"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	claim := backend.ClaimArgs{WorkerID: "w", WorkerInstanceID: "w-1", LaneID: "default"}
	if l, err := b.Claim(ctx, claim); err != nil || l == nil || l.ExecutionID != ids[0] {
		t.Fatalf("claim = %+v, %v", l, err)
	}
	if l, err := b.Claim(ctx, claim); err != nil || l != nil {
		t.Fatalf("second claim = %+v, %v; want blocked", l, err)
	}
	s, err := scanners.ForBackend(b, only(scanners.QuotaUnblock), scanners.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := s.RunOnce(ctx, clock.MS()+999)[0]; r.Reconciler != scanners.QuotaUnblock || r.Processed != 0 || r.Errors != 0 {
		t.Fatalf("inside the window: %+v", r)
	}
	if st, err := b.GetPublicState(ctx, ids[1]); err != nil || st != "rate_limited" {
		t.Fatalf("blocked = %s, %v", st, err)
	}
	if r := s.RunOnce(ctx, clock.MS()+1000)[0]; r.Processed != 1 || r.Errors != 0 {
		t.Fatalf("after the window: %+v", r)
	}
	if st, err := b.GetPublicState(ctx, ids[1]); err != nil || st != "waiting" {
		t.Fatalf("unblocked = %s, %v", st, err)
	}
	if r := s.RunOnce(ctx, clock.MS()+1000)[0]; r.Processed != 0 {
		t.Fatalf("not idempotent: %+v", r)
	}
}
