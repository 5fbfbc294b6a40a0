package backend_test

import (
	"bytes"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/suspension"
)

// The whole durable wait: suspend → signal → resumed claim of the same
// attempt → complete.
func TestSuspendSignalResumeSameAttempt(t *testing.T) {
	waitBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		args := waitArgs("approve")
		id, l, out := waitSuspend(t, b, args)
		d := out.Details
		if d.SuspensionID != args.SuspensionID.String() || d.WaitpointID != args.Waitpoints[0].WaitpointID.String() ||
			d.WaitpointKey != args.Waitpoints[0].WaitpointKey || len(d.AdditionalWaitpoints) != 0 {
			t.Fatalf("details = %+v", d)
		}
		wantTok := suspension.MintWaitpointToken(waitSecret, "k1", id.String(), d.WaitpointID)
		if d.WaitpointToken != wantTok {
			t.Fatalf("token = %s, want %s", d.WaitpointToken, wantTok)
		}
		if out.Handle.Kind != backend.HandleSuspended {
			t.Fatalf("handle kind = %d, want Suspended", out.Handle.Kind)
		}
		sv := waitVector(t, b, id)
		want := backend.StateVector{LifecyclePhase: "suspended", OwnershipState: "unowned", EligibilityState: "not_applicable",
			BlockingReason: "waiting_for_approval", TerminalOutcome: "none", AttemptState: "attempt_interrupted", PublicState: "suspended"}
		if sv != want {
			t.Fatalf("state vector = %+v, want %+v", sv, want)
		}
		if bd := engInfo(t, b, id).BlockingDetail; bd != "suspended: waitpoint "+d.WaitpointID+" awaiting waiting_for_approval" {
			t.Fatalf("blocking_detail = %q", bd)
		}
		if got := engJoin(engEvents(t, b, backend.OutboxLease, id)); got != "acquired,released" {
			t.Fatalf("lease events = %s", got)
		}
		waitCheckInvariants(t, b)
		// The old lease is gone: renew is fenced.
		_, err := b.Renew(engCtx, l.Handle, 0)
		engWantCode(t, err, backend.KindContention, backend.CodeStaleLease)
		// Nothing to claim while suspended.
		if got, err := b.Claim(engCtx, engClaimArgs()); got != nil || err != nil {
			t.Fatalf("Claim while suspended = %+v, %v", got, err)
		}

		clock.Advance(5 * time.Second)
		other := waitDeliver(t, b, waitSignal(id, d.WaitpointID, d.WaitpointToken, "reject"))
		if other.Effect != suspension.EffectNoOp || engState(t, b, id) != backend.StateSuspended {
			t.Fatalf("non-matching signal = %+v, state %s", other, engState(t, b, id))
		}
		sig := waitSignal(id, d.WaitpointID, d.WaitpointToken, "approve", func(a *backend.DeliverSignalArgs) {
			a.Payload = []byte(`{"ok":true}`)
			cid := "corr-1"
			a.CorrelationID = &cid
		})
		res := waitDeliver(t, b, sig)
		if res.Duplicate || res.SignalID != sig.SignalID.String() || res.Effect != suspension.EffectResumed {
			t.Fatalf("DeliverSignal = %+v", res)
		}
		sv = waitVector(t, b, id)
		want = backend.StateVector{LifecyclePhase: "runnable", OwnershipState: "unowned", EligibilityState: "eligible_now",
			BlockingReason: "waiting_for_worker", TerminalOutcome: "none", AttemptState: "attempt_interrupted", PublicState: "waiting"}
		if sv != want {
			t.Fatalf("after signal = %+v, want %+v", sv, want)
		}
		if got := waitSuspensionState(t, b, id); got != "closed/resumed" {
			t.Fatalf("suspension = %s", got)
		}
		if got := waitWaitpointState(t, b, d.WaitpointID); got != "closed/resumed" {
			t.Fatalf("waitpoint = %s", got)
		}
		if got := engJoin(engEvents(t, b, backend.OutboxCompletion, id)); got != "" {
			t.Fatalf("completion events = %s, want none (a resume completes nothing)", got)
		}
		if n := waitScalar(t, b, `SELECT count(*) FROM ff_signal_event WHERE execution_id = ?`, id.String()); n.String != "2" {
			t.Fatalf("signal events = %s, want 2", n.String)
		}
		waitCheckInvariants(t, b)
		// The token of a closed waitpoint still reads (kept, not deleted).
		if tok, err := b.ReadWaitpointToken(engCtx, id, uuid.MustParse(d.WaitpointID)); err != nil || tok != d.WaitpointToken {
			t.Fatalf("ReadWaitpointToken after resume = %q, %v", tok, err)
		}

		clock.Advance(time.Second)
		r := engClaim(t, b, func(c *backend.ClaimArgs) { c.WorkerInstanceID = "w1-i2" })
		if !r.Resumed || r.AttemptIndex != l.AttemptIndex || r.AttemptID != l.AttemptID || r.LeaseEpoch != l.LeaseEpoch+1 ||
			r.AttemptType != "initial" || r.LeaseID == l.LeaseID || r.Handle.Kind != backend.HandleResumed {
			t.Fatalf("resumed claim = %+v (first %+v)", r, l)
		}
		if len(r.Signals) != 1 {
			t.Fatalf("signals = %+v", r.Signals)
		}
		s := r.Signals[0]
		if s.SignalID != sig.SignalID.String() || s.SignalName != "approve" || s.SignalCategory != "human_review" ||
			s.SourceType != "human" || s.SourceIdentity != "alice" || s.CorrelationID != "corr-1" ||
			s.AcceptedAt != engT0+5000 || !bytes.Equal(s.Payload, []byte(`{"ok":true}`)) {
			t.Fatalf("signal = %+v", s)
		}
		obs, err := b.ObserveSignals(engCtx, r.Handle)
		if err != nil || waitJSON(t, obs) != waitJSON(t, r.Signals) {
			t.Fatalf("ObserveSignals = %+v, %v", obs, err)
		}
		if got := engJoin(engEvents(t, b, backend.OutboxLease, id)); got != "acquired,released,acquired" {
			t.Fatalf("lease events = %s", got)
		}
		atts, err := b.ListAttempts(engCtx, id)
		if err != nil || len(atts) != 1 {
			t.Fatalf("attempts = %+v, %v", atts, err)
		}
		waitCheckInvariants(t, b)
		if err := b.Complete(engCtx, r.Handle, []byte("done")); err != nil {
			t.Fatal(err)
		}
		if engState(t, b, id) != backend.StateCompleted {
			t.Fatal("not completed")
		}
		// The original handle stays stale.
		engWantCode(t, b.Complete(engCtx, l.Handle, nil), backend.KindContention, backend.CodeStaleLease)
		waitCheckInvariants(t, b)
	})
}

