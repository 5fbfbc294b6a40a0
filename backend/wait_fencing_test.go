package backend_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
)

// Every worker call of durable waits is fenced by the handle: a stale
// handle (superseded, suspended, delayed, expired, revoked, ended) gets a
// contention error and changes nothing.
func TestWaitCallsAreFenced(t *testing.T) {
	t.Parallel()
	b, clock := waitOpen(t, true)
	type staleCase struct {
		name string
		code string
		h    func(t *testing.T) backend.Handle
	}
	stale := []staleCase{
		{"suspended", backend.CodeStaleLease, func(t *testing.T) backend.Handle {
			_, l, _ := waitSuspend(t, b, waitArgs("x"))
			return l.Handle
		}},
		{"suspended handle", backend.CodeStaleLease, func(t *testing.T) backend.Handle {
			_, _, out := waitSuspend(t, b, waitArgs("x"))
			return out.Handle
		}},
		{"delayed", backend.CodeStaleLease, func(t *testing.T) backend.Handle {
			engCreate(t, b)
			l := engClaim(t, b)
			if _, err := b.Delay(engCtx, l.Handle, clock.MS()+time.Hour.Milliseconds()); err != nil {
				t.Fatal(err)
			}
			return l.Handle
		}},
		{"superseded by a resumed claim", backend.CodeStaleLease, func(t *testing.T) backend.Handle {
			id, l, out := waitSuspend(t, b, waitArgs("x"))
			waitDeliver(t, b, waitSignal(id, out.Details.WaitpointID, out.Details.WaitpointToken, "x"))
			engClaim(t, b)
			return l.Handle
		}},
		{"completed", backend.CodeStaleLease, func(t *testing.T) backend.Handle {
			engCreate(t, b)
			l := engClaim(t, b)
			if err := b.Complete(engCtx, l.Handle, nil); err != nil {
				t.Fatal(err)
			}
			return l.Handle
		}},
		{"revoked", backend.CodeLeaseRevoked, func(t *testing.T) backend.Handle {
			id := engCreate(t, b)
			l := engClaim(t, b)
			if _, err := b.RevokeLease(engCtx, backend.RevokeLeaseArgs{ExecutionID: id}); err != nil {
				t.Fatal(err)
			}
			return l.Handle
		}},
		{"expired", backend.CodeLeaseExpired, func(t *testing.T) backend.Handle {
			engCreate(t, b)
			l := engClaim(t, b, func(c *backend.ClaimArgs) { c.LeaseTTLMS = 1 })
			clock.Advance(2 * time.Millisecond)
			return l.Handle
		}},
	}
	calls := map[string]func(h backend.Handle) error{
		"Suspend": func(h backend.Handle) error {
			_, err := b.Suspend(engCtx, h, waitArgs("x"))
			return err
		},
		"CreateWaitpoint": func(h backend.Handle) error {
			_, err := b.CreateWaitpoint(engCtx, h, backend.CreateWaitpointArgs{WaitpointKey: "k", ExpiresInMS: 1000})
			return err
		},
		"CloseWaitpoint": func(h backend.Handle) error {
			_, err := b.CloseWaitpoint(engCtx, h, uuid.New(), "")
			return err
		},
		"ObserveSignals": func(h backend.Handle) error {
			_, err := b.ObserveSignals(engCtx, h)
			return err
		},
		"Delay": func(h backend.Handle) error {
			_, err := b.Delay(engCtx, h, clock.MS()+1000)
			return err
		},
		"CancelByHolder": func(h backend.Handle) error {
			_, err := b.CancelByHolder(engCtx, h, "stop")
			return err
		},
	}
	for _, sc := range stale {
		// Drain anything runnable so the next case's claim gets its own
		// execution.
		for {
			l, err := b.Claim(engCtx, engClaimArgs())
			if err != nil {
				t.Fatal(err)
			}
			if l == nil {
				break
			}
			if err := b.Complete(engCtx, l.Handle, nil); err != nil {
				t.Fatal(err)
			}
		}
		h := sc.h(t)
		for name, call := range calls {
			before := waitSnapshot(t, b)
			err := call(h)
			var e *backend.Error
			if !asErr(err, &e) || e.Kind != backend.KindContention || e.Code != sc.code {
				t.Fatalf("%s with a %s handle = %v, want contention %s", name, sc.name, err, sc.code)
			}
			if waitSnapshot(t, b) != before {
				t.Fatalf("%s with a %s handle changed the database", name, sc.name)
			}
		}
	}
	waitCheckInvariants(t, b)
}

// CancelByHolder cancels the caller's own execution.
func TestCancelByHolder(t *testing.T) {
	t.Parallel()
	b, _ := waitOpen(t, true)
	id := engCreate(t, b)
	l := engClaim(t, b)
	res, err := b.CancelByHolder(engCtx, l.Handle, "user aborted")
	if err != nil || waitJSON(t, res) != `{"Cancelled":{"execution_id":"`+id.String()+`","public_state":"cancelled"}}` {
		t.Fatalf("CancelByHolder = %s, %v", waitJSON(t, res), err)
	}
	got := waitScalar(t, b, `SELECT cancellation_reason || ',' || cancelled_by FROM ff_exec_core WHERE execution_id = ?`, id.UUID[:])
	if got.String != "user aborted,lease_holder" {
		t.Fatalf("cancel fields = %s", got.String)
	}
	if ev := engJoin(engEvents(t, b, backend.OutboxLease, id)); ev != "acquired,released" {
		t.Fatalf("lease events = %s", ev)
	}
	if ev := engJoin(engEvents(t, b, backend.OutboxCompletion, id)); ev != "cancelled" {
		t.Fatalf("completion events = %s", ev)
	}
	atts, _ := b.ListAttempts(engCtx, id)
	if len(atts) != 1 || atts[0].Outcome != "cancelled" {
		t.Fatalf("attempts = %+v", atts)
	}
	waitCheckInvariants(t, b)
}

// Delay validates its time; a past time makes the execution claimable.
func TestDelayInThePast(t *testing.T) {
	t.Parallel()
	b, clock := waitOpen(t, true)
	engCreate(t, b)
	l := engClaim(t, b)
	_, err := b.Delay(engCtx, l.Handle, 0)
	engWantCode(t, err, backend.KindValidation, "invalid_input")
	if _, err := b.Delay(engCtx, l.Handle, clock.MS()-1); err != nil {
		t.Fatal(err)
	}
	if r := engClaim(t, b); !r.Resumed || r.AttemptIndex != l.AttemptIndex {
		t.Fatalf("claim = %+v", r)
	}
}
