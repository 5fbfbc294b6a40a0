package scanners_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/scanners"
)

const t0 = int64(1_800_000_000_000)

func openDB(t *testing.T) (*backend.Backend, *testdb.Clock) {
	t.Helper()
	clock := testdb.NewClock(t0)
	return testdb.Open(t, testdb.WithClock(clock.Now)), clock
}

func only(names ...string) scanners.Config {
	c := scanners.Config{}
	for _, n := range names {
		c.Set(n, time.Hour)
	}
	return c
}

// notifying wraps a reconciler and reports each finished tick on a
// channel, so tests wait for ticks instead of sleeping.
type notifying struct {
	scanners.Reconciler
	done chan scanners.Report
}

func (n notifying) Tick(ctx context.Context, now int64) (scanners.Report, error) {
	r, err := n.Reconciler.Tick(ctx, now)
	select {
	case n.done <- r:
	default:
	}
	return r, err
}

func TestDefinitions(t *testing.T) {
	want := []string{"budget-reset", "worker-ttl", "delayed-promoter", "lease-expiry", "attempt-timeout", "execution-deadline",
		"suspension-timeout", "pending-waitpoint-expiry", "dependency", "cancel-backlog", "quota-unblock"}
	if got := scanners.Names(); !slices.Equal(got, want) {
		t.Fatalf("names = %v, want %v", got, want)
	}
	c := scanners.DefaultConfig()
	for name, d := range map[string]time.Duration{
		scanners.BudgetReset: 15 * time.Second, scanners.WorkerTTL: 30 * time.Second,
		scanners.DelayedPromoter: 750 * time.Millisecond, scanners.LeaseExpiry: 1500 * time.Millisecond,
		scanners.AttemptTimeout: 2 * time.Second, scanners.ExecutionDeadline: 5 * time.Second,
		scanners.SuspensionTimeout: 2 * time.Second, scanners.PendingWaitpointExpiry: 5 * time.Second,
		scanners.Dependency: 15 * time.Second, scanners.CancelBacklog: 15 * time.Second, scanners.QuotaUnblock: 5 * time.Second,
	} {
		if c.Interval(name) != d {
			t.Errorf("default %s = %s, want %s", name, c.Interval(name), d)
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, d := range scanners.Definitions() {
		if d.Batch <= 0 || d.Sweep == nil || d.Summary == "" {
			t.Errorf("definition %+v incomplete", d)
		}
	}
}

func TestResolveFromEnv(t *testing.T) {
	env := map[string]string{
		"FF_BUDGET_RESET_INTERVAL_S":       "0",
		"FF_LEASE_EXPIRY_INTERVAL_MS":      "250",
		"FF_EXECUTION_DEADLINE_INTERVAL_S": "",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	c, err := scanners.Resolve(nil, nil, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if c.Interval(scanners.BudgetReset) != 0 || c.Interval(scanners.LeaseExpiry) != 250*time.Millisecond ||
		c.Interval(scanners.ExecutionDeadline) != 5*time.Second || c.Interval(scanners.WorkerTTL) != 30*time.Second {
		t.Fatalf("config = %v", c.Intervals)
	}
	if slices.Contains(c.Enabled(), scanners.BudgetReset) {
		t.Fatalf("0 did not disable: %v", c.Enabled())
	}
	for v, want := range map[string]string{
		"abc":                  "invalid value for FF_BUDGET_RESET_INTERVAL_S: expected u64, got 'abc'",
		"-1":                   "invalid value for FF_BUDGET_RESET_INTERVAL_S: expected u64, got '-1'",
		"99999999999999999999": "invalid value for FF_BUDGET_RESET_INTERVAL_S: expected u64, got '99999999999999999999'",
		"9999999999999":        "invalid value for FF_BUDGET_RESET_INTERVAL_S: out of range, got '9999999999999'",
	} {
		env["FF_BUDGET_RESET_INTERVAL_S"] = v
		_, err := scanners.Resolve(nil, nil, lookup)
		var ee *scanners.EnvError
		if !errors.As(err, &ee) || ee.Var != "FF_BUDGET_RESET_INTERVAL_S" || err.Error() != want {
			t.Errorf("%q: err = %v, want %s", v, err, want)
		}
	}
}

// A flag beats the environment, which beats the default; --only disables
// the rest; a bad name or an empty result is an error.
func TestResolvePrecedence(t *testing.T) {
	env := map[string]string{"FF_LEASE_EXPIRY_INTERVAL_MS": "250", "FF_ATTEMPT_TIMEOUT_INTERVAL_S": "7"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	c, err := scanners.Resolve(map[string]time.Duration{scanners.LeaseExpiry: time.Second, scanners.WorkerTTL: 0}, nil, lookup)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]time.Duration{
		scanners.LeaseExpiry: time.Second, scanners.AttemptTimeout: 7 * time.Second,
		scanners.WorkerTTL: 0, scanners.BudgetReset: 15 * time.Second,
	} {
		if got := c.Interval(name); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	c, err = scanners.Resolve(nil, []string{scanners.AttemptTimeout, scanners.LeaseExpiry}, lookup)
	if err != nil || !slices.Equal(c.Enabled(), []string{scanners.LeaseExpiry, scanners.AttemptTimeout}) {
		t.Fatalf("only: %v, %v", c.Enabled(), err)
	}
	var ue *scanners.UnknownReconcilerError
	if _, err := scanners.Resolve(nil, []string{"nope"}, lookup); !errors.As(err, &ue) || ue.Name != "nope" {
		t.Errorf("unknown --only name: %v", err)
	}
	if _, err := scanners.Resolve(map[string]time.Duration{scanners.LeaseExpiry: 0}, []string{scanners.LeaseExpiry}, lookup); !errors.Is(err, scanners.ErrNoneEnabled) {
		t.Errorf("nothing enabled: %v", err)
	}
	if _, err := scanners.Resolve(map[string]time.Duration{scanners.LeaseExpiry: time.Microsecond}, nil, lookup); err == nil {
		t.Error("an interval below MinInterval was accepted")
	}
}

func TestConfigValidate(t *testing.T) {
	for name, c := range map[string]scanners.Config{
		"unknown":  {Intervals: map[string]time.Duration{"nope": time.Second}},
		"negative": {Intervals: map[string]time.Duration{scanners.BudgetReset: -time.Second}},
		"too fast": {Intervals: map[string]time.Duration{scanners.BudgetReset: time.Microsecond}},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := scanners.ForBackend(nil, scanners.Config{Intervals: map[string]time.Duration{"nope": 1}}, scanners.Options{}); err == nil {
		t.Fatal("ForBackend accepted an invalid config")
	}
	if err := (scanners.Config{}).Validate(); err != nil {
		t.Fatalf("empty config: %v", err)
	}
}

// RunOnce over the real reconcilers of a fresh database: every tick runs
// and has nothing to do.
func TestRunOnceAllReconcilersIdle(t *testing.T) {
	t.Parallel()
	b, clock := openDB(t)
	s, err := scanners.ForBackend(b, scanners.DefaultConfig(), scanners.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reps := s.RunOnce(context.Background(), clock.MS())
	if len(reps) != len(scanners.Names()) {
		t.Fatalf("reports = %+v", reps)
	}
	for i, r := range reps {
		if r.Reconciler != scanners.Names()[i] || r.Err != nil || r.Errors != 0 || r.Processed != 0 {
			t.Errorf("report %+v", r)
		}
	}
}

func TestBudgetResetReconciler(t *testing.T) {
	t.Parallel()
	b, _ := openDB(t)
	ctx := context.Background()
	for i := range 3 {
		id := fmt.Sprintf("bud-%d", i)
		if _, err := b.CreateBudget(ctx, backend.CreateBudgetArgs{BudgetID: id, ResetIntervalMS: uint64(1000 * (i + 1)),
			Dimensions: []string{"tokens"}, HardLimits: []uint64{0}, SoftLimits: []uint64{0}}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.ReportUsage(ctx, id, backend.ReportUsageArgs{Dimensions: map[string]uint64{"tokens": 10}}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := scanners.ForBackend(b, only(scanners.BudgetReset), scanners.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// bud-0 is due at t0+1000, bud-1 at t0+2000 (boundary), bud-2 not yet.
	reps := s.RunOnce(ctx, t0+2000)
	if len(reps) != 1 || reps[0].Reconciler != scanners.BudgetReset || reps[0].Processed != 2 || reps[0].Errors != 0 {
		t.Fatalf("reports = %+v", reps)
	}
	if reps = s.RunOnce(ctx, t0+2000); reps[0].Processed != 0 {
		t.Fatalf("not idempotent: %+v", reps)
	}
	st, _ := b.GetBudgetStatus(ctx, "bud-2")
	if st.Usage["tokens"] != 10 {
		t.Fatalf("bud-2 reset early: %+v", st)
	}
}

// The scheduled budget-reset loop resets a due budget on its own.
func TestBudgetResetScheduled(t *testing.T) {
	t.Parallel()
	b, clock := openDB(t)
	ctx := context.Background()
	if _, err := b.CreateBudget(ctx, backend.CreateBudgetArgs{BudgetID: "tick", ResetIntervalMS: 50,
		Dimensions: []string{"t"}, HardLimits: []uint64{0}, SoftLimits: []uint64{0}}); err != nil {
		t.Fatal(err)
	}
	b.ReportUsage(ctx, "tick", backend.ReportUsageArgs{Dimensions: map[string]uint64{"t": 3}})
	clock.Advance(50 * time.Millisecond)
	def, _ := scanners.Lookup(scanners.BudgetReset)
	n := notifying{def.Build(b), make(chan scanners.Report, 1)}
	s := scanners.New(scanners.Options{Now: b.Now, Logger: slog.New(slog.DiscardHandler)},
		scanners.Scheduled{Reconciler: n, Interval: time.Millisecond})
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, s)
	deadline := time.After(waitLimit)
	for {
		select {
		case r := <-n.done:
			if r.Processed == 1 {
				st, _ := b.GetBudgetStatus(ctx, "tick")
				if st.Usage["t"] != 0 || *st.NextResetAt != clock.MS()+50 {
					t.Fatalf("status = %+v", st)
				}
				return
			}
		case <-deadline:
			t.Fatal("the scheduled tick never reset the due budget")
		}
	}
}

func TestWorkerTTLReconciler(t *testing.T) {
	t.Parallel()
	b, _ := openDB(t)
	ctx := context.Background()
	for i, ttl := range []uint64{100, 200, 300} {
		if _, err := b.RegisterWorker(ctx, backend.RegisterWorkerArgs{Namespace: "ns", WorkerID: "w",
			WorkerInstanceID: fmt.Sprintf("i%d", i), LivenessTTLMS: ttl}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := scanners.ForBackend(b, only(scanners.WorkerTTL), scanners.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := s.RunOnce(ctx, t0+200)[0]; r.Processed != 1 || r.Errors != 0 { // i1 exactly at expiry stays
		t.Fatalf("report = %+v", r)
	}
	if r := s.RunOnce(ctx, t0+200)[0]; r.Processed != 0 {
		t.Fatalf("not idempotent: %+v", r)
	}
	if r := s.RunOnce(ctx, t0+1000)[0]; r.Processed != 2 {
		t.Fatalf("report = %+v", r)
	}
	var swept int
	b.ReaderDB().QueryRow(`SELECT count(*) FROM ff_worker_registry_event WHERE event_kind = 'ttl_swept'`).Scan(&swept)
	if swept != 3 {
		t.Fatalf("%d ttl_swept events", swept)
	}
}

// A re-register racing the sweep: the worker always ends up registered,
// and a Registered outcome (not Refreshed) means the sweep got there first.
func TestWorkerTTLRacesRegister(t *testing.T) {
	t.Parallel()
	b, clock := openDB(t)
	ctx := context.Background()
	const n = 40
	reg := func(i int) backend.RegisterWorkerOutcome {
		out, err := b.RegisterWorker(ctx, backend.RegisterWorkerArgs{Namespace: "ns", WorkerID: "w",
			WorkerInstanceID: fmt.Sprintf("i%02d", i), LivenessTTLMS: 100})
		if err != nil {
			t.Error(err)
		}
		return out
	}
	for i := range n {
		reg(i)
	}
	clock.Advance(time.Second) // every registration expired
	outs := make(chan backend.RegisterWorkerOutcome, n)
	sweepDone := make(chan int)
	go func() {
		total := 0
		for range 5 {
			r, err := b.SweepExpiredWorkers(ctx, clock.MS(), 7)
			if err != nil {
				t.Error(err)
			}
			total += r.Processed
		}
		sweepDone <- total
	}()
	for i := range n {
		outs <- reg(i)
	}
	swept := <-sweepDone
	close(outs)
	registered := 0
	for o := range outs {
		if o == backend.WorkerRegistered {
			registered++
		}
	}
	var workers int
	if err := b.ReaderDB().QueryRow(`SELECT count(*) FROM ff_worker_registry WHERE namespace = 'ns'`).Scan(&workers); err != nil || workers != n {
		t.Fatalf("%d workers registered (%v), want %d", workers, err, n)
	}
	if registered > swept {
		t.Fatalf("%d Registered outcomes but only %d swept", registered, swept)
	}
}

func TestDelayedPromoterReconciler(t *testing.T) {
	t.Parallel()
	b, clock := openDB(t)
	ctx := context.Background()
	due := t0 + 1000
	var ids []backend.ExecutionID
	for _, delay := range []int64{due, due + 1} {
		id := backend.NewExecutionID(0)
		d := delay
		res, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{ExecutionID: id, Namespace: "ns", LaneID: "default",
			ExecutionKind: "k", InputPayload: backend.Bytes("{}"), CreatorIdentity: "test", DelayUntil: &d, Now: clock.MS()})
		if err != nil || res.PublicState != "delayed" {
			t.Fatalf("create = %+v, %v", res, err)
		}
		ids = append(ids, id)
	}
	s, err := scanners.ForBackend(b, only(scanners.DelayedPromoter), scanners.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := s.RunOnce(ctx, due-1)[0]; r.Processed != 0 || r.Errors != 0 {
		t.Fatalf("not due: %+v", r)
	}
	if r := s.RunOnce(ctx, due)[0]; r.Processed != 1 || r.Errors != 0 {
		t.Fatalf("due: %+v", r)
	}
	for i, want := range []string{"waiting", "delayed"} {
		if st, err := b.GetPublicState(ctx, ids[i]); err != nil || st != want {
			t.Errorf("execution %d state = %s, %v; want %s", i, st, err, want)
		}
	}
}

func TestExecutionDeadlineReconciler(t *testing.T) {
	t.Parallel()
	b, clock := openDB(t)
	ctx := context.Background()
	deadline := t0 + 500
	id := backend.NewExecutionID(0)
	if _, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{ExecutionID: id, Namespace: "ns", LaneID: "default",
		ExecutionKind: "k", InputPayload: backend.Bytes("{}"), CreatorIdentity: "test", ExecutionDeadlineAt: &deadline, Now: clock.MS()}); err != nil {
		t.Fatal(err)
	}
	s, err := scanners.ForBackend(b, only(scanners.ExecutionDeadline), scanners.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := s.RunOnce(ctx, deadline-1)[0]; r.Processed != 0 || r.Errors != 0 {
		t.Fatalf("not due: %+v", r)
	}
	if r := s.RunOnce(ctx, deadline)[0]; r.Processed != 1 || r.Errors != 0 {
		t.Fatalf("due: %+v", r)
	}
	if st, err := b.GetPublicState(ctx, id); err != nil || st != "expired" {
		t.Fatalf("state = %s, %v", st, err)
	}
	if r := s.RunOnce(ctx, deadline)[0]; r.Processed != 0 {
		t.Fatalf("not idempotent: %+v", r)
	}
}