// Resume (suspend or delay) continues the attempt; ffsqlite's own requeue
// after lease expiry makes a new reclaim attempt. Both in one execution.
func TestResumeVersusReclaim(t *testing.T) {
	waitBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		id := engCreate(t, b)
		first := engClaim(t, b)
		// Lease expiry: the attempt ends interrupted, the next claim is a
		// reclaim with a new attempt.
		clock.Advance(11 * time.Second)
		if rep, err := b.ExpireLeases(engCtx, clock.MS(), 10); err != nil || rep.Processed != 1 {
			t.Fatalf("ExpireLeases = %+v, %v", rep, err)
		}
		if sv := waitVector(t, b, id); sv.AttemptState != "attempt_interrupted" || sv.PublicState != "waiting" {
			t.Fatalf("after expiry = %+v", sv)
		}
		re := engClaim(t, b)
		if re.Resumed || re.AttemptIndex != first.AttemptIndex+1 || re.AttemptType != "reclaim" ||
			re.AttemptID == first.AttemptID || re.Handle.Kind != backend.HandleReclaimed || re.Signals != nil {
			t.Fatalf("reclaim = %+v", re)
		}
		// A worker delay pauses the same attempt; the claim after the delay
		// resumes it.
		until := clock.MS() + 3000
		res, err := b.Delay(engCtx, re.Handle, until)
		if err != nil || res.DelayUntilMS != until {
			t.Fatalf("Delay = %+v, %v", res, err)
		}
		sv := waitVector(t, b, id)
		if sv.PublicState != "delayed" || sv.BlockingReason != "waiting_for_delay" || sv.AttemptState != "attempt_interrupted" ||
			sv.EligibilityState != "not_eligible_until_time" {
			t.Fatalf("after delay = %+v", sv)
		}
		if bd := engInfo(t, b, id).BlockingDetail; bd != "delayed until "+itoa(until) {
			t.Fatalf("blocking_detail = %q", bd)
		}
		waitCheckInvariants(t, b)
		if got, err := b.Claim(engCtx, engClaimArgs()); got != nil || err != nil {
			t.Fatalf("Claim before the delay = %+v, %v", got, err)
		}
		// Lease expiry ignores a paused attempt.
		clock.Advance(20 * time.Second)
		if rep, err := b.ExpireLeases(engCtx, clock.MS(), 10); err != nil || rep.Processed != 0 {
			t.Fatalf("ExpireLeases on a paused attempt = %+v, %v", rep, err)
		}
		if rep, err := b.PromoteDelayed(engCtx, clock.MS(), 10); err != nil || rep.Processed != 1 {
			t.Fatalf("PromoteDelayed = %+v, %v", rep, err)
		}
		if sv := waitVector(t, b, id); sv.PublicState != "waiting" || sv.AttemptState != "attempt_interrupted" {
			t.Fatalf("after promotion = %+v", sv)
		}
		rs := engClaim(t, b)
		if !rs.Resumed || rs.AttemptIndex != re.AttemptIndex || rs.AttemptID != re.AttemptID || rs.AttemptType != "reclaim" ||
			rs.LeaseEpoch != re.LeaseEpoch+1 || rs.Handle.Kind != backend.HandleResumed || rs.Signals == nil || len(rs.Signals) != 0 {
			t.Fatalf("resumed after delay = %+v", rs)
		}
		if got := engJoin(engEvents(t, b, backend.OutboxLease, id)); got != "acquired,expired,reclaimed,released,acquired" {
			t.Fatalf("lease events = %s", got)
		}
		// A resumed attempt can still lose its lease and be reclaimed.
		clock.Advance(11 * time.Second)
		if rep, err := b.ExpireLeases(engCtx, clock.MS(), 10); err != nil || rep.Processed != 1 {
			t.Fatalf("ExpireLeases after resume = %+v, %v", rep, err)
		}
		third := engClaim(t, b)
		if third.Resumed || third.AttemptIndex != rs.AttemptIndex+1 || third.AttemptType != "reclaim" {
			t.Fatalf("second reclaim = %+v", third)
		}
		waitCheckInvariants(t, b)
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Validation happens before any write: the handle stays valid and
// nothing is stored.
func TestSuspendValidationWritesNothing(t *testing.T) {
	t.Parallel()
	b, _ := waitOpen(t, true)
	engCreate(t, b)
	l := engClaim(t, b)
	before := waitSnapshot(t, b)
	cases := map[string]func(*suspension.SuspendArgs){
		"waitpoints_empty":              func(a *suspension.SuspendArgs) { a.Waitpoints = nil },
		"waitpoint_key_mismatch":        func(a *suspension.SuspendArgs) { a.Waitpoints[0].WaitpointKey = "other" },
		"timeout_only_without_deadline": func(a *suspension.SuspendArgs) { a.ResumeCondition = suspension.TimeoutOnly() },
		"timeout_at_in_past": func(a *suspension.SuspendArgs) {
			past := engT0 - suspension.ClockSkewToleranceMS - 1
			a.TimeoutAt = &past
		},
		"count_n_zero at path <root>": func(a *suspension.SuspendArgs) {
			a.ResumeCondition = suspension.Count(0, suspension.DistinctSignals, nil, a.Waitpoints[0].WaitpointKey)
		},
	}
	for detail, mod := range cases {
		_, err := b.Suspend(engCtx, l.Handle, waitArgs("x", mod))
		var e *backend.Error
		if !asErr(err, &e) || e.Kind != backend.KindValidation || e.Code != "invalid_input" || e.Msg != detail {
			t.Fatalf("%s: Suspend = %v", detail, err)
		}
	}
	if after := waitSnapshot(t, b); after != before {
		t.Fatalf("validation failures changed the database:\n%s\n%s", before, after)
	}
	if _, err := b.Renew(engCtx, l.Handle, 0); err != nil {
		t.Fatalf("lease lost after refused suspends: %v", err)
	}
	// A corrupt handle is a 400-kind error before anything else.
	bad := l.Handle
	bad.Opaque = bad.Opaque[:5]
	_, err := b.Suspend(engCtx, bad, waitArgs("x"))
	engWantCode(t, err, backend.KindValidation, "corruption")
}

// A repeated idempotency key replays the stored outcome, even with the
// handle the first suspend made stale.
func TestSuspendIdempotencyKey(t *testing.T) {
	waitBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		key := "suspend-once"
		args := waitArgs("approve", func(a *suspension.SuspendArgs) { a.IdempotencyKey = &key })
		id, l, out := waitSuspend(t, b, args)
		before := waitSnapshot(t, b)
		again, err := b.Suspend(engCtx, l.Handle, args)
		if err != nil || waitJSON(t, again) != waitJSON(t, out) {
			t.Fatalf("replay = %s, %v; want %s", waitJSON(t, again), err, waitJSON(t, out))
		}
		// Even other arguments replay the first outcome.
		again2, err := b.Suspend(engCtx, l.Handle, waitArgs("other", func(a *suspension.SuspendArgs) { a.IdempotencyKey = &key }))
		if err != nil || waitJSON(t, again2) != waitJSON(t, out) {
			t.Fatalf("replay with other args = %s, %v", waitJSON(t, again2), err)
		}
		if after := waitSnapshot(t, b); after != before {
			t.Fatal("a replayed suspend changed the database")
		}
		// Without the key the stale handle is fenced.
		_, err = b.Suspend(engCtx, l.Handle, waitArgs("approve"))
		engWantCode(t, err, backend.KindContention, backend.CodeStaleLease)
		// The cached outcome expires after 7 days without a timeout.
		clock.Advance(time.Duration(suspension.SuspendDedupMaxTTLMS)*time.Millisecond + time.Millisecond)
		_, err = b.Suspend(engCtx, l.Handle, args)
		engWantCode(t, err, backend.KindContention, backend.CodeStaleLease)
		_ = id
	})
}

