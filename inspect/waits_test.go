package inspect_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/inspect"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/suspension"
)

// What the engine writes for a durable wait reads back through inspect:
// the suspension, its waitpoints with kid and fingerprint (never the
// token), the delivered signals, and the open waitpoints list.
func TestInspectEngineWaits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := testdb.Open(t)
	if _, err := b.SeedWaitpointSecret(ctx, "k1", []byte("secret")); err != nil {
		t.Fatal(err)
	}
	id := backend.NewExecutionID(3)
	if _, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{ExecutionID: id, Namespace: "ns", LaneID: "default",
		ExecutionKind: "k", InputPayload: backend.Bytes("{}"), CreatorIdentity: "t"}); err != nil {
		t.Fatal(err)
	}
	l, err := b.Claim(ctx, backend.ClaimArgs{WorkerID: "w", WorkerInstanceID: "w-1", LaneID: "default"})
	if err != nil || l == nil {
		t.Fatalf("claim = %v, %v", l, err)
	}
	wa, wb := uuid.New(), uuid.New()
	timeout := b.Now() + 60_000
	out, err := b.Suspend(ctx, l.Handle, suspension.SuspendArgs{
		SuspensionID: uuid.New(),
		Waitpoints:   []suspension.WaitpointBinding{suspension.Fresh(wa, "a"), suspension.Fresh(wb, "b")},
		ResumeCondition: suspension.AllOf(suspension.Single("a", suspension.ByName("yes")),
			suspension.Single("b", suspension.Wildcard())),
		ResumePolicy: suspension.DefaultResumePolicy(), ReasonCode: suspension.ReasonWaitingForCallback,
		RequestedBy: suspension.RequestedByWorker, TimeoutAt: &timeout, TimeoutBehavior: suspension.TimeoutEscalate,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.DeliverSignal(ctx, backend.DeliverSignalArgs{ExecutionID: id, WaitpointID: wa, SignalID: uuid.New(),
		SignalName: "yes", SignalCategory: "c", SourceType: "human", SourceIdentity: "alice", TargetScope: "execution",
		WaitpointToken: out.Details.WaitpointToken, Payload: []byte("abc")}); err != nil {
		t.Fatal(err)
	}
	d, err := inspect.Execution(ctx, b.ReaderDB(), id.String(), b.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := d.Suspension
	if s == nil || *s.State != "open" || *s.ReasonCode != "waiting_for_callback" || *s.RequestedBy != "worker" ||
		*s.TimeoutAtMS != timeout || *s.TimeoutBehavior != "escalate" || s.SatisfierCount != 1 {
		t.Fatalf("suspension = %+v", s)
	}
	if len(d.Waitpoints) != 2 || len(d.Signals) != 1 {
		t.Fatalf("waitpoints %+v signals %+v", d.Waitpoints, d.Signals)
	}
	_, fp := suspension.Fingerprint(out.Details.WaitpointToken)
	for _, w := range d.Waitpoints {
		if *w.State != "active" || w.TokenKid != "k1" {
			t.Fatalf("waitpoint = %+v", w)
		}
		if w.WaitpointID == wa.String() && (w.TokenFingerprint != fp || w.SignalCount != 1) {
			t.Fatalf("waitpoint a = %+v", w)
		}
	}
	sig := d.Signals[0]
	if sig.WaitpointID != wa.String() || sig.SignalName != "yes" || sig.Effect != suspension.EffectAppended || sig.PayloadBytes != 3 {
		t.Fatalf("signal = %+v", sig)
	}
	raw, _ := json.Marshal(d)
	for _, tok := range []string{out.Details.WaitpointToken, out.Details.AdditionalWaitpoints[0].WaitpointToken} {
		if strings.Contains(string(raw), tok) {
			t.Fatal("inspect execution shows a raw token")
		}
	}
	list, err := inspect.Waitpoints(ctx, b.ReaderDB(), 0)
	if err != nil || len(list.Waitpoints) != 2 || list.Waitpoints[0].ExecutionID != id.String() {
		t.Fatalf("waitpoints = %+v, %v", list, err)
	}
	if one, _ := inspect.Waitpoints(ctx, b.ReaderDB(), 1); len(one.Waitpoints) != 1 {
		t.Fatalf("limit 1 = %+v", one)
	}
	// Once resumed nothing is open, and the history stays.
	if _, err := b.DeliverSignal(ctx, backend.DeliverSignalArgs{ExecutionID: id, WaitpointID: wb, SignalID: uuid.New(),
		SignalName: "any", SignalCategory: "c", SourceType: "bot", SourceIdentity: "b", TargetScope: "execution",
		WaitpointToken: out.Details.AdditionalWaitpoints[0].WaitpointToken}); err != nil {
		t.Fatal(err)
	}
	if list, _ := inspect.Waitpoints(ctx, b.ReaderDB(), 0); len(list.Waitpoints) != 0 {
		t.Fatalf("open after resume = %+v", list)
	}
	d, err = inspect.Execution(ctx, b.ReaderDB(), id.String(), b.Now())
	if err != nil || *d.Suspension.State != "closed" || *d.Suspension.CloseReason != "resumed" || len(d.Signals) != 2 ||
		*d.Waitpoints[0].State != "closed" || *d.Waitpoints[0].CloseReason != "resumed" || *d.Suspension.TimeoutAtMS != timeout {
		t.Fatalf("after resume = %+v, %v", d, err)
	}
}
