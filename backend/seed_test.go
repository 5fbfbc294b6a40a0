package backend_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

func countRows(t *testing.T, b *backend.Backend, table string) int {
	t.Helper()
	var n int
	if err := b.ReaderDB().QueryRowContext(engCtx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSeedAppliesAllInOneTransactionOrNothing(t *testing.T) {
	t.Parallel()
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		e1, e2 := engArgs(), engArgs()
		bud := backend.CreateBudgetArgs{BudgetID: "b-1", Dimensions: []string{"tokens"}, HardLimits: []uint64{10}, SoftLimits: []uint64{5}}
		q := backend.CreateQuotaPolicyArgs{QuotaPolicyID: uuid.New(), WindowSeconds: 60, MaxRequestsPerWindow: 10, MaxConcurrent: 2}
		// A bad item (a lane of 65 bytes) at index 3: nothing is applied.
		bad := engArgs(func(a *backend.CreateExecutionArgs) { a.LaneID = string(make([]byte, 65)) })
		_, err := b.Seed(engCtx, []backend.SeedItem{e1, bud, q, bad})
		var se *backend.SeedError
		if !errors.As(err, &se) || se.Index != 3 || backend.KindOf(err) != backend.KindValidation {
			t.Fatalf("bad item: %v", err)
		}
		// A write that fails inside the transaction, after two items were
		// applied: the whole seed rolls back.
		if _, err := b.WriterDB().ExecContext(engCtx, `CREATE TRIGGER seed_boom BEFORE INSERT ON ff_quota_policy
			BEGIN SELECT RAISE(ABORT, 'boom'); END`); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Seed(engCtx, []backend.SeedItem{e1, bud, q}); !errors.As(err, &se) || se.Index != 2 {
			t.Fatalf("failing write: %v", err)
		}
		if _, err := b.WriterDB().ExecContext(engCtx, `DROP TRIGGER seed_boom`); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"ff_exec_core", "ff_budget_policy", "ff_quota_policy", "ff_lane_registry"} {
			if n := countRows(t, b, table); n != 0 {
				t.Fatalf("after the refused seeds %s has %d rows", table, n)
			}
		}
		created, err := b.Seed(engCtx, []backend.SeedItem{e1, e2, bud, q})
		if err != nil || len(created) != 4 || !created[0] || !created[1] || !created[2] || !created[3] {
			t.Fatalf("seed: %v %v", created, err)
		}
		// Idempotent on ids: the second run creates nothing and changes
		// nothing (the budget keeps its limits).
		bud2 := bud
		bud2.HardLimits = []uint64{99}
		created, err = b.Seed(engCtx, []backend.SeedItem{e1, e2, bud2, q, e1})
		if err != nil || len(created) != 5 || created[0] || created[1] || created[2] || created[3] || created[4] {
			t.Fatalf("second seed: %v %v", created, err)
		}
		st, err := b.GetBudgetStatus(engCtx, "b-1")
		if err != nil || st.HardLimits["tokens"] != 10 {
			t.Fatalf("budget after re-seed: %+v %v", st, err)
		}
		if n := countRows(t, b, "ff_exec_core"); n != 2 {
			t.Fatalf("%d executions", n)
		}
		if info := engInfo(t, b, e1.ExecutionID); info.PublicState != "waiting" {
			t.Fatalf("seeded execution %+v", info)
		}
	})
}

func TestCreateQuotaPolicyIdempotent(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, false)
	id := uuid.New()
	res, err := b.CreateQuotaPolicy(engCtx, backend.CreateQuotaPolicyArgs{QuotaPolicyID: id, WindowSeconds: 60, MaxRequestsPerWindow: 100, MaxConcurrent: 10})
	if err != nil || !res.Created || res.QuotaPolicyID != id {
		t.Fatalf("create: %+v %v", res, err)
	}
	res, err = b.CreateQuotaPolicy(engCtx, backend.CreateQuotaPolicyArgs{QuotaPolicyID: id, WindowSeconds: 1})
	if err != nil || res.Created {
		t.Fatalf("again: %+v %v", res, err)
	}
	var w int64
	b.ReaderDB().QueryRowContext(engCtx, "SELECT requests_per_window_seconds FROM ff_quota_policy").Scan(&w)
	if w != 60 {
		t.Fatalf("window overwritten: %d", w)
	}
	_, err = b.CreateQuotaPolicy(engCtx, backend.CreateQuotaPolicyArgs{QuotaPolicyID: uuid.New(), MaxConcurrent: 1 << 63})
	engWantCode(t, err, backend.KindValidation, "invalid_input")
}