func asErr(err error, target **backend.Error) bool {
	e, ok := err.(*backend.Error)
	if ok {
		*target = e
	}
	return ok
}

// Several waitpoints (RFC-014 pattern 3): AllOf over two fresh bindings,
// each with its own token; both signals are observed after resume.
func TestSuspendAllOfTwoWaitpoints(t *testing.T) {
	waitBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		wa, wb := uuid.New(), uuid.New()
		args := waitArgs("", func(a *suspension.SuspendArgs) {
			a.Waitpoints = []suspension.WaitpointBinding{suspension.Fresh(wa, "db-migrated"), suspension.Fresh(wb, "cache-warm")}
			a.ResumeCondition = suspension.AllOf(suspension.Single("db-migrated", suspension.Wildcard()),
				suspension.Single("cache-warm", suspension.ByName("warm")))
			a.ReasonCode = suspension.ReasonWaitingForCallback
		})
		id, _, out := waitSuspend(t, b, args)
		if len(out.Details.AdditionalWaitpoints) != 1 || out.Details.AdditionalWaitpoints[0].WaitpointID != wb.String() {
			t.Fatalf("details = %+v", out.Details)
		}
		tb := out.Details.AdditionalWaitpoints[0].WaitpointToken
		if tb != suspension.MintWaitpointToken(waitSecret, "k1", id.String(), wb.String()) {
			t.Fatal("extra token")
		}
		// A token of one waitpoint does not open the other.
		_, err := b.DeliverSignal(engCtx, waitSignal(id, wb.String(), out.Details.WaitpointToken, "warm"))
		engWantCode(t, err, backend.KindValidation, "invalid_token")
		steps := []struct {
			wp, tok, name, effect string
		}{
			{wb.String(), tb, "cold", suspension.EffectMatcherFailed},
			{wa.String(), out.Details.WaitpointToken, "done", suspension.EffectAppended},
			{wa.String(), out.Details.WaitpointToken, "again", suspension.EffectDuplicate},
			{wb.String(), tb, "warm", suspension.EffectResumed},
		}
		for _, s := range steps {
			clock.Advance(time.Millisecond)
			if res := waitDeliver(t, b, waitSignal(id, s.wp, s.tok, s.name)); res.Effect != s.effect {
				t.Fatalf("%s on %s: effect %s, want %s", s.name, s.wp, res.Effect, s.effect)
			}
		}
		for _, wp := range []uuid.UUID{wa, wb} {
			if got := waitWaitpointState(t, b, wp.String()); got != "closed/resumed" {
				t.Fatalf("waitpoint %s = %s", wp, got)
			}
		}
		r := engClaim(t, b)
		if !r.Resumed || len(r.Signals) != 2 || r.Signals[0].SignalName != "done" || r.Signals[1].SignalName != "warm" {
			t.Fatalf("resumed = %+v", r)
		}
		if sv := waitVector(t, b, id); sv.PublicState != "active" {
			t.Fatalf("state = %+v", sv)
		}
		waitCheckInvariants(t, b)
	})
}

