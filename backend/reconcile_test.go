package backend_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

type engSweepFn func(b *backend.Backend, ctx context.Context, now int64, limit int) (backend.SweepReport, error)

var (
	engPromote  engSweepFn = (*backend.Backend).PromoteDelayed
	engExpire   engSweepFn = (*backend.Backend).ExpireLeases
	engTimeout  engSweepFn = (*backend.Backend).TimeoutAttempts
	engDeadline engSweepFn = (*backend.Backend).ExpireDeadlines
)

// engSweep runs a reconciler and checks its report.
func engSweep(t testing.TB, b *backend.Backend, f engSweepFn, now int64, limit, want int) {
	t.Helper()
	rep, err := f(b, engCtx, now, limit)
	if err != nil || rep.Processed != want || rep.Errors != 0 {
		t.Fatalf("sweep at %d limit %d = %+v, %v; want %d processed", now, limit, rep, err, want)
	}
}

func TestPromoteDelayed(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		var ids []backend.ExecutionID
		for i, lane := range []string{"a", "b", "a", "c", "b"} {
			d := engT0 + 1000
			p := uint16(i * 40)
			ids = append(ids, engCreate(t, b, engLane(lane), func(a *backend.CreateExecutionArgs) {
				a.DelayUntil = &d
				a.ExecutionID = backend.NewExecutionID(p)
			}))
		}
		later := engT0 + 5000
		lateID := engCreate(t, b, func(a *backend.CreateExecutionArgs) { a.DelayUntil = &later })
		engSweep(t, b, engPromote, engT0+999, 100, 0) // not due
		engSweep(t, b, engPromote, engT0+1000, 2, 2)  // boundary due, batch limit
		engSweep(t, b, engPromote, engT0+1000, 0, 0)  // limit 0 does nothing
		engSweep(t, b, engPromote, engT0+1000, 100, 3)
		engSweep(t, b, engPromote, engT0+1000, 100, 0) // idempotent
		for _, id := range ids {
			info := engInfo(t, b, id)
			want := backend.StateVector{"runnable", "unowned", "eligible_now", "waiting_for_worker", "none", "pending_first_attempt", "waiting"}
			if info.StateVector != want || info.BlockingDetail != "" {
				t.Fatalf("promoted %+v", info)
			}
		}
		if s := engState(t, b, lateID); s != "delayed" {
			t.Fatalf("late one is %s", s)
		}
		engCheckInvariants(t, b)
	})
}

func TestPromoteKeepsRetryAttemptState(t *testing.T) {
	t.Parallel()
	b, clock := engOpen(t, true)
	id := engCreate(t, b, engPolicy(`{"retry_policy":{"max_retries":1,"backoff":{"type":"fixed","delay_ms":100}}}`))
	l := engClaim(t, b)
	b.Fail(engCtx, l.Handle, backend.FailArgs{Class: backend.FailTransient})
	engSweep(t, b, engPromote, clock.MS()+100, 10, 1)
	info := engInfo(t, b, id)
	if info.PublicState != "waiting" || info.StateVector.AttemptState != "pending_retry_attempt" {
		t.Fatalf("%+v", info.StateVector)
	}
	clock.Advance(100 * time.Millisecond)
	if l := engClaim(t, b); l.AttemptType != "retry" {
		t.Fatalf("lease %+v", l)
	}
}

