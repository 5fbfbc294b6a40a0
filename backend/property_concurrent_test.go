package backend_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// propLongFlag (or FF_PROPERTY_LONG=1) runs the concurrent property test
// long; propSeedFlag runs one seed only, to reproduce a failure.
var (
	propLongFlag = flag.Bool("ffsqlite.long", false, "run TestConcurrentProperty long: more seeds, goroutines and operations")
	propSeedFlag = flag.Int64("ffsqlite.seed", 0, "run TestConcurrentProperty with this seed only")
)

// propConfig sizes one run of the concurrent property test.
type propConfig struct {
	seeds      []int64
	goroutines int
	ops        int // per goroutine
}

// propSize is the normal suite's size (a few seconds in all) or, with
// -ffsqlite.long or FF_PROPERTY_LONG=1, the long one.
func propSize() propConfig {
	cfg := propConfig{seeds: []int64{101, 102, 103, 104}, goroutines: 6, ops: 250}
	if raceEnabled {
		cfg = propConfig{seeds: []int64{101, 102}, goroutines: 4, ops: 120}
	}
	if *propLongFlag || os.Getenv("FF_PROPERTY_LONG") == "1" {
		cfg = propConfig{goroutines: 8, ops: 1500}
		for s := int64(1); s <= 24; s++ {
			cfg.seeds = append(cfg.seeds, s)
		}
	}
	if *propSeedFlag != 0 {
		cfg.seeds = []int64{*propSeedFlag}
	}
	return cfg
}

// TestConcurrentProperty runs random engine operations from several
// goroutines at once, through the group-commit writer, on a file database
// with an injected clock that the operations themselves advance (no
// sleeps). Every operation is a row of propOps: worker calls (claim,
// renew, complete, fail, suspend, delay), signals, operator calls (create,
// cancel, replay, revoke, resume, priority), the reconcilers (promote,
// lease expiry, attempt timeout, deadline, suspension timeout, budget
// reset, worker TTL) and the budget and worker calls they act on (budget
// reports, worker registrations).
// Each goroutine records what the engine acknowledged in a model.
//
// After the run the state vector of every execution must be legal
// (engCheckInvariants, engCheckStorage), and after Close the file, reopened
// read-only, must hold every acknowledged write (propCheckModel): each
// acknowledged claim's attempt, each completion with its result bytes and
// exactly once, each failure, cancel, replay and priority change, the
// reconcilers' reported counts, the workers and the budget usage.
//
// The goroutines' interleaving varies from run to run; the checks do not
// depend on it. Each goroutine's RNG is seeded from the subtest's seed,
// which a failure prints. Normal size: 4 seeds x 6 goroutines x 250
// operations (2 x 4 x 120 under -race). Long size:
//
//	go test ./backend -run TestConcurrentProperty -ffsqlite.long   # or FF_PROPERTY_LONG=1
//	go test ./backend -run TestConcurrentProperty -ffsqlite.seed=N # one seed
func TestConcurrentProperty(t *testing.T) {
	t.Parallel()
	cfg := propSize()
	// The run must exercise every call: counted over all seeds once they
	// are done (one small seed may by chance never succeed at one).
	var (
		mu    sync.Mutex
		acked = map[string]int{}
	)
	t.Cleanup(func() {
		if *propSeedFlag != 0 || raceEnabled {
			return // one seed, or the small race-detector run: too few calls to be sure of each
		}
		for _, op := range propOps {
			if acked[op.name] == 0 {
				t.Errorf("no %s took effect in any seed: the run exercised too little", op.name)
			}
		}
	})
	for _, seed := range cfg.seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("seed %d failed; rerun it with: go test ./backend -run 'TestConcurrentProperty' -ffsqlite.seed=%d -v", seed, seed)
				}
			})
			ok := propRun(t, seed, cfg)
			mu.Lock()
			defer mu.Unlock()
			for op, n := range ok {
				acked[op] += n
			}
		})
	}
}

// propOp is one row of the operation table: a name, a relative weight and
// the call. run makes one random call through g and records in the model
// what the engine acknowledged. It returns the engine's error: a refusal
// that concurrency makes legitimate (propAllowed) is counted, anything
// else fails the test. New engine features (flows, streams) add rows
// here and checks to propCheckModel and engCheckStorage, as durable waits
// did (property_waits_test.go).
type propOp struct {
	name   string
	weight int
	run    func(g *propG) error
}