// A signal's resume_delay_ms makes the resumed execution delayed.
func TestSignalResumeDelay(t *testing.T) {
	waitBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		id, _, out := waitSuspend(t, b, waitArgs("go"))
		d := out.Details
		delay := uint64(4000)
		waitDeliver(t, b, waitSignal(id, d.WaitpointID, d.WaitpointToken, "go", func(a *backend.DeliverSignalArgs) { a.ResumeDelayMS = &delay }))
		sv := waitVector(t, b, id)
		if sv.PublicState != "delayed" || sv.BlockingReason != "waiting_for_resume_delay" || sv.EligibilityState != "not_eligible_until_time" {
			t.Fatalf("after delayed resume = %+v", sv)
		}
		if bd := engInfo(t, b, id).BlockingDetail; bd != "resume delay 4000ms after signal go" {
			t.Fatalf("blocking_detail = %q", bd)
		}
		waitCheckInvariants(t, b)
		if got, _ := b.Claim(engCtx, engClaimArgs()); got != nil {
			t.Fatal("claimed before the resume delay")
		}
		clock.Advance(4 * time.Second)
		if r := engClaim(t, b); !r.Resumed || len(r.Signals) != 1 {
			t.Fatalf("claim after the delay = %+v", r)
		}
	})
}

// OperatorOnly waits end by operator resume only; a resumed claim then
// observes no signals.
func TestOperatorResume(t *testing.T) {
	waitBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		id, _, out := waitSuspend(t, b, waitArgs("", func(a *suspension.SuspendArgs) {
			a.ResumeCondition = suspension.OperatorOnly()
			a.ReasonCode = suspension.ReasonWaitingForOperatorReview
		}))
		if sv := waitVector(t, b, id); sv.BlockingReason != "paused_by_operator" {
			t.Fatalf("blocking reason = %s", sv.BlockingReason)
		}
		d := out.Details
		if res := waitDeliver(t, b, waitSignal(id, d.WaitpointID, d.WaitpointToken, suspension.OperatorOnlySentinel)); res.Effect != suspension.EffectNoOp {
			t.Fatalf("signal on operator-only = %+v", res)
		}
		page, err := b.ListPendingWaitpoints(engCtx, id, nil, 0)
		if err != nil || len(page.Waitpoints) != 1 || waitJSON(t, page.Waitpoints[0].RequiredSignalNames) != `["__operator_only__"]` {
			t.Fatalf("pending = %+v, %v", page, err)
		}
		res, err := b.ResumeExecution(engCtx, backend.ResumeExecutionArgs{ExecutionID: id})
		if err != nil || waitJSON(t, res) != `{"Resumed":{"public_state":"waiting"}}` {
			t.Fatalf("ResumeExecution = %s, %v", waitJSON(t, res), err)
		}
		if got := waitSuspensionState(t, b, id); got != "closed/resumed" {
			t.Fatalf("suspension = %s", got)
		}
		_, err = b.ResumeExecution(engCtx, backend.ResumeExecutionArgs{ExecutionID: id})
		engWantCode(t, err, backend.KindState, "execution_not_suspended")
		_, err = b.ResumeExecution(engCtx, backend.ResumeExecutionArgs{ExecutionID: backend.NewExecutionID(7)})
		engWantCode(t, err, backend.KindNotFound, "")
		r := engClaim(t, b)
		if !r.Resumed || r.Signals == nil || len(r.Signals) != 0 {
			t.Fatalf("resumed = %+v", r)
		}
		// With a delay.
		_, err = b.Suspend(engCtx, r.Handle, waitArgs("", func(a *suspension.SuspendArgs) { a.ResumeCondition = suspension.OperatorOnly() }))
		if err != nil {
			t.Fatal(err)
		}
		res, err = b.ResumeExecution(engCtx, backend.ResumeExecutionArgs{ExecutionID: id, ResumeDelayMS: 1500})
		if err != nil || res.PublicState != backend.StateDelayed {
			t.Fatalf("delayed resume = %+v, %v", res, err)
		}
		waitCheckInvariants(t, b)
		_, err = b.ResumeExecution(engCtx, backend.ResumeExecutionArgs{ExecutionID: id, TriggerType: "bogus"})
		engWantCode(t, err, backend.KindValidation, "invalid_input")
	})
}

