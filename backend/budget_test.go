package backend_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

const budT0 = int64(1_700_000_000_000)

// budEnv opens a file database on a settable clock at budT0, logging to
// log (discarded when nil).
func budEnv(t testing.TB, log *slog.Logger) (*backend.Backend, *testdb.Clock) {
	t.Helper()
	clock := testdb.NewClock(budT0)
	opts := []testdb.Option{testdb.WithClock(clock.Now)}
	if log != nil {
		opts = append(opts, func(o *backend.Options) { o.Logger = log })
	}
	return testdb.Open(t, opts...), clock
}

func budCreate(t testing.TB, b *backend.Backend, id string, intervalMS uint64, dims []string, hard, soft []uint64) {
	t.Helper()
	res, err := b.CreateBudget(context.Background(), backend.CreateBudgetArgs{
		BudgetID: id, ScopeType: "flow", ScopeID: "f1", EnforcementMode: "strict",
		OnHardLimit: "fail", OnSoftLimit: "warn", ResetIntervalMS: intervalMS,
		Dimensions: dims, HardLimits: hard, SoftLimits: soft,
	})
	if err != nil || !res.Created {
		t.Fatalf("CreateBudget(%s) = %+v, %v", id, res, err)
	}
}

func budStatus(t testing.TB, b *backend.Backend, id string) backend.BudgetStatus {
	t.Helper()
	st, err := b.GetBudgetStatus(context.Background(), id)
	if err != nil {
		t.Fatalf("GetBudgetStatus(%s): %v", id, err)
	}
	return st
}

func budReport(t testing.TB, b *backend.Backend, id string, dims map[string]uint64, key string) backend.ReportUsageResult {
	t.Helper()
	r, err := b.ReportUsage(context.Background(), id, backend.ReportUsageArgs{Dimensions: dims, DedupKey: key})
	if err != nil {
		t.Fatalf("ReportUsage(%s, %v): %v", id, dims, err)
	}
	return r
}