var propOps = []propOp{
	{"create", 8, propCreate},
	{"claim", 9, propClaim},
	{"renew", 5, propRenew},
	{"complete", 6, propComplete},
	{"fail", 4, propFail},
	{"cancel", 2, propCancel},
	{"replay", 2, propReplay},
	{"revoke", 2, propRevoke},
	{"priority", 2, propPriority},
	{"advance", 6, propAdvance},
	{"promote", 2, propSweep("promote", (*backend.Backend).PromoteDelayed)},
	{"expire_leases", 3, propSweep("expire_leases", (*backend.Backend).ExpireLeases)},
	{"timeout_attempts", 2, propSweep("timeout_attempts", (*backend.Backend).TimeoutAttempts)},
	{"expire_deadlines", 2, propSweep("expire_deadlines", (*backend.Backend).ExpireDeadlines)},
	{"budget_report", 2, propReport},
	{"budget_reset", 1, propSweep("budget_reset", (*backend.Backend).ResetDueBudgets)},
	{"worker_register", 1, propRegister},
	{"worker_ttl", 1, propSweep("worker_ttl", (*backend.Backend).SweepExpiredWorkers)},
	// Durable waits (property_waits_test.go).
	{"suspend", 4, propSuspend},
	{"signal", 5, propSignal},
	{"resume", 2, propResume},
	{"delay", 2, propDelay},
	{"expire_suspensions", 2, propSweep("expire_suspensions", (*backend.Backend).ExpireSuspensions)},
	{"create_waitpoint", 2, propCreateWaitpoint},
	{"expire_waitpoints", 1, propSweep("expire_waitpoints", (*backend.Backend).ExpirePendingWaitpoints)},
	{"flow_build", 2, propFlowBuild},
	{"flow_cancel", 1, propFlowCancel},
	{"reconcile_dependencies", 1, propSweep("reconcile_dependencies", (*backend.Backend).ReconcileDependencies)},
}

// errPropNoop is what an operation returns when it had nothing to act on
// (no execution or lease yet) or the engine acknowledged a call that
// changed nothing (no work to claim, nothing due, already revoked); it is
// counted apart from the calls that took effect.
var errPropNoop = errors.New("no effect")

// propAllowed reports whether err is a refusal the operations may meet
// legitimately: a stale or revoked lease, an execution in another state,
// a lost race with a reconciler. Transport, internal and not-found errors
// are never allowed (every id the test uses exists).
func propAllowed(err error) bool {
	switch backend.KindOf(err) {
	case backend.KindContention, backend.KindState:
		return true
	}
	return false
}

// The inputs the operations choose from.
var (
	propLanes    = []string{"a", "b"}
	propPolicies = []string{
		``,
		`{"retry_policy":{"max_retries":2,"backoff":{"type":"fixed","delay_ms":50}}}`,
		`{"retry_policy":{"max_retries":3}}`,
		`{"timeout_policy":{"attempt_timeout_ms":300},"retry_policy":{"max_retries":1,"backoff":{"type":"fixed","delay_ms":0}}}`,
		`{"timeout_policy":{"execution_deadline_ms":1500}}`,
		`{"max_reclaim_count":1,"max_replay_count":1}`,
		`{"routing_requirements":{"required_capabilities":["gpu"]}}`,
	}
	propFailClasses = []backend.FailureClass{backend.FailTransient, backend.FailPermanent, backend.FailInfraCrash}
)

// The budgets of a run: one that never resets (its usage must equal the
// acknowledged reports) and one on a short reset interval.
const (
	propBudgetFixed = "fixed"
	propBudgetReset = "resetting"
)

// propWorld is one run: the backend, its clock and the model of what the
// engine acknowledged, shared by the goroutines under mu.
type propWorld struct {
	b     *backend.Backend
	clock *testdb.Clock

	mu      sync.Mutex
	ids     []backend.ExecutionID
	execs   map[backend.ExecutionID]*propExec
	leases  []*backend.Lease
	workers []string                       // registered instance ids
	flows   []propFlow                     // flows built (flow_build)
	inFlow  map[backend.ExecutionID]bool   // executions taken by a flow
	usage   map[string]uint64              // acknowledged usage per budget (dimension "tokens")
	dedups  int                            // acknowledged applied reports with a dedup key
	sweeps  map[string]backend.SweepReport // reconciler totals
	ok      map[string]int                 // calls that took effect, per operation
	noop    map[string]int                 // calls without effect (errPropNoop)
	refused map[string]int                 // allowed refusals per operation
	waits   []propWait                     // acknowledged suspends' waitpoints
}

// propExec is the model of one execution: what the engine acknowledged.
type propExec struct {
	created       bool                   // the create was acknowledged
	priority      int32                  // at create
	claims        []*backend.Lease       // acknowledged claims
	renews        int                    // acknowledged renewals
	completes     map[uint32][]byte      // attempt index -> result bytes
	fails         map[uint32]propFailure // attempt index -> failure
	cancels       int                    // acknowledged cancels
	replays       int                    // acknowledged replays
	priorities    int                    // acknowledged priority changes
	revokes       int                    // acknowledged revokes that revoked
	terminalFails int                    // acknowledged fails that ended the execution
	suspends      int                    // acknowledged suspends (Suspended outcomes)
	resumedClaims int                    // acknowledged claims that resumed a paused attempt
	signals       int                    // acknowledged accepted signals
	opResumes     int                    // acknowledged operator resumes
	delays        int                    // acknowledged worker delays
	pendings      int                    // acknowledged pending waitpoints
	flowCancels   int                    // acknowledged cancel_all flow cancels it was a member of
}

