package backend_test

import (
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/suspension"
)

// Each timeout behaviour, with the injected clock: nothing happens before
// timeout_at, then the behaviour of §2.2 applies exactly once.
func TestSuspensionTimeoutBehaviours(t *testing.T) {
	t.Parallel()
	cases := []struct {
		behavior    suspension.TimeoutBehavior
		state       string
		attempt     string // outcome of the attempt ("" = still open)
		suspension  string
		completions string
		reason      string // blocking_reason afterwards
	}{
		{suspension.TimeoutFail, backend.StateFailed, "failed", "closed/timed_out_fail", "failed", "none"},
		{suspension.TimeoutCancel, backend.StateCancelled, "cancelled", "closed/timed_out_cancel", "cancelled", "none"},
		{suspension.TimeoutExpire, backend.StateExpired, "failed", "closed/timed_out_expire", "expired", "none"},
		{suspension.TimeoutAutoResumeWithTimeoutSignal, backend.StateWaiting, "", "closed/timed_out_auto_resume", "", "waiting_for_worker"},
		{suspension.TimeoutEscalate, backend.StateSuspended, "", "open/", "", "paused_by_operator"},
	}
	for _, c := range cases {
		t.Run(string(c.behavior), func(t *testing.T) {
			t.Parallel()
			b, clock := waitOpen(t, true)
			timeout := engT0 + 10_000
			id, _, out := waitSuspend(t, b, waitArgs("approve", waitTimeout(timeout, c.behavior)))
			if p, _ := b.ListPendingWaitpoints(engCtx, id, nil, 0); len(p.Waitpoints) != 1 || p.Waitpoints[0].ExpiresAt == nil || *p.Waitpoints[0].ExpiresAt != timeout {
				t.Fatalf("waitpoint expiry = %+v", p)
			}
			clock.Set(timeout - 1)
			if rep, err := b.ExpireSuspensions(engCtx, clock.MS(), 10); err != nil || rep.Processed != 0 {
				t.Fatalf("before the timeout = %+v, %v", rep, err)
			}
			clock.Set(timeout)
			if rep, err := b.ExpireSuspensions(engCtx, clock.MS(), 10); err != nil || rep.Processed != 1 {
				t.Fatalf("at the timeout = %+v, %v", rep, err)
			}
			if rep, err := b.ExpireSuspensions(engCtx, clock.MS()+60_000, 10); err != nil || rep.Processed != 0 {
				t.Fatalf("a second pass = %+v, %v", rep, err)
			}
			sv := waitVector(t, b, id)
			if sv.PublicState != c.state || sv.BlockingReason != c.reason {
				t.Fatalf("state = %+v", sv)
			}
			if got := waitSuspensionState(t, b, id); got != c.suspension {
				t.Fatalf("suspension = %s, want %s", got, c.suspension)
			}
			atts, _ := b.ListAttempts(engCtx, id)
			if len(atts) != 1 || atts[0].Outcome != c.attempt {
				t.Fatalf("attempt = %+v", atts)
			}
			if got := engJoin(engEvents(t, b, backend.OutboxCompletion, id)); got != c.completions {
				t.Fatalf("completion events = %s, want %s", got, c.completions)
			}
			wp := waitWaitpointState(t, b, out.Details.WaitpointID)
			switch c.behavior {
			case suspension.TimeoutEscalate:
				if wp != "active/" {
					t.Fatalf("waitpoint = %s", wp)
				}
				info := engInfo(t, b, id)
				if info.BlockingDetail != "suspension escalated: timeout at "+itoa(timeout) {
					t.Fatalf("detail = %q", info.BlockingDetail)
				}
				got := waitScalar(t, b, `SELECT reason_code || ',' || COALESCE(timeout_at_ms, 'null') || ',' || COALESCE(timeout_behavior, 'null')
FROM ff_suspension_current WHERE execution_id = ?`, id.UUID[:])
				if got.String != "waiting_for_operator_review,null,null" {
					t.Fatalf("escalated suspension = %s", got.String)
				}
				// Still signalable, and the operator can resume it.
				if r := waitDeliver(t, b, waitSignal(id, out.Details.WaitpointID, out.Details.WaitpointToken, "approve")); r.Effect != suspension.EffectResumed {
					t.Fatalf("signal after escalation = %+v", r)
				}
			case suspension.TimeoutAutoResumeWithTimeoutSignal:
				if wp != "closed/timed_out_auto_resume" {
					t.Fatalf("waitpoint = %s", wp)
				}
				r := engClaim(t, b)
				if !r.Resumed || len(r.Signals) != 0 {
					t.Fatalf("resumed after auto resume = %+v", r)
				}
			default:
				if wp != "closed/timed_out_"+c.behavior.Wire() {
					t.Fatalf("waitpoint = %s", wp)
				}
				reason := waitScalar(t, b, `SELECT json_extract(raw_fields, '$.failure_reason') FROM ff_exec_core WHERE execution_id = ?`, id.UUID[:])
				if reason.String != "suspension_timeout:"+c.behavior.Wire() {
					t.Fatalf("failure_reason = %s", reason.String)
				}
			}
			waitCheckInvariants(t, b)
		})
	}
}

// A suspension resumed before its timeout no longer times out.
func TestResumedSuspensionDoesNotTimeOut(t *testing.T) {
	t.Parallel()
	b, clock := waitOpen(t, false)
	id, _, out := waitSuspend(t, b, waitArgs("go", waitTimeout(engT0+1000, suspension.TimeoutFail)))
	waitDeliver(t, b, waitSignal(id, out.Details.WaitpointID, out.Details.WaitpointToken, "go"))
	clock.Advance(time.Hour)
	if rep, err := b.ExpireSuspensions(engCtx, clock.MS(), 10); err != nil || rep.Processed != 0 {
		t.Fatalf("ExpireSuspensions = %+v, %v", rep, err)
	}
	if engState(t, b, id) != backend.StateWaiting {
		t.Fatal("state changed")
	}
}

// The attempt timeout counts from the resume: time spent suspended is not
// running time.
func TestAttemptTimeoutAfterResume(t *testing.T) {
	t.Parallel()
	b, clock := waitOpen(t, true)
	id := engCreate(t, b, engPolicy(`{"timeout_policy":{"attempt_timeout_ms":5000}}`))
	l := engClaim(t, b)
	out, err := b.Suspend(engCtx, l.Handle, waitArgs("go"))
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	waitDeliver(t, b, waitSignal(id, out.Details.WaitpointID, out.Details.WaitpointToken, "go"))
	r := engClaim(t, b, func(c *backend.ClaimArgs) { c.LeaseTTLMS = 60_000 })
	clock.Advance(4 * time.Second)
	if rep, err := b.TimeoutAttempts(engCtx, clock.MS(), 10); err != nil || rep.Processed != 0 {
		t.Fatalf("timed out counting suspended time: %+v, %v", rep, err)
	}
	clock.Advance(time.Second)
	if rep, err := b.TimeoutAttempts(engCtx, clock.MS(), 10); err != nil || rep.Processed != 1 {
		t.Fatalf("TimeoutAttempts = %+v, %v", rep, err)
	}
	_ = r
	if engState(t, b, id) != backend.StateFailed {
		t.Fatalf("state = %s", engState(t, b, id))
	}
}
