package scanners_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/scanners"
)

// flowFixture makes a flow with an applied edge up → down and returns
// the three ids.
func flowFixture(t *testing.T, b *backend.Backend) (flow uuid.UUID, up, down backend.ExecutionID) {
	t.Helper()
	ctx := context.Background()
	flow = uuid.New()
	if _, err := b.CreateFlow(ctx, backend.CreateFlowArgs{FlowID: flow, FlowKind: "dag", Namespace: "ns"}); err != nil {
		t.Fatal(err)
	}
	ids := make([]backend.ExecutionID, 2)
	for i := range ids {
		ids[i] = backend.NewExecutionID(0)
		if _, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{ExecutionID: ids[i], Namespace: "ns", LaneID: "default",
			ExecutionKind: "k", InputPayload: backend.Bytes("{}"), CreatorIdentity: "test"}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.AddExecutionToFlow(ctx, backend.AddExecutionToFlowArgs{FlowID: flow, ExecutionID: ids[i]}); err != nil {
			t.Fatal(err)
		}
	}
	e := uuid.New()
	if _, err := b.StageDependencyEdge(ctx, backend.StageDependencyEdgeArgs{FlowID: flow, EdgeID: e,
		UpstreamExecutionID: ids[0], DownstreamExecutionID: ids[1], ExpectedGraphRevision: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ApplyDependencyToChild(ctx, backend.ApplyDependencyToChildArgs{FlowID: flow, EdgeID: e,
		UpstreamExecutionID: ids[0], DownstreamExecutionID: ids[1]}); err != nil {
		t.Fatal(err)
	}
	return flow, ids[0], ids[1]
}

func TestDependencyReconciler(t *testing.T) {
	t.Parallel()
	b, clock := openDB(t)
	ctx := context.Background()
	_, up, down := flowFixture(t, b)
	// A flow_cascade cancel resolves nothing: the reconciler's work.
	if _, err := b.CancelExecution(ctx, backend.CancelExecutionArgs{ExecutionID: up, Reason: "r", Source: backend.SourceFlowCascade}); err != nil {
		t.Fatal(err)
	}
	s, err := scanners.ForBackend(b, only(scanners.Dependency), scanners.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := s.RunOnce(ctx, clock.MS())[0]; r.Reconciler != scanners.Dependency || r.Processed != 1 || r.Errors != 0 {
		t.Fatalf("tick: %+v", r)
	}
	if st, err := b.GetPublicState(ctx, down); err != nil || st != "skipped" {
		t.Fatalf("child = %s, %v", st, err)
	}
	if r := s.RunOnce(ctx, clock.MS())[0]; r.Processed != 0 {
		t.Fatalf("not idempotent: %+v", r)
	}
}

func TestCancelBacklogReconciler(t *testing.T) {
	t.Parallel()
	b, clock := openDB(t)
	ctx := context.Background()
	flow, up, down := flowFixture(t, b)
	broke := func(q string) {
		t.Helper()
		err := b.WriteTx(ctx, "test", func(ctx context.Context, tx *backend.Txn) error {
			_, err := tx.ExecContext(ctx, q, up.UUID[:])
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The upstream cannot be written: its live cancel fails and stays owed.
	broke(`UPDATE ff_exec_core SET raw_fields = 'x' WHERE execution_id = ?`)
	res, err := b.CancelFlow(ctx, backend.CancelFlowArgs{FlowID: flow, Reason: "stop", CancellationPolicy: backend.CancelAllPolicy}, true)
	if err != nil || res.Outcome != backend.FlowPartiallyCancelled {
		t.Fatalf("cancel = %+v, %v", res, err)
	}
	broke(`UPDATE ff_exec_core SET raw_fields = '{"namespace":"ns","terminal_outcome":"none"}' WHERE execution_id = ?`)
	s, err := scanners.ForBackend(b, only(scanners.CancelBacklog), scanners.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := s.RunOnce(ctx, clock.MS()+29_999)[0]; r.Reconciler != scanners.CancelBacklog || r.Processed != 0 {
		t.Fatalf("within the grace: %+v", r)
	}
	if r := s.RunOnce(ctx, clock.MS()+30_000)[0]; r.Processed != 1 || r.Errors != 0 {
		t.Fatalf("after the grace: %+v", r)
	}
	for _, id := range []backend.ExecutionID{up, down} {
		if st, err := b.GetPublicState(ctx, id); err != nil || st != "cancelled" {
			t.Fatalf("%s = %s, %v", id, st, err)
		}
	}
	if r := s.RunOnce(ctx, clock.MS()+30_000)[0]; r.Processed != 0 {
		t.Fatalf("not idempotent: %+v", r)
	}
}