// Cancelling a suspended execution ends its paused attempt and closes its
// suspension and waitpoints; later signals find it not signalable.
func TestCancelSuspended(t *testing.T) {
	waitBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		id, l, out := waitSuspend(t, b, waitArgs("approve", waitTimeout(engT0+60_000, suspension.TimeoutFail)))
		if _, err := b.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: id, Reason: "no longer needed"}); err != nil {
			t.Fatal(err)
		}
		if got := waitSuspensionState(t, b, id); got != "closed/cancelled" {
			t.Fatalf("suspension = %s", got)
		}
		if got := waitWaitpointState(t, b, out.Details.WaitpointID); got != "closed/cancelled" {
			t.Fatalf("waitpoint = %s", got)
		}
		atts, _ := b.ListAttempts(engCtx, id)
		if len(atts) != 1 || atts[0].Outcome != "cancelled" || atts[0].LeaseEpoch != l.LeaseEpoch+1 {
			t.Fatalf("attempt = %+v", atts)
		}
		_, err := b.DeliverSignal(engCtx, waitSignal(id, out.Details.WaitpointID, out.Details.WaitpointToken, "approve"))
		engWantCode(t, err, backend.KindState, "target_not_signalable")
		// The timeout no longer fires.
		clock.Advance(2 * time.Minute)
		if rep, err := b.ExpireSuspensions(engCtx, clock.MS(), 10); err != nil || rep.Processed != 0 {
			t.Fatalf("ExpireSuspensions = %+v, %v", rep, err)
		}
		waitCheckInvariants(t, b)
	})
}