// budSetNext forces a budget's schedule (nil = NULL).
func budSetNext(t testing.TB, b *backend.Backend, id string, next any) {
	t.Helper()
	err := b.WriteTx(context.Background(), "test", func(ctx context.Context, tx *backend.Txn) error {
		_, err := tx.ExecContext(ctx, `UPDATE ff_budget_policy SET next_reset_at_ms = ? WHERE budget_id = ?`, next, id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func budNext(st backend.BudgetStatus) int64 {
	if st.NextResetAt == nil {
		return -1
	}
	return *st.NextResetAt
}

// budBreached creates a 60 s budget with 200 tokens used and a recorded
// hard breach, due one second before now.
func budBreached(t testing.TB, b *backend.Backend, now int64, id string) {
	t.Helper()
	budCreate(t, b, id, 60_000, []string{"tokens"}, []uint64{250}, []uint64{100})
	budReport(t, b, id, map[string]uint64{"tokens": 200}, "")
	if r := budReport(t, b, id, map[string]uint64{"tokens": 100}, ""); r.Outcome != backend.UsageHardBreach {
		t.Fatalf("setup breach = %+v", r)
	}
	budSetNext(t, b, id, now-1000)
}

func TestBudgetResetDue(t *testing.T) {
	t.Parallel()
	b, clock := budEnv(t, nil)
	now := clock.MS()
	budBreached(t, b, now, "b-due")
	before := budStatus(t, b, "b-due")
	if before.LastBreachAt == nil || before.LastBreachDim == nil || before.BreachCount != 1 || before.SoftBreachCount != 1 {
		t.Fatalf("setup status = %+v", before)
	}

	rep, err := b.ResetDueBudgets(context.Background(), now, 0)
	if err != nil || rep != (backend.SweepReport{Processed: 1}) {
		t.Fatalf("tick = %+v, %v; want processed 1", rep, err)
	}
	st := budStatus(t, b, "b-due")
	if st.Usage["tokens"] != 0 {
		t.Errorf("usage = %v, want 0", st.Usage)
	}
	if got := budNext(st); got != now+60_000 {
		t.Errorf("next_reset = %d, want now+60000 = %d", got, now+60_000)
	}
	if st.LastBreachAt != nil || st.LastBreachDim != nil {
		t.Errorf("last breach not cleared: %v %v", st.LastBreachAt, st.LastBreachDim)
	}
	if st.BreachCount != 1 || st.SoftBreachCount != 1 {
		t.Errorf("lifetime counters changed: %d/%d", st.BreachCount, st.SoftBreachCount)
	}
	var lastReset int64
	if err := b.ReaderDB().QueryRow(`SELECT last_reset_at_ms FROM ff_budget_usage WHERE budget_id = 'b-due'`).Scan(&lastReset); err != nil || lastReset != now {
		t.Errorf("last_reset_at_ms = %d, %v; want %d", lastReset, err, now)
	}

	// Idempotent: the next tick at the same instant finds nothing due.
	rep, err = b.ResetDueBudgets(context.Background(), now, 0)
	if err != nil || rep != (backend.SweepReport{}) {
		t.Fatalf("second tick = %+v, %v; want nothing", rep, err)
	}
}

func TestBudgetResetNotDue(t *testing.T) {
	t.Parallel()
	b, clock := budEnv(t, nil)
	now := clock.MS()
	budCreate(t, b, "b-future", 60_000, []string{"tokens"}, []uint64{0}, []uint64{0})
	budReport(t, b, "b-future", map[string]uint64{"tokens": 200}, "")
	budSetNext(t, b, "b-future", now+10*60_000)
	rep, err := b.ResetDueBudgets(context.Background(), now, 0)
	if err != nil || rep != (backend.SweepReport{}) {
		t.Fatalf("tick = %+v, %v; want nothing", rep, err)
	}
	st := budStatus(t, b, "b-future")
	if st.Usage["tokens"] != 200 || budNext(st) != now+10*60_000 {
		t.Fatalf("changed: usage %v next %d", st.Usage, budNext(st))
	}
}

func TestBudgetResetNullSchedule(t *testing.T) {
	t.Parallel()
	b, clock := budEnv(t, nil)
	budCreate(t, b, "b-never", 0, []string{"tokens"}, []uint64{0}, []uint64{0})
	budReport(t, b, "b-never", map[string]uint64{"tokens": 5}, "")
	if st := budStatus(t, b, "b-never"); st.NextResetAt != nil {
		t.Fatalf("interval 0 scheduled a reset at %d", *st.NextResetAt)
	}
	rep, err := b.ResetDueBudgets(context.Background(), clock.MS()+10_000_000, 0)
	if err != nil || rep != (backend.SweepReport{}) {
		t.Fatalf("tick = %+v, %v; want nothing", rep, err)
	}
	if st := budStatus(t, b, "b-never"); st.Usage["tokens"] != 5 {
		t.Fatalf("usage = %v", st.Usage)
	}
	// An admin reset of a budget without interval keeps the schedule NULL
	// and answers next_reset_at 0.
	r, err := b.ResetBudget(context.Background(), "b-never")
	if err != nil || r.NextResetAt != 0 {
		t.Fatalf("ResetBudget = %+v, %v", r, err)
	}
	if st := budStatus(t, b, "b-never"); st.NextResetAt != nil || st.Usage["tokens"] != 0 {
		t.Fatalf("after admin reset: %+v", st)
	}
}

func TestBudgetResetBoundary(t *testing.T) {
	t.Parallel()
	b, clock := budEnv(t, nil)
	now := clock.MS()
	budCreate(t, b, "b-at", 1000, []string{"d"}, []uint64{0}, []uint64{0})
	budCreate(t, b, "b-after", 1000, []string{"d"}, []uint64{0}, []uint64{0})
	budSetNext(t, b, "b-at", now)
	budSetNext(t, b, "b-after", now+1)
	rep, err := b.ResetDueBudgets(context.Background(), now, 0)
	if err != nil || rep.Processed != 1 {
		t.Fatalf("tick = %+v, %v; want exactly the budget due at now", rep, err)
	}
	if got := budNext(budStatus(t, b, "b-at")); got != now+1000 {
		t.Errorf("b-at next = %d", got)
	}
	if got := budNext(budStatus(t, b, "b-after")); got != now+1 {
		t.Errorf("b-after next = %d (reset one ms early)", got)
	}
}

func TestBudgetResetBatchLimitEarliestFirst(t *testing.T) {
	t.Parallel()
	b, clock := budEnv(t, nil)
	now := clock.MS()
	for i := range 25 {
		id := fmt.Sprintf("b-%02d", i)
		budCreate(t, b, id, 5000, []string{"d"}, []uint64{0}, []uint64{0})
		budSetNext(t, b, id, now-int64(1000*(25-i))) // b-00 is the most overdue
	}
	rep, err := b.ResetDueBudgets(context.Background(), now, 0)
	if err != nil || rep.Processed != backend.DefaultBudgetResetBatch {
		t.Fatalf("tick = %+v, %v; want the default batch of 20", rep, err)
	}
	for i := range 25 {
		id := fmt.Sprintf("b-%02d", i)
		reset := budNext(budStatus(t, b, id)) == now+5000
		if reset != (i < 20) {
			t.Errorf("%s reset = %v; the 20 most overdue go first", id, reset)
		}
	}
	rep, err = b.ResetDueBudgets(context.Background(), now, 3)
	if err != nil || rep.Processed != 3 {
		t.Fatalf("limited tick = %+v, %v; want 3", rep, err)
	}
	rep, _ = b.ResetDueBudgets(context.Background(), now, 3)
	if rep.Processed != 2 {
		t.Fatalf("last tick processed %d, want 2", rep.Processed)
	}
}

// A budget whose policy_json is corrupt fails alone: it is counted, logged
// with its id, stays due, and the rest of the batch is reset.
func TestBudgetResetInjectedFailure(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	b, clock := budEnv(t, log)
	now := clock.MS()
	for _, id := range []string{"b-1", "b-bad", "b-3"} {
		budCreate(t, b, id, 1000, []string{"d"}, []uint64{0}, []uint64{0})
		budReport(t, b, id, map[string]uint64{"d": 7}, "")
	}
	budSetNext(t, b, "b-1", now-3)
	budSetNext(t, b, "b-bad", now-2)
	budSetNext(t, b, "b-3", now-1)
	err := b.WriteTx(context.Background(), "test", func(ctx context.Context, tx *backend.Txn) error {
		_, err := tx.ExecContext(ctx, `UPDATE ff_budget_policy SET policy_json = '{not json' WHERE budget_id = 'b-bad'`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := b.ResetDueBudgets(context.Background(), now, 0)
	if err != nil || rep != (backend.SweepReport{Processed: 2, Errors: 1}) {
		t.Fatalf("tick = %+v, %v; want 2 processed, 1 error", rep, err)
	}
	out := buf.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, `msg="sqlite budget_reset reconciler: reset failed"`) ||
		!strings.Contains(out, "budget_id=b-bad") || !strings.Contains(out, "error=") {
		t.Errorf("log = %q", out)
	}
	var usage int64
	for id, want := range map[string]int64{"b-1": 0, "b-bad": 7, "b-3": 0} {
		if err := b.ReaderDB().QueryRow(`SELECT current_value FROM ff_budget_usage WHERE budget_id = ?`, id).Scan(&usage); err != nil || usage != want {
			t.Errorf("%s usage = %d, %v; want %d", id, usage, err, want)
		}
	}
	if _, err := b.GetBudgetStatus(context.Background(), "b-bad"); !errors.Is(err, &backend.Error{Kind: backend.KindValidation, Code: "invalid_policy_json"}) {
		t.Errorf("status of corrupt budget: %v", err)
	}
}

// Rows under another partition_key are found: the reconciler enumerates
// partitions instead of assuming 0.
func TestBudgetResetOtherPartition(t *testing.T) {
	t.Parallel()
	b, clock := budEnv(t, nil)
	now := clock.MS()
	err := b.WriteTx(context.Background(), "test", func(ctx context.Context, tx *backend.Txn) error {
		for _, p := range []int{3, 7} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO ff_budget_policy (partition_key, budget_id, policy_json,
				created_at_ms, updated_at_ms, next_reset_at_ms) VALUES (?, 'p-budget', '{"reset_interval_ms":500}', 0, 0, ?)`,
				p, now-int64(p)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := b.ResetDueBudgets(context.Background(), now, 0)
	if err != nil || rep.Processed != 2 {
		t.Fatalf("tick = %+v, %v; want both partitions", rep, err)
	}
	var n int
	b.ReaderDB().QueryRow(`SELECT count(*) FROM ff_budget_policy WHERE next_reset_at_ms = ?`, now+500).Scan(&n)
	if n != 2 {
		t.Fatalf("%d rescheduled, want 2", n)
	}
}

// Admin resets racing reconciler ticks: every reset is a whole one, and a
// tick never resets a budget an admin reset already moved past now.
func TestBudgetResetRacesAdminReset(t *testing.T) {
	t.Parallel()
	b, clock := budEnv(t, nil)
	now := clock.MS()
	const n = 30
	for i := range n {
		budCreate(t, b, fmt.Sprintf("r-%02d", i), 60_000, []string{"d"}, []uint64{0}, []uint64{0})
	}
	for round := range 5 {
		for i := range n {
			id := fmt.Sprintf("r-%02d", i)
			budReport(t, b, id, map[string]uint64{"d": 1}, "")
			budSetNext(t, b, id, now-1)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		processed := 0
		for range 3 {
			wg.Go(func() {
				for {
					rep, err := b.ResetDueBudgets(context.Background(), now, 7)
					if err != nil || rep.Errors != 0 {
						t.Errorf("tick: %+v, %v", rep, err)
						return
					}
					mu.Lock()
					processed += rep.Processed
					mu.Unlock()
					if rep.Processed == 0 {
						return
					}
				}
			})
		}
		admin := 0
		for i := 0; i < n; i += 2 {
			if _, err := b.ResetBudget(context.Background(), fmt.Sprintf("r-%02d", i)); err != nil {
				t.Fatal(err)
			}
			admin++
		}
		wg.Wait()
		// The tickers stop at their first empty tick, which can come while
		// another ticker still holds due rows; one last tick sweeps up.
		rep, err := b.ResetDueBudgets(context.Background(), now, 0)
		if err != nil {
			t.Fatal(err)
		}
		processed += rep.Processed
		// Every budget was reset at least once; the reconciler reset each
		// budget at most once (the re-check inside BEGIN IMMEDIATE), and it
		// never reset one the admin had already rescheduled.
		if processed > n || processed < n-admin {
			t.Fatalf("round %d: reconciler processed %d of %d (admin %d)", round, processed, n, admin)
		}
		for i := range n {
			st := budStatus(t, b, fmt.Sprintf("r-%02d", i))
			if st.Usage["d"] != 0 || budNext(st) != now+60_000 {
				t.Fatalf("round %d: r-%02d = usage %v next %d", round, i, st.Usage, budNext(st))
			}
		}
	}
}

func TestBudgetHardBreachAllOrNothing(t *testing.T) {
	t.Parallel()
	b, clock := budEnv(t, nil)
	budCreate(t, b, "h", 0, []string{"tokens", "calls"}, []uint64{100, 10}, []uint64{0, 0})
	if r := budReport(t, b, "h", map[string]uint64{"tokens": 60, "calls": 9}, ""); r.Outcome != backend.UsageOK {
		t.Fatalf("first report = %+v", r)
	}
	clock.Advance(5 * time.Millisecond)
	r := budReport(t, b, "h", map[string]uint64{"tokens": 10, "calls": 2}, "")
	want := backend.ReportUsageResult{Outcome: backend.UsageHardBreach, Dimension: "calls", CurrentUsage: 9, Limit: 10}
	if r != want {
		t.Fatalf("breach = %+v, want %+v (pre-increment usage)", r, want)
	}
	st := budStatus(t, b, "h")
	if st.Usage["tokens"] != 60 || st.Usage["calls"] != 9 {
		t.Errorf("a refused report incremented: %v", st.Usage)
	}
	if st.BreachCount != 1 || st.LastBreachDim == nil || *st.LastBreachDim != "calls" ||
		st.LastBreachAt == nil || *st.LastBreachAt != clock.MS() {
		t.Errorf("breach fields = %d %v %v", st.BreachCount, st.LastBreachDim, st.LastBreachAt)
	}
	// Exactly at the limit is allowed.
	if r := budReport(t, b, "h", map[string]uint64{"tokens": 40, "calls": 1}, ""); r.Outcome != backend.UsageOK {
		t.Fatalf("at-limit report = %+v", r)
	}
}

func TestBudgetSoftBreach(t *testing.T) {
	t.Parallel()
	b, _ := budEnv(t, nil)
	budCreate(t, b, "s", 0, []string{"a", "b"}, []uint64{0, 0}, []uint64{5, 5})
	r := budReport(t, b, "s", map[string]uint64{"a": 6, "b": 9}, "")
	want := backend.ReportUsageResult{Outcome: backend.UsageSoftBreach, Dimension: "a", CurrentUsage: 6, Limit: 5}
	if r != want {
		t.Fatalf("soft = %+v, want %+v (first dimension, post-increment)", r, want)
	}
	st := budStatus(t, b, "s")
	if st.Usage["a"] != 6 || st.Usage["b"] != 9 || st.SoftBreachCount != 1 || st.BreachCount != 0 || st.LastBreachAt != nil {
		t.Fatalf("status = %+v", st)
	}
}

func TestBudgetMissingPolicyIsUnlimited(t *testing.T) {
	t.Parallel()
	b, _ := budEnv(t, nil)
	for range 3 {
		if r := budReport(t, b, "nobody", map[string]uint64{"x": 1 << 40}, ""); r.Outcome != backend.UsageOK {
			t.Fatalf("report = %+v", r)
		}
	}
	var v int64
	b.ReaderDB().QueryRow(`SELECT current_value FROM ff_budget_usage WHERE budget_id = 'nobody'`).Scan(&v)
	if v != 3<<40 {
		t.Fatalf("usage = %d", v)
	}
	if _, err := b.GetBudgetStatus(context.Background(), "nobody"); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("status of policy-less budget: %v", err)
	}
	if _, err := b.ResetBudget(context.Background(), "nobody"); !errors.Is(err, &backend.Error{Kind: backend.KindNotFound, Code: "budget"}) {
		t.Fatalf("reset of unknown budget: %v", err)
	}
}

func TestBudgetDedupReplay(t *testing.T) {
	t.Parallel()
	b, clock := budEnv(t, nil)
	budCreate(t, b, "d", 0, []string{"t"}, []uint64{10}, []uint64{4})
	first := budReport(t, b, "d", map[string]uint64{"t": 5}, "k1")
	if first.Outcome != backend.UsageSoftBreach {
		t.Fatalf("first = %+v", first)
	}
	// A replay returns the stored outcome and applies nothing.
	if again := budReport(t, b, "d", map[string]uint64{"t": 5}, "k1"); again != first {
		t.Fatalf("replay = %+v, want %+v", again, first)
	}
	st := budStatus(t, b, "d")
	if st.Usage["t"] != 5 || st.SoftBreachCount != 1 {
		t.Fatalf("replay applied: %+v", st)
	}
	// A hard breach replays as a hard breach.
	hb := budReport(t, b, "d", map[string]uint64{"t": 6}, "k2")
	if hb.Outcome != backend.UsageHardBreach || budReport(t, b, "d", map[string]uint64{"t": 1}, "k2") != hb {
		t.Fatalf("hard breach replay differs: %+v", hb)
	}
	if st := budStatus(t, b, "d"); st.BreachCount != 1 {
		t.Fatalf("breach counted twice: %d", st.BreachCount)
	}
	// Upstream's unfinished placeholder ('{}') replays as AlreadyApplied.
	err := b.WriteTx(context.Background(), "test", func(ctx context.Context, tx *backend.Txn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO ff_budget_usage_dedup VALUES (0, 'k3', '{}', ?, ?)`, clock.MS(), clock.MS()+1000)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := budReport(t, b, "d", map[string]uint64{"t": 1}, "k3"); r.Outcome != backend.UsageAlreadyApplied {
		t.Fatalf("placeholder replay = %+v", r)
	}
	// After 24 h the key is used afresh.
	clock.Set(clock.MS() + backend.BudgetDedupTTLMS + 1)
	if r := budReport(t, b, "d", map[string]uint64{"t": 1}, "k1"); r.Outcome != backend.UsageSoftBreach || r.CurrentUsage != 6 {
		t.Fatalf("expired key = %+v, want a fresh report", r)
	}
}

func TestBudgetCreateValidationAndIdempotence(t *testing.T) {
	t.Parallel()
	b, clock := budEnv(t, nil)
	ctx := context.Background()
	_, err := b.CreateBudget(ctx, backend.CreateBudgetArgs{BudgetID: "v", Dimensions: []string{"a"}, HardLimits: []uint64{1}})
	if !errors.Is(err, backend.ErrValidation) {
		t.Fatalf("length mismatch: %v", err)
	}
	_, err = b.CreateBudget(ctx, backend.CreateBudgetArgs{BudgetID: "v", Dimensions: []string{"a", "a"}, HardLimits: []uint64{1, 1}, SoftLimits: []uint64{0, 0}})
	if !errors.Is(err, backend.ErrValidation) {
		t.Fatalf("duplicate dimension: %v", err)
	}
	if _, err := b.CreateBudget(ctx, backend.CreateBudgetArgs{}); !errors.Is(err, backend.ErrValidation) {
		t.Fatalf("empty id: %v", err)
	}
	budCreate(t, b, "v", 1000, []string{"a"}, []uint64{3}, []uint64{2})
	res, err := b.CreateBudget(ctx, backend.CreateBudgetArgs{BudgetID: "v", ResetIntervalMS: 5})
	if err != nil || res.Created {
		t.Fatalf("second create = %+v, %v; want AlreadySatisfied", res, err)
	}
	st := budStatus(t, b, "v")
	if st.HardLimits["a"] != 3 || st.SoftLimits["a"] != 2 || budNext(st) != clock.MS()+1000 || st.ResetIntervalMS != 1000 ||
		st.ScopeType != "flow" || st.EnforcementMode != "strict" || st.OnHardLimit != "fail" || *st.CreatedAt != clock.MS() {
		t.Fatalf("status = %+v", st)
	}
}

func TestBudgetWireShapes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		v    any
		want string
	}{
		{backend.CreateBudgetResult{Created: true, BudgetID: "x"}, `{"Created":{"budget_id":"x"}}`},
		{backend.CreateBudgetResult{BudgetID: "x"}, `{"AlreadySatisfied":{"budget_id":"x"}}`},
		{backend.ResetBudgetResult{NextResetAt: 7}, `{"Reset":{"next_reset_at":7}}`},
		{backend.ReportUsageResult{Outcome: backend.UsageOK}, `"Ok"`},
		{backend.ReportUsageResult{Outcome: backend.UsageAlreadyApplied}, `"AlreadyApplied"`},
		{backend.ReportUsageResult{Outcome: backend.UsageSoftBreach, Dimension: "d", CurrentUsage: 3, Limit: 2},
			`{"SoftBreach":{"dimension":"d","current_usage":3,"soft_limit":2}}`},
		{backend.ReportUsageResult{Outcome: backend.UsageHardBreach, Dimension: "d", CurrentUsage: 3, Limit: 4},
			`{"HardBreach":{"dimension":"d","current_usage":3,"hard_limit":4}}`},
	}
	for _, c := range cases {
		got, err := json.Marshal(c.v)
		if err != nil || string(got) != c.want {
			t.Errorf("%+v → %s, %v; want %s", c.v, got, err, c.want)
		}
	}
	var r backend.ReportUsageResult
	if err := json.Unmarshal([]byte(`{"HardBreach":{"dimension":"d","current_usage":3,"hard_limit":4}}`), &r); err != nil || r.Limit != 4 || r.Outcome != backend.UsageHardBreach {
		t.Errorf("unmarshal = %+v, %v", r, err)
	}
	var args backend.ReportUsageArgs
	if err := json.Unmarshal([]byte(`{"dimensions":{"tokens":5},"now":1,"dedup_key":"k"}`), &args); err != nil || args.Dimensions["tokens"] != 5 || args.DedupKey != "k" {
		t.Errorf("args = %+v, %v", args, err)
	}
	nr, at := int64(5), "tokens"
	st, _ := json.Marshal(backend.BudgetStatus{BudgetID: "b", NextResetAt: &nr, LastBreachDim: &at})
	for _, frag := range []string{`"next_reset_at":"5"`, `"last_breach_at":null`, `"last_breach_dim":"tokens"`, `"created_at":null`} {
		if !strings.Contains(string(st), frag) {
			t.Errorf("status JSON %s lacks %s", st, frag)
		}
	}
	if strings.Contains(string(st), "ResetIntervalMS") || strings.Contains(string(st), "updated") {
		t.Errorf("status JSON leaks extras: %s", st)
	}
}

// syncBuffer is a bytes buffer safe for a logger and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
