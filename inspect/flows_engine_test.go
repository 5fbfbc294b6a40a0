package inspect_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/inspect"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// What the engine writes for a flow reads back through inspect flow: a
// diamond A → {B, C} → D on two partitions where B failed, drawn as a
// tree with each edge's state and each child's group.
func TestInspectEngineFlow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := testdb.Open(t)
	flow := uuid.New()
	if _, err := b.CreateFlow(ctx, backend.CreateFlowArgs{FlowID: flow, FlowKind: "pipeline", Namespace: "ns"}); err != nil {
		t.Fatal(err)
	}
	ids := map[string]backend.ExecutionID{}
	for i, name := range []string{"a", "b", "c", "d"} {
		id := backend.NewExecutionID(uint16(i % 2 * 5))
		ids[name] = id
		if _, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{ExecutionID: id, Namespace: "ns", LaneID: name,
			ExecutionKind: "k", InputPayload: backend.Bytes("{}"), CreatorIdentity: "t"}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.AddExecutionToFlow(ctx, backend.AddExecutionToFlowArgs{FlowID: flow, ExecutionID: id}); err != nil {
			t.Fatal(err)
		}
	}
	rev := uint64(4)
	for _, e := range [][2]string{{"a", "b"}, {"a", "c"}, {"b", "d"}, {"c", "d"}} {
		edge := uuid.New()
		res, err := b.StageDependencyEdge(ctx, backend.StageDependencyEdgeArgs{FlowID: flow, EdgeID: edge,
			UpstreamExecutionID: ids[e[0]], DownstreamExecutionID: ids[e[1]], ExpectedGraphRevision: rev})
		if err != nil {
			t.Fatal(err)
		}
		rev = res.NewGraphRevision
		if _, err := b.ApplyDependencyToChild(ctx, backend.ApplyDependencyToChildArgs{FlowID: flow, EdgeID: edge,
			UpstreamExecutionID: ids[e[0]], DownstreamExecutionID: ids[e[1]]}); err != nil {
			t.Fatal(err)
		}
	}
	run := func(lane string, ok bool) {
		l, err := b.Claim(ctx, backend.ClaimArgs{WorkerID: "w", WorkerInstanceID: "w-1", LaneID: lane})
		if err != nil || l == nil {
			t.Fatalf("claim %s = %v, %v", lane, l, err)
		}
		if ok {
			err = b.Complete(ctx, l.Handle, nil)
		} else {
			_, err = b.Fail(ctx, l.Handle, backend.FailArgs{Class: backend.FailPermanent, Reason: "x"})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	run("a", true)
	run("b", false)
	d, err := inspect.Flow(ctx, b.ReaderDB(), flow.String())
	if err != nil {
		t.Fatal(err)
	}
	if *d.FlowKind != "pipeline" || d.GraphRevision != 8 || d.FlowRow.Members != 4 || d.EdgeStates["satisfied"] != 2 ||
		d.EdgeStates["impossible"] != 1 || d.EdgeStates["unsatisfied"] != 1 || len(d.EdgeGroups) != 3 {
		t.Fatalf("flow %+v", d)
	}
	var out bytes.Buffer
	if err := (inspect.Printer{W: &out}).Flow(d); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"kind       pipeline",
		"edges      4 (unsatisfied 1, satisfied 2, impossible 1)",
		"\ngraph\n" + ids["a"].String() + "  completed  a\n",
		"── " + ids["b"].String() + "  failed  b  [success_only, satisfied]  (all_of 1/1 satisfied)\n",
		"── " + ids["c"].String() + "  waiting  c  [success_only, satisfied]  (all_of 1/1 satisfied)\n",
		"└── " + ids["d"].String() + "  skipped  d  [success_only, impossible]  (all_of 0/2 satisfied, 1 failed)",
		"└── " + ids["d"].String() + "  skipped  d  [success_only, unsatisfied]  (all_of 0/2 satisfied, 1 failed)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("inspect flow lacks %q:\n%s", want, text)
		}
	}
}
