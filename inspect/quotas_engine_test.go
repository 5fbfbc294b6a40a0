package inspect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/inspect"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/render"
)

// What the engine's quota admission writes reads back through inspect
// quotas: a rate quota (3 per 60 s) with its window full and two
// executions blocked, a concurrency quota (cap 2) with both slots held and
// one blocked, and an unlimited one; golden text and JSON.
func TestInspectEngineQuotas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const t0 = int64(1_800_000_000_000)
	clock := testdb.NewClock(t0)
	b := testdb.Open(t, testdb.WithClock(clock.Now))
	quotas := []struct {
		id                    string
		window, maxReq, concr uint64
		execs, claims         int
	}{
		{"11111111-1111-4111-8111-111111111111", 60, 3, 0, 5, 5},
		{"22222222-2222-4222-8222-222222222222", 60, 0, 2, 3, 3},
		{"33333333-3333-4333-8333-333333333333", 0, 0, 0, 2, 2},
	}
	for i, q := range quotas {
		if _, err := b.CreateQuotaPolicy(ctx, backend.CreateQuotaPolicyArgs{QuotaPolicyID: uuid.MustParse(q.id),
			WindowSeconds: q.window, MaxRequestsPerWindow: q.maxReq, MaxConcurrent: q.concr}); err != nil {
			t.Fatal(err)
		}
		lane := []string{"rate", "conc", "free"}[i]
		for range q.execs {
			if _, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{ExecutionID: backend.NewExecutionID(uint16(i)), Namespace: "ns",
				LaneID: lane, ExecutionKind: "k", InputPayload: backend.Bytes("{}"), CreatorIdentity: "t",
				Policy: json.RawMessage(`{"quota_policy_id":"` + q.id + `"}`)}); err != nil {
				t.Fatal(err)
			}
		}
		for range q.claims {
			l, err := b.Claim(ctx, backend.ClaimArgs{WorkerID: "w", WorkerInstanceID: "w-1", LaneID: lane})
			if err != nil {
				t.Fatal(err)
			}
			if l != nil && i == 0 {
				if err := b.Complete(ctx, l.Handle, nil); err != nil { // rate only: no slot held
					t.Fatal(err)
				}
			}
			clock.Advance(time.Second)
		}
	}
	// A quota-unblock pass: nothing is admissible yet; the policies' stored
	// slot counts are refreshed.
	if rep, err := b.UnblockQuotas(ctx, clock.MS(), 100); err != nil || rep.Processed != 0 {
		t.Fatalf("UnblockQuotas = %+v, %v", rep, err)
	}
	list, err := inspect.Quotas(ctx, b.ReaderDB(), clock.MS())
	if err != nil {
		t.Fatal(err)
	}
	got := func(i int) (int64, int64, int64, string) {
		r := list.Quotas[i]
		return r.AdmittedInWindow, r.SlotsInUse, r.Blocked, r.Status
	}
	for i, want := range [][4]any{{int64(3), int64(0), int64(2), "rate_limited"}, {int64(2), int64(2), int64(1), "concurrency_limited"},
		{int64(0), int64(2), int64(0), "ok"}} {
		w, s, bl, st := got(i)
		if w != want[0] || s != want[1] || bl != want[2] || st != want[3] {
			t.Errorf("quota %d: window %d slots %d blocked %d %s; want %v", i, w, s, bl, st, want)
		}
	}
	for _, asJSON := range []bool{false, true} {
		var out bytes.Buffer
		p := inspect.Printer{W: &out, JSON: asJSON, Painter: render.Painter{}, NowMS: clock.MS(), Zone: time.UTC}
		if err := p.Quotas(list); err != nil {
			t.Fatal(err)
		}
		name := "quotas_engine"
		if asJSON {
			name += ".json"
		}
		golden(t, name, out.String())
	}
}