type propFailure struct {
	class backend.FailureClass
	retry bool
}

// propG is one goroutine of a run.
type propG struct {
	w   *propWorld
	rng *rand.Rand
	n   int // goroutine number
	seq int // calls made, for unique names
}

// propRun is one seed's run; it returns the calls that took effect per
// operation.
func propRun(t *testing.T, seed int64, cfg propConfig) map[string]int {
	path := filepath.Join(t.TempDir(), "ff.db")
	clock := testdb.NewClock(engT0)
	b := testdb.OpenPath(t, path, testdb.WithClock(clock.Now))
	w := &propWorld{b: b, clock: clock, execs: map[backend.ExecutionID]*propExec{}, inFlow: map[backend.ExecutionID]bool{}, usage: map[string]uint64{}, sweeps: map[string]backend.SweepReport{}, ok: map[string]int{}, noop: map[string]int{}, refused: map[string]int{}}
	budCreate(t, b, propBudgetFixed, 0, []string{"tokens"}, []uint64{0}, []uint64{0})
	if _, err := b.SeedWaitpointSecret(engCtx, "k1", waitSecret); err != nil {
		t.Fatal(err)
	}
	budCreate(t, b, propBudgetReset, 400, []string{"tokens"}, []uint64{0}, []uint64{0})

	total := 0
	for _, op := range propOps {
		total += op.weight
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, cfg.goroutines)
	for n := range cfg.goroutines {
		g := &propG{w: w, rng: rand.New(rand.NewSource(seed*1000 + int64(n))), n: n}
		wg.Go(func() {
			<-start
			for range cfg.ops {
				pick := g.rng.Intn(total)
				op := propOps[0]
				for _, o := range propOps {
					if pick < o.weight {
						op = o
						break
					}
					pick -= o.weight
				}
				g.seq++
				err := op.run(g)
				w.mu.Lock()
				switch {
				case err == nil:
					w.ok[op.name]++
				case errors.Is(err, errPropNoop):
					w.noop[op.name]++
				case propAllowed(err):
					w.refused[op.name]++
				}
				w.mu.Unlock()
				if err != nil && !errors.Is(err, errPropNoop) && !propAllowed(err) {
					errs <- fmt.Errorf("goroutine %d, call %d (%s): %w", n, g.seq, op.name, err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("took effect: %v; no effect: %v; refused: %v; reconcilers: %v; group commit: %+v",
		w.ok, w.noop, w.refused, w.sweeps, b.GroupCommitStats())
	// The member cancels of an asynchronous flow cancel may still be
	// landing: the checks below read the open backend, and the dependency
	// reconciler's "caught up" must not be overtaken by a late cancel.
	b.WaitBackground()
	engCheckInvariants(t, b)
	waitCheckInvariants(t, b)
	engCheckStorage(t, b.ReaderDB())
	// Once the dependency reconciler has caught up (flow_cascade cancels
	// resolve no edges), no edge waits on an ended upstream.
	for {
		rep, err := b.ReconcileDependencies(engCtx, clock.MS(), 1000)
		if err != nil || rep.Errors != 0 {
			t.Fatalf("dependency reconciler: %+v, %v", rep, err)
		}
		if rep.Processed == 0 {
			break
		}
	}
	engCheckFlows(t, b.ReaderDB(), true)

	// Every acknowledged write is in the file.
	if err := b.Close(engCtx); err != nil {
		t.Fatal(err)
	}
	re, err := backend.Open(engCtx, path, backend.Options{ReadOnly: true, MustExist: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close(engCtx)
	engCheckInvariants(t, re)
	waitCheckInvariants(t, re)
	engCheckStorage(t, re.ReaderDB())
	propCheckModel(t, w, re)
	return w.ok
}

// pickID returns a created execution, or false before the first.
func (g *propG) pickID() (backend.ExecutionID, bool) {
	g.w.mu.Lock()
	defer g.w.mu.Unlock()
	if len(g.w.ids) == 0 {
		return backend.ExecutionID{}, false
	}
	return g.w.ids[g.rng.Intn(len(g.w.ids))], true
}

// pickLease returns an acknowledged lease, mostly a recent (likely live)
// one, or false before the first claim.
func (g *propG) pickLease() (*backend.Lease, bool) {
	g.w.mu.Lock()
	defer g.w.mu.Unlock()
	n := len(g.w.leases)
	if n == 0 {
		return nil, false
	}
	if g.rng.Intn(5) > 0 {
		return g.w.leases[n-1-g.rng.Intn(min(6, n))], true
	}
	return g.w.leases[g.rng.Intn(n)], true
}

// record runs f on the model of id under the lock. Another goroutine
// may claim an execution between its create's commit and the creator's
// record, so the entry is made by whichever comes first.
func (g *propG) record(id backend.ExecutionID, f func(e *propExec)) {
	g.w.mu.Lock()
	defer g.w.mu.Unlock()
	e := g.w.execs[id]
	if e == nil {
		e = &propExec{completes: map[uint32][]byte{}, fails: map[uint32]propFailure{}}
		g.w.execs[id] = e
	}
	f(e)
}

func propCreate(g *propG) error {
	a := engArgs(engLane(propLanes[g.rng.Intn(len(propLanes))]),
		engPolicy(propPolicies[g.rng.Intn(len(propPolicies))]),
		engPrio(int32(g.rng.Intn(3))), func(a *backend.CreateExecutionArgs) {
			a.ExecutionID = backend.NewExecutionID(uint16(g.rng.Intn(4)))
			if g.rng.Intn(4) == 0 {
				d := g.w.clock.MS() + int64(g.rng.Intn(500))
				a.DelayUntil = &d
			}
		})
	res, err := g.w.b.CreateExecution(engCtx, a)
	if err != nil {
		return err
	}
	if res.Duplicate {
		return fmt.Errorf("a fresh id %s was reported as a duplicate", a.ExecutionID)
	}
	g.record(a.ExecutionID, func(e *propExec) { e.created, e.priority = true, a.Priority })
	g.w.mu.Lock()
	g.w.ids = append(g.w.ids, a.ExecutionID)
	g.w.mu.Unlock()
	return nil
}

func propClaim(g *propG) error {
	var caps []string
	if g.rng.Intn(2) == 0 {
		caps = []string{"gpu"}
	}
	inst := fmt.Sprintf("g%d", g.n)
	l, err := g.w.b.Claim(engCtx, engClaimArgs(engCaps(caps...), func(a *backend.ClaimArgs) {
		a.WorkerID, a.WorkerInstanceID = inst, inst
		a.LaneID = propLanes[g.rng.Intn(len(propLanes))]
		a.LeaseTTLMS = int64(100 + g.rng.Intn(500))
	}))
	if err != nil {
		return err
	}
	if l == nil {
		return errPropNoop
	}
	g.record(l.ExecutionID, func(e *propExec) {
		e.claims = append(e.claims, l)
		if l.Resumed {
			e.resumedClaims++
		}
	})
	g.w.mu.Lock()
	g.w.leases = append(g.w.leases, l)
	g.w.mu.Unlock()
	return nil
}

func propRenew(g *propG) error {
	l, ok := g.pickLease()
	if !ok {
		return errPropNoop
	}
	if _, err := g.w.b.Renew(engCtx, l.Handle, 0); err != nil {
		return err
	}
	g.record(l.ExecutionID, func(e *propExec) { e.renews++ })
	return nil
}

func propComplete(g *propG) error {
	l, ok := g.pickLease()
	if !ok {
		return errPropNoop
	}
	// Unique result bytes name the call that wrote them.
	result := fmt.Appendf(nil, "%s/%d/g%d.%d", l.ExecutionID, l.AttemptIndex, g.n, g.seq)
	if err := g.w.b.Complete(engCtx, l.Handle, result); err != nil {
		return err
	}
	var err error
	g.record(l.ExecutionID, func(e *propExec) {
		if prev, dup := e.completes[l.AttemptIndex]; dup {
			err = fmt.Errorf("attempt %d of %s completed twice (%q, then %q)", l.AttemptIndex, l.ExecutionID, prev, result)
		}
		e.completes[l.AttemptIndex] = result
	})
	return err
}

func propFail(g *propG) error {
	l, ok := g.pickLease()
	if !ok {
		return errPropNoop
	}
	class := propFailClasses[g.rng.Intn(len(propFailClasses))]
	res, err := g.w.b.Fail(engCtx, l.Handle, backend.FailArgs{Class: class, Reason: "property"})
	if err != nil {
		return err
	}
	g.record(l.ExecutionID, func(e *propExec) {
		if _, dup := e.fails[l.AttemptIndex]; dup {
			err = fmt.Errorf("attempt %d of %s failed twice", l.AttemptIndex, l.ExecutionID)
		}
		e.fails[l.AttemptIndex] = propFailure{class: class, retry: res.RetryScheduled}
		if !res.RetryScheduled {
			e.terminalFails++
		}
	})
	return err
}

func propCancel(g *propG) error {
	id, ok := g.pickID()
	if !ok {
		return errPropNoop
	}
	a := backend.CancelExecutionArgs{ExecutionID: id, Reason: "property"}
	if g.rng.Intn(2) == 0 {
		if l, ok := g.pickLease(); ok {
			a.ExecutionID, a.Source, a.LeaseEpoch = l.ExecutionID, backend.SourceLeaseHolder, &l.LeaseEpoch
			if g.rng.Intn(3) == 0 {
				a.Source = backend.SourceFlowCascade // resolves no edges: the dependency reconciler does
			}
		}
	}
	if _, err := g.w.b.CancelExecution(engCtx, a); err != nil {
		return err
	}
	g.record(a.ExecutionID, func(e *propExec) { e.cancels++ })
	return nil
}

func propReplay(g *propG) error {
	id, ok := g.pickID()
	if !ok {
		return errPropNoop
	}
	if _, err := g.w.b.ReplayExecution(engCtx, backend.ReplayExecutionArgs{ExecutionID: id}); err != nil {
		return err
	}
	g.record(id, func(e *propExec) { e.replays++ })
	return nil
}

func propRevoke(g *propG) error {
	id, ok := g.pickID()
	if l, leased := g.pickLease(); leased && g.rng.Intn(4) > 0 { // mostly a leased one
		id, ok = l.ExecutionID, true
	}
	if !ok {
		return errPropNoop
	}
	res, err := g.w.b.RevokeLease(engCtx, backend.RevokeLeaseArgs{ExecutionID: id, Reason: "property"})
	if err != nil {
		return err
	}
	if !res.Revoked {
		return errPropNoop
	}
	g.record(id, func(e *propExec) { e.revokes++ })
	return nil
}

func propPriority(g *propG) error {
	id, ok := g.pickID()
	if !ok {
		return errPropNoop
	}
	if _, err := g.w.b.ChangePriority(engCtx, backend.ChangePriorityArgs{ExecutionID: id, NewPriority: int32(g.rng.Intn(5))}); err != nil {
		return err
	}
	g.record(id, func(e *propExec) { e.priorities++ })
	return nil
}

// propAdvance moves the shared clock: leases expire, delays and deadlines
// come due, budgets reset and workers age as the operations run.
func propAdvance(g *propG) error {
	g.w.clock.Advance(time.Duration(g.rng.Intn(250)) * time.Millisecond)
	return nil
}

// propSweep is a reconciler tick at the clock's now with a small batch.
func propSweep(name string, f func(*backend.Backend, context.Context, int64, int) (backend.SweepReport, error)) func(g *propG) error {
	return func(g *propG) error {
		rep, err := f(g.w.b, engCtx, g.w.clock.MS(), 1+g.rng.Intn(6))
		if err != nil {
			return err
		}
		if rep.Errors != 0 {
			return fmt.Errorf("%s reported %d failed rows", name, rep.Errors)
		}
		g.w.mu.Lock()
		defer g.w.mu.Unlock()
		s := g.w.sweeps[name]
		s.Add(rep)
		g.w.sweeps[name] = s
		if rep.Processed == 0 {
			return errPropNoop
		}
		return nil
	}
}

func propReport(g *propG) error {
	budget := propBudgetFixed
	if g.rng.Intn(2) == 0 {
		budget = propBudgetReset
	}
	n := uint64(1 + g.rng.Intn(9))
	a := backend.ReportUsageArgs{Dimensions: map[string]uint64{"tokens": n}}
	keyed := g.rng.Intn(2) == 0
	if keyed {
		a.DedupKey = fmt.Sprintf("g%d.%d", g.n, g.seq)
	}
	res, err := g.w.b.ReportUsage(engCtx, budget, a)
	if err != nil {
		return err
	}
	if res.Outcome != backend.UsageOK {
		return fmt.Errorf("a report to an unlimited budget answered %+v", res)
	}
	g.w.mu.Lock()
	defer g.w.mu.Unlock()
	g.w.usage[budget] += n
	if keyed {
		g.w.dedups++
	}
	return nil
}

func propRegister(g *propG) error {
	inst := fmt.Sprintf("w%d.%d", g.n, g.seq) // one registration per instance id
	out, err := g.w.b.RegisterWorker(engCtx, backend.RegisterWorkerArgs{Namespace: "ns", WorkerID: inst, WorkerInstanceID: inst,
		Lanes: propLanes, LivenessTTLMS: uint64(200 + g.rng.Intn(600))})
	if err != nil {
		return err
	}
	if out != backend.WorkerRegistered {
		return fmt.Errorf("a new instance %s registered as %s", inst, out)
	}
	g.w.mu.Lock()
	defer g.w.mu.Unlock()
	g.w.workers = append(g.w.workers, inst)
	return nil
}

// propCheckModel compares the reopened file with the model: every
// acknowledged write is there, nothing unacknowledged is.
func propCheckModel(t *testing.T, w *propWorld, re *backend.Backend) {
	t.Helper()
	st := engLoadStorage(t, re.ReaderDB())
	if len(st.execs) != len(w.execs) {
		t.Errorf("the file holds %d executions, %d creates were acknowledged", len(st.execs), len(w.execs))
	}
	for id, m := range w.execs {
		key := id.String()
		x := st.execs[key]
		if x == nil {
			t.Errorf("%s: acknowledged create is not in the file", key)
			continue
		}
		where := fmt.Sprintf("%s (%s, replays %d)", key, x.sv.PublicState, m.replays)
		if !m.created {
			t.Errorf("%s: calls on it were acknowledged, its create never was", where)
		}
		// Claims: one attempt each, as the lease said, but a resumed claim
		// continues its attempt (same id, the lease id of the last claim).
		if len(x.attempts) != len(m.claims)-m.resumedClaims {
			t.Errorf("%s: %d attempts, %d claims acknowledged (%d resumed)", where, len(x.attempts), len(m.claims), m.resumedClaims)
		}
		lastLease := map[uint32]string{}
		for _, l := range m.claims {
			if _, seen := lastLease[l.AttemptIndex]; seen != l.Resumed {
				t.Errorf("%s: claim of attempt %d resumed=%v, though an earlier claim of it acknowledged: %v", where, l.AttemptIndex, l.Resumed, seen)
			}
			lastLease[l.AttemptIndex] = l.LeaseID
		}
		for _, l := range m.claims {
			a := x.attempt(l.AttemptIndex)
			if a == nil || a.attemptID != l.AttemptID || a.typ != l.AttemptType || a.epoch < int64(l.LeaseEpoch) ||
				(lastLease[l.AttemptIndex] == l.LeaseID && a.leaseID != l.LeaseID) {
				t.Errorf("%s: attempt %d is %+v, the claim acknowledged %+v", where, l.AttemptIndex, a, l)
			}
		}
		propCheckWaits(t, where, m, x)
		// Completions: each attempt's success, each exactly once.
		for idx, result := range m.completes {
			if a := x.attempt(idx); a == nil || a.outcome != "success" {
				t.Errorf("%s: acknowledged completion of attempt %d reads %+v", where, idx, a)
			}
			if x.attemptIndex == int64(idx) && x.sv.PublicState == backend.StateCompleted && string(x.result) != string(result) {
				t.Errorf("%s: result %q, the acknowledged completion wrote %q", where, x.result, result)
			}
		}
		if n := x.outcomes("success"); n != len(m.completes) {
			t.Errorf("%s: %d successful attempts, %d completions acknowledged", where, n, len(m.completes))
		}
		if n := x.count(x.completion, "success"); n != len(m.completes) {
			t.Errorf("%s: %d success events, %d completions acknowledged", where, n, len(m.completes))
		}
		if x.sv.PublicState == backend.StateCompleted {
			if _, ok := m.completes[uint32(x.attemptIndex)]; !ok {
				t.Errorf("%s: completed on attempt %d, which no acknowledged completion ended", where, x.attemptIndex)
			}
		}
		// Failures: each attempt's outcome and class.
		for idx, f := range m.fails {
			if a := x.attempt(idx); a == nil || a.outcome != "failed" || a.failureClass != string(f.class) {
				t.Errorf("%s: acknowledged %s failure of attempt %d reads %+v", where, f.class, idx, a)
			}
		}
		if n := x.count(x.lease, "renewed"); n != m.renews {
			t.Errorf("%s: %d renewed events, %d renewals acknowledged", where, n, m.renews)
		}
		if n := x.count(x.operator, "replayed"); n != m.replays || x.replayCount != int64(m.replays) {
			t.Errorf("%s: %d replayed events and replay_count %d, %d replays acknowledged", where, n, x.replayCount, m.replays)
		}
		if n := x.count(x.operator, "priority_changed"); n != m.priorities {
			t.Errorf("%s: %d priority_changed events, %d changes acknowledged", where, n, m.priorities)
		}
		if m.priorities == 0 && x.priority != int64(m.priority) {
			t.Errorf("%s: priority %d, created with %d and never changed", where, x.priority, m.priority)
		}
		// Cancels: a re-cancel is acknowledged without a second event; a
		// cancel_all flow cancel may cancel its members.
		if n := x.count(x.completion, "cancelled"); n > m.cancels+m.flowCancels || (m.cancels > 0 && n == 0) ||
			(m.cancels == 0 && m.flowCancels == 0 && n > 0) {
			t.Errorf("%s: %d cancelled events, %d cancels and %d flow cancels acknowledged", where, n, m.cancels, m.flowCancels)
		}
		if n, c := x.count(x.lease, "revoked"), x.outcomes("cancelled")-x.endedPaused("cancelled"); n != m.revokes+c {
			t.Errorf("%s: %d revoked events, %d revokes acknowledged and %d leased attempts cancelled",
				where, n, m.revokes, c)
		}
		// Without a replay nothing leaves a terminal state: the one
		// acknowledged ending is the final state.
		if m.replays == 0 {
			ends := 0
			for _, e := range []struct {
				n     int
				state string
			}{{len(m.completes), backend.StateCompleted}, {m.terminalFails, backend.StateFailed}, {min(m.cancels, 1), backend.StateCancelled}} {
				if e.n == 0 {
					continue
				}
				ends += e.n
				if x.sv.PublicState != e.state {
					t.Errorf("%s: acknowledged as %s, never replayed, but reads %s", where, e.state, x.sv.PublicState)
				}
			}
			if ends > 1 {
				t.Errorf("%s: %d acknowledged endings without a replay", where, ends)
			}
		}
	}
	// The reconcilers' reported counts are the rows they wrote.
	if got, want := st.total(func(x *engStoredExec) int { return x.count(x.lease, "expired") }), w.sweeps["expire_leases"].Processed; got != want {
		t.Errorf("%d lease expired events, lease expiry reported %d", got, want)
	}
	if got, want := st.total(func(x *engStoredExec) int { return x.count(x.completion, "expired") }), w.sweeps["expire_deadlines"].Processed; got != want {
		t.Errorf("%d completion expired events, deadline expiry reported %d", got, want)
	}
	timedOut := st.total(func(x *engStoredExec) int {
		n := 0
		for _, a := range x.attempts {
			if a.failureClass == string(backend.FailTimeout) {
				n++
			}
		}
		return n
	})
	if want := w.sweeps["timeout_attempts"].Processed; timedOut != want {
		t.Errorf("%d attempts failed with class timeout, the attempt timeout reported %d", timedOut, want)
	}
	propCheckWorkers(t, w, re)
	propCheckBudgets(t, w, re)
}

// propCheckWorkers: every acknowledged registration is either still
// registered or was swept by a reported TTL sweep, with its events.
func propCheckWorkers(t *testing.T, w *propWorld, re *backend.Backend) {
	t.Helper()
	events := map[string]map[string]int{}
	rows, err := re.ReaderDB().QueryContext(engCtx, `SELECT worker_instance_id, event_kind, count(*)
FROM ff_worker_registry_event WHERE namespace = 'ns' GROUP BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var inst, kind string
		var n int
		if err := rows.Scan(&inst, &kind, &n); err != nil {
			t.Fatal(err)
		}
		if events[inst] == nil {
			events[inst] = map[string]int{}
		}
		events[inst][kind] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	registered := map[string]bool{}
	regRows, err := re.ReaderDB().QueryContext(engCtx, `SELECT worker_instance_id FROM ff_worker_registry WHERE namespace = 'ns'`)
	for _, inst := range engStrings(t, regRows, err) {
		registered[inst] = true
	}
	swept := 0
	for _, inst := range w.workers {
		ev := events[inst]
		if ev["registered"] != 1 {
			t.Errorf("worker %s: %d registered events for one acknowledged registration", inst, ev["registered"])
		}
		if registered[inst] == (ev["ttl_swept"] == 1) || ev["ttl_swept"] > 1 {
			t.Errorf("worker %s: registered=%v with %d ttl_swept events", inst, registered[inst], ev["ttl_swept"])
		}
		swept += ev["ttl_swept"]
	}
	if len(registered) != len(w.workers)-swept {
		t.Errorf("%d workers registered, %d registrations acknowledged and %d swept", len(registered), len(w.workers), swept)
	}
	if want := w.sweeps["worker_ttl"].Processed; swept != want {
		t.Errorf("%d ttl_swept events, the TTL sweep reported %d", swept, want)
	}
}

// propCheckBudgets: the budget that never resets holds exactly the
// acknowledged usage; the resetting one at most that, with its schedule
// after its last reset; every acknowledged keyed report left its dedup row.
func propCheckBudgets(t *testing.T, w *propWorld, re *backend.Backend) {
	t.Helper()
	usage := func(id string) (v uint64, lastReset, nextReset, interval int64) {
		err := re.ReaderDB().QueryRowContext(engCtx, `SELECT COALESCE(u.current_value, 0), COALESCE(u.last_reset_at_ms, 0),
  COALESCE(p.next_reset_at_ms, 0), COALESCE(json_extract(p.policy_json, '$.reset_interval_ms'), 0)
FROM ff_budget_policy p LEFT JOIN ff_budget_usage u ON u.budget_id = p.budget_id AND u.dimensions_key = 'tokens'
WHERE p.budget_id = ?`, id).Scan(&v, &lastReset, &nextReset, &interval)
		if err != nil {
			t.Fatalf("budget %s: %v", id, err)
		}
		return
	}
	if v, _, next, _ := usage(propBudgetFixed); v != w.usage[propBudgetFixed] || next != 0 {
		t.Errorf("budget %s: usage %d (next reset %d), acknowledged %d and it never resets", propBudgetFixed, v, next, w.usage[propBudgetFixed])
	}
	v, last, next, interval := usage(propBudgetReset)
	if v > w.usage[propBudgetReset] || interval != 400 || next == 0 || (last != 0 && next != last+interval) {
		t.Errorf("budget %s: usage %d (acknowledged %d), last reset %d, next %d, interval %d",
			propBudgetReset, v, w.usage[propBudgetReset], last, next, interval)
	}
	var dedups int
	if err := re.ReaderDB().QueryRowContext(engCtx, `SELECT count(*) FROM ff_budget_usage_dedup`).Scan(&dedups); err != nil {
		t.Fatal(err)
	}
	if dedups != w.dedups {
		t.Errorf("%d dedup rows, %d keyed reports acknowledged", dedups, w.dedups)
	}
}

// propFlow is a flow a goroutine built.
type propFlow struct {
	id      uuid.UUID
	members []backend.ExecutionID
}

// propFlowBuild makes a flow of 2–4 executions no flow has taken yet
// (reserved in the model first, so no two goroutines pick the same one)
// and stages and applies random edges between them, earlier to later
// (a DAG). Another goroutine's flow cancel may stop it half way: a
// refusal propAllowed accepts.
func propFlowBuild(g *propG) error {
	g.w.mu.Lock()
	var picked []backend.ExecutionID
	want := 2 + g.rng.Intn(3)
	for tries := 0; tries < 20 && len(picked) < want && len(g.w.ids) > 0; tries++ {
		id := g.w.ids[g.rng.Intn(len(g.w.ids))]
		if !g.w.inFlow[id] {
			g.w.inFlow[id] = true
			picked = append(picked, id)
		}
	}
	g.w.mu.Unlock()
	if len(picked) < 2 {
		return errPropNoop
	}
	b := g.w.b
	f := propFlow{id: uuid.New()}
	if _, err := b.CreateFlow(engCtx, backend.CreateFlowArgs{FlowID: f.id, FlowKind: "prop", Namespace: "ns"}); err != nil {
		return err
	}
	for _, id := range picked {
		if _, err := b.AddExecutionToFlow(engCtx, backend.AddExecutionToFlowArgs{FlowID: f.id, ExecutionID: id}); err != nil {
			return err
		}
		f.members = append(f.members, id)
	}
	g.w.mu.Lock()
	g.w.flows = append(g.w.flows, f)
	g.w.mu.Unlock()
	rev := uint64(len(f.members))
	for j := 1; j < len(f.members); j++ {
		for i := range j {
			if g.rng.Intn(2) == 0 && i != j-1 {
				continue
			}
			e := uuid.New()
			res, err := b.StageDependencyEdge(engCtx, backend.StageDependencyEdgeArgs{FlowID: f.id, EdgeID: e,
				UpstreamExecutionID: f.members[i], DownstreamExecutionID: f.members[j], ExpectedGraphRevision: rev})
			if err != nil {
				return err
			}
			rev = res.NewGraphRevision
			if _, err := b.ApplyDependencyToChild(engCtx, backend.ApplyDependencyToChildArgs{FlowID: f.id, EdgeID: e,
				UpstreamExecutionID: f.members[i], DownstreamExecutionID: f.members[j]}); err != nil {
				return err
			}
		}
	}
	if g.rng.Intn(2) == 0 {
		// A flow_cascade cancel of the root resolves none of its edges:
		// the dependency reconciler's work. A root claimed meanwhile needs
		// a lease epoch for that source: then nothing is cancelled.
		root := f.members[0]
		_, err := b.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: root, Reason: "property", Source: backend.SourceFlowCascade})
		switch {
		case err == nil:
			g.record(root, func(e *propExec) { e.cancels++ })
		case backend.KindOf(err) != backend.KindValidation:
			return err
		}
	}
	return nil
}

// propFlowCancel cancels a built flow, mostly cancel_all, waiting or
// not; every member of a first cancel_all may end cancelled.
func propFlowCancel(g *propG) error {
	g.w.mu.Lock()
	if len(g.w.flows) == 0 {
		g.w.mu.Unlock()
		return errPropNoop
	}
	f := g.w.flows[g.rng.Intn(len(g.w.flows))]
	g.w.mu.Unlock()
	policy := backend.CancelAllPolicy
	if g.rng.Intn(4) == 0 {
		policy = "cancel_flow_only"
	}
	wait := g.rng.Intn(2) == 0
	// Record first: an asynchronous dispatch may cancel members before
	// this call returns.
	for _, id := range f.members {
		g.record(id, func(e *propExec) {
			if policy == backend.CancelAllPolicy {
				e.flowCancels++
			}
		})
	}
	res, err := g.w.b.CancelFlow(engCtx, backend.CancelFlowArgs{FlowID: f.id, Reason: "property", CancellationPolicy: policy}, wait)
	if err != nil {
		return err
	}
	if res.Outcome == backend.FlowPartiallyCancelled {
		return fmt.Errorf("flow %s: member cancels failed: %v", f.id, res.FailedMemberExecutionIDs)
	}
	return nil
}
