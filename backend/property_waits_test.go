package backend_test

import (
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/suspension"
)

// The durable-wait rows of the concurrent property test (propOps):
// suspend, signal, operator resume, worker delay and the suspension
// timeout reconciler, with what the model checks of them.

// propWait is an acknowledged suspend's waitpoint: where a signal goes.
type propWait struct {
	id    backend.ExecutionID
	wp    string
	token string
}

// propSuspend suspends a (mostly live) lease on a fresh waitpoint: a
// single "go" signal, any signal, or two distinct signals; half of them
// with a short timeout that fails, auto-resumes or escalates.
func propSuspend(g *propG) error {
	l, ok := g.pickLease()
	if !ok {
		return errPropNoop
	}
	wp := uuid.New()
	key := "wpk:" + wp.String()
	conds := []suspension.Condition{
		suspension.Single(key, suspension.ByName("go")),
		suspension.Single(key, suspension.Wildcard()),
		suspension.Count(2, suspension.DistinctSignals, nil, key),
	}
	a := suspension.SuspendArgs{
		SuspensionID: uuid.New(), Waitpoints: []suspension.WaitpointBinding{suspension.Fresh(wp, key)},
		ResumeCondition: conds[g.rng.Intn(len(conds))], ResumePolicy: suspension.DefaultResumePolicy(),
		ReasonCode: suspension.ReasonWaitingForSignal, RequestedBy: suspension.RequestedByWorker,
		TimeoutBehavior: suspension.TimeoutFail,
	}
	if g.rng.Intn(2) == 0 {
		at := g.w.clock.MS() + int64(g.rng.Intn(600))
		behaviors := []suspension.TimeoutBehavior{suspension.TimeoutFail, suspension.TimeoutAutoResumeWithTimeoutSignal, suspension.TimeoutEscalate}
		a.TimeoutAt, a.TimeoutBehavior = &at, behaviors[g.rng.Intn(len(behaviors))]
	}
	out, err := g.w.b.Suspend(engCtx, l.Handle, a)
	if err != nil {
		return err
	}
	if out.AlreadySatisfied {
		return fmt.Errorf("a suspend on a fresh waitpoint answered AlreadySatisfied: %+v", out)
	}
	g.record(l.ExecutionID, func(e *propExec) { e.suspends++ })
	g.w.mu.Lock()
	defer g.w.mu.Unlock()
	g.w.waits = append(g.w.waits, propWait{id: l.ExecutionID, wp: out.Details.WaitpointID, token: out.Details.WaitpointToken})
	return nil
}

// propSignal signals a (mostly recent) waitpoint: "go" or "noise", a
// third of them with an idempotency key another signal may repeat.
func propSignal(g *propG) error {
	g.w.mu.Lock()
	n := len(g.w.waits)
	if n == 0 {
		g.w.mu.Unlock()
		return errPropNoop
	}
	w := g.w.waits[n-1-g.rng.Intn(min(6, n))]
	if g.rng.Intn(4) == 0 {
		w = g.w.waits[g.rng.Intn(n)]
	}
	g.w.mu.Unlock()
	names := []string{"go", "noise"}
	a := waitSignal(w.id, w.wp, w.token, names[g.rng.Intn(len(names))], func(a *backend.DeliverSignalArgs) {
		a.SourceIdentity = fmt.Sprintf("g%d", g.n)
		if g.rng.Intn(3) == 0 {
			key := fmt.Sprintf("k%d", g.rng.Intn(2))
			a.IdempotencyKey = &key
		}
	})
	res, err := g.w.b.DeliverSignal(engCtx, a)
	if err != nil {
		return err
	}
	if res.Duplicate {
		return errPropNoop
	}
	if res.SignalID != a.SignalID.String() {
		return fmt.Errorf("signal %s accepted as %s", a.SignalID, res.SignalID)
	}
	g.record(w.id, func(e *propExec) { e.signals++ })
	return nil
}

// propCreateWaitpoint creates a pending waitpoint for a held lease,
// expiring within 600 ms; signals reach it (buffered) like the waitpoints
// of suspends, and the execution's end or the expiry reconciler closes it.
func propCreateWaitpoint(g *propG) error {
	l, ok := g.pickLease()
	if !ok {
		return errPropNoop
	}
	wp, err := g.w.b.CreateWaitpoint(engCtx, l.Handle, backend.CreateWaitpointArgs{
		WaitpointKey: "pk:" + uuid.NewString(), ExpiresInMS: 1 + int64(g.rng.Intn(600))})
	if err != nil {
		return err
	}
	g.record(l.ExecutionID, func(e *propExec) { e.pendings++ })
	g.w.mu.Lock()
	defer g.w.mu.Unlock()
	g.w.waits = append(g.w.waits, propWait{id: l.ExecutionID, wp: wp.WaitpointID, token: wp.WaitpointToken})
	return nil
}

// propResume is an operator resume, mostly of an execution that
// suspended (one that is not suspended now refuses it).
func propResume(g *propG) error {
	id, ok := g.pickID()
	g.w.mu.Lock()
	if n := len(g.w.waits); n > 0 && g.rng.Intn(4) > 0 {
		id, ok = g.w.waits[n-1-g.rng.Intn(min(6, n))].id, true
	}
	g.w.mu.Unlock()
	if !ok {
		return errPropNoop
	}
	if _, err := g.w.b.ResumeExecution(engCtx, backend.ResumeExecutionArgs{ExecutionID: id}); err != nil {
		return err
	}
	g.record(id, func(e *propExec) { e.opResumes++ })
	return nil
}

// propDelay delays a (mostly live) lease by up to 300 ms.
func propDelay(g *propG) error {
	l, ok := g.pickLease()
	if !ok {
		return errPropNoop
	}
	until := g.w.clock.MS() + int64(g.rng.Intn(300))
	if _, err := g.w.b.Delay(engCtx, l.Handle, until); err != nil {
		return err
	}
	g.record(l.ExecutionID, func(e *propExec) { e.delays++ })
	return nil
}

// propCheckWaits compares an execution's durable waits with the model:
// every acknowledged signal has its outbox row, every resumed claim is a
// resume of an attempt, and only executions that were paused resumed.
func propCheckWaits(t *testing.T, where string, m *propExec, x *engStoredExec) {
	t.Helper()
	if n := len(x.signal); n != m.signals {
		t.Errorf("%s: %d signal events, %d accepted signals acknowledged", where, n, m.signals)
	}
	resumes := 0
	for _, a := range x.attempts {
		resumes += a.resumes
	}
	if resumes != m.resumedClaims {
		t.Errorf("%s: resume_count sums to %d, %d resumed claims acknowledged", where, resumes, m.resumedClaims)
	}
	if m.resumedClaims > m.suspends+m.delays {
		t.Errorf("%s: %d resumed claims after %d suspends and %d delays", where, m.resumedClaims, m.suspends, m.delays)
	}
	if m.signals > 0 && m.suspends == 0 && m.pendings == 0 {
		t.Errorf("%s: %d signals accepted without a suspend or a pending waitpoint", where, m.signals)
	}
}