// The deadline reconciler ends a suspended execution the same way.
func TestDeadlineExpiresSuspended(t *testing.T) {
	t.Parallel()
	b, clock := waitOpen(t, true)
	id := engCreate(t, b, func(a *backend.CreateExecutionArgs) {
		at := engT0 + 30_000
		a.ExecutionDeadlineAt = &at
	})
	l := engClaim(t, b)
	out, err := b.Suspend(engCtx, l.Handle, waitArgs("approve"))
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(31 * time.Second)
	if rep, err := b.ExpireDeadlines(engCtx, clock.MS(), 10); err != nil || rep.Processed != 1 {
		t.Fatalf("ExpireDeadlines = %+v, %v", rep, err)
	}
	if engState(t, b, id) != backend.StateExpired || waitSuspensionState(t, b, id) != "closed/expired" ||
		waitWaitpointState(t, b, out.Details.WaitpointID) != "closed/expired" {
		t.Fatalf("state %s, suspension %s", engState(t, b, id), waitSuspensionState(t, b, id))
	}
	waitCheckInvariants(t, b)
}

// A resumed claim observes the signals that satisfied the suspension it
// resumes from, and none after an operator or timeout resume, even when
// part of the condition had been met (canonical's observe_signals reads
// satisfied matchers, or the satisfier list only the satisfying signal
// writes). The partial satisfiers of the unsatisfied condition were
// reported.
func TestResumedClaimObservesOnlySatisfiers(t *testing.T) {
	waitBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		// AllOf on two waitpoints: one of two signals arrives, then an
		// operator resumes, or the timeout auto-resumes.
		for _, byOperator := range []bool{true, false} {
			a, b2 := uuid.New(), uuid.New()
			ka, kb := "wpk:"+a.String(), "wpk:"+b2.String()
			args := waitArgs("", func(s *suspension.SuspendArgs) {
				s.Waitpoints = []suspension.WaitpointBinding{suspension.Fresh(a, ka), suspension.Fresh(b2, kb)}
				s.ResumeCondition = suspension.AllOf(suspension.Single(ka, suspension.ByName("x")), suspension.Single(kb, suspension.ByName("y")))
			}, waitTimeout(clock.Now().UnixMilli()+1000, suspension.TimeoutAutoResumeWithTimeoutSignal))
			id, _, o := waitSuspend(t, b, args)
			if r := waitDeliver(t, b, waitSignal(id, o.Details.WaitpointID, o.Details.WaitpointToken, "x")); r.Effect != suspension.EffectAppended {
				t.Fatalf("first of two = %+v", r)
			}
			if byOperator {
				if _, err := b.ResumeExecution(engCtx, backend.ResumeExecutionArgs{ExecutionID: id}); err != nil {
					t.Fatal(err)
				}
			} else {
				clock.Advance(2 * time.Second)
				if rep, err := b.ExpireSuspensions(engCtx, clock.Now().UnixMilli(), 10); err != nil || rep.Processed != 1 {
					t.Fatalf("ExpireSuspensions = %+v, %v", rep, err)
				}
			}
			l := engClaim(t, b)
			if l.ExecutionID != id || !l.Resumed || l.Signals == nil || len(l.Signals) != 0 {
				t.Fatalf("operator %v: resumed claim observes %d signals, want none", byOperator, len(l.Signals))
			}
			if sigs, err := b.ObserveSignals(engCtx, l.Handle); err != nil || sigs == nil || len(sigs) != 0 {
				t.Fatalf("operator %v: ObserveSignals = %d, %v", byOperator, len(sigs), err)
			}
			if err := b.Complete(engCtx, l.Handle, nil); err != nil {
				t.Fatal(err)
			}
		}
		waitCheckInvariants(t, b)
	})
}