func TestExpireLeases(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		var leases []*backend.Lease
		for i := range 4 {
			p := uint16(i * 1000)
			engCreate(t, b, func(a *backend.CreateExecutionArgs) { a.ExecutionID = backend.NewExecutionID(p) })
			leases = append(leases, engClaim(t, b))
		}
		exp := leases[0].ExpiresAtMS
		// Renew one so it is not due.
		clock.Advance(time.Second)
		if _, err := b.Renew(engCtx, leases[3].Handle, 0); err != nil {
			t.Fatal(err)
		}
		engSweep(t, b, engExpire, exp-1, 100, 0)
		engSweep(t, b, engExpire, exp, 2, 2)
		engSweep(t, b, engExpire, exp, 100, 1)
		engSweep(t, b, engExpire, exp, 100, 0)
		for _, l := range leases[:3] {
			info := engInfo(t, b, l.ExecutionID)
			want := backend.StateVector{"runnable", "unowned", "eligible_now", "waiting_for_worker", "none", "attempt_interrupted", "waiting"}
			if info.StateVector != want {
				t.Fatalf("after expiry %+v", info.StateVector)
			}
			att, _ := b.ListAttempts(engCtx, l.ExecutionID)
			if att[0].Outcome != "interrupted" || att[0].LeaseExpiresAtMS != nil {
				t.Fatalf("attempt %+v", att[0])
			}
			if ev := engJoin(engEvents(t, b, backend.OutboxLease, l.ExecutionID)); ev != "acquired,expired" {
				t.Fatalf("events %s", ev)
			}
		}
		if s := engState(t, b, leases[3].ExecutionID); s != "active" {
			t.Fatalf("renewed lease expired: %s", s)
		}
		engCheckInvariants(t, b)
	})
}

func TestExpireLeasesReclaimCap(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{`{"max_reclaim_count":2}`, `{"timeout_policy":{"max_reclaim_count":2},"max_reclaim_count":50}`} {
		b, clock := engOpen(t, true)
		id := engCreate(t, b, engPolicy(policy))
		for i := range 3 {
			l := engClaim(t, b)
			clock.Set(l.ExpiresAtMS)
			engSweep(t, b, engExpire, clock.MS(), 10, 1)
			if want := []string{"waiting", "waiting", "failed"}[i]; engState(t, b, id) != want {
				t.Fatalf("%s: after expiry %d state %s want %s", policy, i, engState(t, b, id), want)
			}
		}
		if ev := engJoin(engEvents(t, b, backend.OutboxCompletion, id)); ev != "failed" {
			t.Fatalf("completion events %s", ev)
		}
		if l, _ := b.Claim(engCtx, engClaimArgs()); l != nil {
			t.Fatal("claimed a failed execution")
		}
		engCheckInvariants(t, b)
	}
}

func TestTimeoutAttempts(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		retrying := engCreate(t, b, engPolicy(`{"timeout_policy":{"attempt_timeout_ms":5000},"retry_policy":{"max_retries":1,"backoff":{"type":"fixed","delay_ms":10}}}`))
		l1 := engClaim(t, b)
		terminal := engCreate(t, b, engPolicy(`{"timeout_policy":{"attempt_timeout_ms":5000}}`))
		engClaim(t, b)
		untimed := engCreate(t, b)
		engClaim(t, b, func(a *backend.ClaimArgs) { a.LeaseTTLMS = 100_000 })
		start := clock.MS()
		engSweep(t, b, engTimeout, start+4999, 10, 0)
		engSweep(t, b, engTimeout, start+5000, 1, 1)
		engSweep(t, b, engTimeout, start+5000, 10, 1)
		engSweep(t, b, engTimeout, start+5000, 10, 0)
		engSweep(t, b, engTimeout, start+50_000, 10, 0) // no timeout policy: never
		if s := engState(t, b, retrying); s != "delayed" {
			t.Fatalf("retrying is %s", s)
		}
		if s := engState(t, b, terminal); s != "failed" {
			t.Fatalf("terminal is %s", s)
		}
		if s := engState(t, b, untimed); s != "active" {
			t.Fatalf("untimed is %s", s)
		}
		att, _ := b.ListAttempts(engCtx, retrying)
		if att[0].FailureClass != "timeout" || att[0].Outcome != "failed" {
			t.Fatalf("attempt %+v", att[0])
		}
		engWantCode(t, b.Complete(engCtx, l1.Handle, nil), backend.KindContention, backend.CodeStaleLease)
		// The retry's own attempt times out again after it starts; retries are
		// used up, so it fails.
		clock.Set(start + 5010)
		l2 := engClaim(t, b)
		if l2.ExecutionID != retrying {
			t.Fatalf("claimed %s", l2.ExecutionID)
		}
		engSweep(t, b, engTimeout, start+10_009, 10, 0)
		engSweep(t, b, engTimeout, start+10_010, 10, 1)
		if s := engState(t, b, retrying); s != "failed" {
			t.Fatalf("retrying is %s", s)
		}
		engCheckInvariants(t, b)
	})
}