// TestSignalEvaluatesRememberedCondition: a suspend leaves its condition
// in the backend's memo, so the signal need not parse it; a backend that
// did not see the suspend (opened again on the file) parses the stored
// text and comes to the same outcome.
func TestSignalEvaluatesRememberedCondition(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ff.db")
	b := testdb.OpenPath(t, path)
	if _, err := b.SeedWaitpointSecret(engCtx, "k1", waitSecret); err != nil {
		t.Fatal(err)
	}
	args := waitArgs("approve")
	text, err := args.ResumeCondition.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	id, _, out := waitSuspend(t, b, args)
	if !backend.ConditionRemembered(b, string(text)) {
		t.Fatalf("suspend did not remember %s", text)
	}
	// The caller's condition may change after Suspend: the memo holds a copy.
	args.ResumeCondition.Matcher.Name = "changed"
	if res := waitDeliver(t, b, waitSignal(id, out.Details.WaitpointID, out.Details.WaitpointToken, "approve")); res.Effect != suspension.EffectResumed {
		t.Fatalf("signal on the remembered condition: effect %s", res.Effect)
	}
	if r := engClaim(t, b); !r.Resumed || b.Complete(engCtx, r.Handle, nil) != nil {
		t.Fatalf("resumed claim = %+v", r)
	}

	args = waitArgs("approve")
	text, _ = args.ResumeCondition.MarshalJSON()
	id, _, out = waitSuspend(t, b, args)
	if err := b.Close(engCtx); err != nil {
		t.Fatal(err)
	}
	fresh := testdb.OpenPath(t, path)
	if backend.ConditionRemembered(fresh, string(text)) {
		t.Fatal("a backend opened afresh remembers a condition")
	}
	if res := waitDeliver(t, fresh, waitSignal(id, out.Details.WaitpointID, out.Details.WaitpointToken, "approve")); res.Effect != suspension.EffectResumed {
		t.Fatalf("signal on a parsed condition: effect %s", res.Effect)
	}
	if !backend.ConditionRemembered(fresh, string(text)) {
		t.Fatal("the parsed condition was not remembered")
	}
}