func TestExpireDeadlines(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		dl := engT0 + 1000
		withDeadline := func(a *backend.CreateExecutionArgs) { a.ExecutionDeadlineAt = &dl }
		waiting := engCreate(t, b, withDeadline)
		delay := engT0 + 50_000
		delayed := engCreate(t, b, withDeadline, func(a *backend.CreateExecutionArgs) { a.DelayUntil = &delay })
		active := engCreate(t, b, withDeadline, engLane("x"))
		l := engClaim(t, b, func(a *backend.ClaimArgs) { a.LaneID = "x" })
		done := engCreate(t, b, withDeadline, engLane("y"))
		ld := engClaim(t, b, func(a *backend.ClaimArgs) { a.LaneID = "y" })
		b.Complete(engCtx, ld.Handle, nil)
		later := engCreate(t, b, engPolicy(`{"timeout_policy":{"execution_deadline_ms":2000}}`))

		engSweep(t, b, engDeadline, dl-1, 10, 0)
		engSweep(t, b, engDeadline, dl, 2, 2)
		engSweep(t, b, engDeadline, dl, 10, 1)
		engSweep(t, b, engDeadline, dl, 10, 0)
		for _, id := range []backend.ExecutionID{waiting, delayed, active} {
			info := engInfo(t, b, id)
			if info.PublicState != "expired" || info.StateVector.TerminalOutcome != "expired" || info.CompletedAt != fmt.Sprint(dl) {
				t.Fatalf("%s: %+v", id, info)
			}
			if ev := engJoin(engEvents(t, b, backend.OutboxCompletion, id)); ev != "expired" {
				t.Fatalf("completion events %s", ev)
			}
		}
		if ev := engJoin(engEvents(t, b, backend.OutboxLease, active)); ev != "acquired,released" {
			t.Fatalf("lease events %s", ev)
		}
		att, _ := b.ListAttempts(engCtx, active)
		if att[0].Outcome != "expired" || att[0].LeaseEpoch != l.LeaseEpoch+1 {
			t.Fatalf("attempt %+v", att[0])
		}
		if s := engState(t, b, done); s != "completed" {
			t.Fatalf("completed one is %s", s)
		}
		engSweep(t, b, engDeadline, engT0+2000, 10, 1)
		if s := engState(t, b, later); s != "expired" {
			t.Fatalf("policy deadline: %s", s)
		}
		_ = clock
		engCheckInvariants(t, b)
	})
}

// TestAttemptTimeoutsSurviveUnreadablePolicy: one execution whose policy
// another writer stored nested past SQLite's JSON depth must not stop the
// attempt-timeout pass for the others (the query reads the timeout only
// from a policy SQLite can parse).
func TestAttemptTimeoutsSurviveUnreadablePolicy(t *testing.T) {
	t.Parallel()
	b, clock := engOpen(t, true)
	timed := engCreate(t, b, engPolicy(`{"timeout_policy":{"attempt_timeout_ms":1000}}`))
	engClaim(t, b)
	odd := engCreate(t, b)
	engClaim(t, b)
	deep := `{"x":` + strings.Repeat("[", 1001) + strings.Repeat("]", 1001) + `}`
	if _, err := readySecond(t, b).ExecContext(engCtx, `UPDATE ff_exec_core SET policy = ?1 WHERE execution_id = ?2`,
		deep, odd.UUID[:]); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	rep, err := b.TimeoutAttempts(engCtx, clock.MS(), 100)
	if err != nil || rep.Errors != 0 || rep.Processed != 1 {
		t.Fatalf("attempt-timeout pass: %+v, %v; want the one timed-out attempt processed", rep, err)
	}
	if got := engState(t, b, timed); got == backend.StateActive {
		t.Fatal("the execution past its attempt timeout is still active")
	}
	if got := engState(t, b, odd); got != backend.StateActive {
		t.Fatalf("the execution with the unreadable policy is %s, want active (no timeout read)", got)
	}
}