// TestSignalKeepsForeignWaitpointRecord: a waitpoint or suspension record
// with a member ffsqlite does not write (another writer's) is edited in
// place, so the signal is recorded, the suspension closed and the member
// kept.
func TestSignalKeepsForeignWaitpointRecord(t *testing.T) {
	waitBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		id, _, out := waitSuspend(t, b, waitArgs("approve"))
		wp := uuid.MustParse(out.Details.WaitpointID)
		if _, err := b.WriterDB().ExecContext(engCtx, `UPDATE ff_waitpoint_pending
SET condition = json_set(condition, '$.foreign', 'kept') WHERE waitpoint_id = ?`, wp[:]); err != nil {
			t.Fatal(err)
		}
		if _, err := b.WriterDB().ExecContext(engCtx, `UPDATE ff_suspension_current
SET member_map = json_set(member_map, '$.foreign', 'kept')`); err != nil {
			t.Fatal(err)
		}
		if res := waitDeliver(t, b, waitSignal(id, out.Details.WaitpointID, out.Details.WaitpointToken, "approve")); res.Effect != suspension.EffectResumed {
			t.Fatalf("effect %s", res.Effect)
		}
		var foreign string
		var count, signals int
		if err := b.WriterDB().QueryRowContext(engCtx, `SELECT json_extract(condition, '$.foreign'),
  json_extract(condition, '$.signal_count'), json_array_length(condition, '$.signals')
FROM ff_waitpoint_pending WHERE waitpoint_id = ?`, wp[:]).Scan(&foreign, &count, &signals); err != nil {
			t.Fatal(err)
		}
		if foreign != "kept" || count != 1 || signals != 1 {
			t.Fatalf("record after the signal: foreign %q, signal_count %d, %d signals", foreign, count, signals)
		}
		var state string
		if err := b.WriterDB().QueryRowContext(engCtx, `SELECT json_extract(member_map, '$.foreign'),
  json_extract(member_map, '$.state'), json_array_length(member_map, '$.satisfiers') FROM ff_suspension_current`).
			Scan(&foreign, &state, &signals); err != nil {
			t.Fatal(err)
		}
		if foreign != "kept" || state != "closed" || signals != 1 {
			t.Fatalf("suspension after the signal: foreign %q, state %s, %d satisfiers", foreign, state, signals)
		}
	})
}

// TestInvalidUTF8ConditionIsNotRemembered: a condition naming a signal
// with invalid UTF-8 is stored with U+FFFD in its place, so the memo must
// not hold the caller's bytes: a signal must be judged by what the stored
// text says, the same before and after a restart (memo hit or miss).
func TestInvalidUTF8ConditionIsNotRemembered(t *testing.T) {
	t.Parallel()
	b := testdb.Open(t)
	if _, err := b.SeedWaitpointSecret(engCtx, "k1", waitSecret); err != nil {
		t.Fatal(err)
	}
	args := waitArgs("go\xff")
	text, err := args.ResumeCondition.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	id, _, out := waitSuspend(t, b, args)
	if backend.ConditionRemembered(b, string(text)) {
		t.Fatalf("suspend remembered %s, which does not encode its condition", text)
	}
	// The stored text waits for "go\ufffd": the raw bytes do not match it.
	if res := waitDeliver(t, b, waitSignal(id, out.Details.WaitpointID, out.Details.WaitpointToken, "go\xff")); res.Effect == suspension.EffectResumed {
		t.Fatal(`a signal named "go\xff" resumed a wait whose stored condition names "go\ufffd"`)
	}
	if res := waitDeliver(t, b, waitSignal(id, out.Details.WaitpointID, out.Details.WaitpointToken, "go\ufffd")); res.Effect != suspension.EffectResumed {
		t.Fatalf(`signal "go\ufffd": effect %s, want resumed`, res.Effect)
	}
}

// §2.2 suspend: "Dedup TTL = min(timeout_at − now + 60000, 604800000)";
// canonical PEXPIREs the outcome, so at exactly now+TTL it still replays.
func TestSuspendDedupLivesThroughItsTTL(t *testing.T) {
	t.Parallel()
	b, clock := waitOpen(t, true)
	key := "once"
	at := engT0 + 5_000
	args := waitArgs("approve", waitTimeout(at, suspension.TimeoutEscalate), func(a *suspension.SuspendArgs) { a.IdempotencyKey = &key })
	_, l, out := waitSuspend(t, b, args)
	clock.Set(engT0 + 5_000 + suspension.SuspendDedupGraceMS) // exactly created + TTL
	again, err := b.Suspend(engCtx, l.Handle, args)
	if err != nil || waitJSON(t, again) != waitJSON(t, out) {
		t.Fatalf("at exactly created+TTL: %s, %v; want the replayed outcome", waitJSON(t, again), err)
	}
}
