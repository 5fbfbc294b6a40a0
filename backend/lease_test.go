package backend_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// engSnapshot renders everything a fenced call could change.
func engSnapshot(t testing.TB, b *backend.Backend) string {
	t.Helper()
	var s string
	err := b.ReaderDB().QueryRowContext(engCtx, `SELECT
  COALESCE((SELECT group_concat(x, '|') FROM (SELECT hex(execution_id) || lifecycle_phase || ownership_state ||
     eligibility_state || public_state || attempt_state || attempt_index || COALESCE(result, '-') ||
     COALESCE(terminal_at_ms, '-') || raw_fields || lease_reclaim_count AS x FROM ff_exec_core ORDER BY rowid)), '') || '#' ||
  COALESCE((SELECT group_concat(y, '|') FROM (SELECT hex(execution_id) || attempt_index || lease_epoch ||
     COALESCE(lease_expires_at_ms, '-') || COALESCE(outcome, '-') || raw_fields AS y FROM ff_attempt ORDER BY rowid)), '') || '#' ||
  (SELECT count(*) FROM ff_lease_event) || (SELECT count(*) FROM ff_completion_event) ||
  (SELECT count(*) FROM ff_operator_event)`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// engRehandle re-encodes a lease's handle with a change.
func engRehandle(l *backend.Lease, mod func(*backend.HandlePayload)) backend.Handle {
	p, err := backend.DecodeHandle(l.Handle)
	if err != nil {
		panic(err)
	}
	mod(&p)
	return backend.EncodeHandle(l.Handle.Kind, p)
}

func TestRenew(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		id := engCreate(t, b)
		l := engClaim(t, b)
		clock.Advance(9999 * time.Millisecond) // one ms before expiry
		r, err := b.Renew(engCtx, l.Handle, 0)
		if err != nil || r.ExpiresAtMS != clock.MS()+10_000 || r.LeaseEpoch != l.LeaseEpoch {
			t.Fatalf("Renew = %+v, %v", r, err)
		}
		r, err = b.Renew(engCtx, l.Handle, 500)
		if err != nil || r.ExpiresAtMS != clock.MS()+500 {
			t.Fatalf("Renew(500) = %+v, %v", r, err)
		}
		if ev := engJoin(engEvents(t, b, backend.OutboxLease, id)); ev != "acquired,renewed,renewed" {
			t.Fatalf("events = %s", ev)
		}
		clock.Advance(500 * time.Millisecond) // expires <= now
		_, err = b.Renew(engCtx, l.Handle, 0)
		engWantCode(t, err, backend.KindContention, backend.CodeLeaseExpired)
	})
}

// TestFencing: every stale-handle case fails every worker call with the
// right contention code and changes nothing.
func TestFencing(t *testing.T) {
	t.Parallel()
	type setup func(t *testing.T, b *backend.Backend, clock *testdb.Clock, l *backend.Lease) backend.Handle
	cases := []struct {
		name  string
		setup setup
		kind  backend.Kind
		code  string
	}{
		{"wrong epoch", func(_ *testing.T, _ *backend.Backend, _ *testdb.Clock, l *backend.Lease) backend.Handle {
			return engRehandle(l, func(p *backend.HandlePayload) { p.LeaseEpoch++ })
		}, backend.KindContention, backend.CodeStaleLease},
		{"older epoch", func(_ *testing.T, _ *backend.Backend, _ *testdb.Clock, l *backend.Lease) backend.Handle {
			return engRehandle(l, func(p *backend.HandlePayload) { p.LeaseEpoch-- })
		}, backend.KindContention, backend.CodeStaleLease},
		{"wrong lease id", func(_ *testing.T, _ *backend.Backend, _ *testdb.Clock, l *backend.Lease) backend.Handle {
			return engRehandle(l, func(p *backend.HandlePayload) { p.LeaseID = "00000000-0000-4000-8000-000000000000" })
		}, backend.KindContention, backend.CodeStaleLease},
		{"wrong attempt", func(_ *testing.T, _ *backend.Backend, _ *testdb.Clock, l *backend.Lease) backend.Handle {
			return engRehandle(l, func(p *backend.HandlePayload) { p.AttemptIndex = 5 })
		}, backend.KindContention, backend.CodeStaleLease},
		{"expired at boundary", func(_ *testing.T, _ *backend.Backend, c *testdb.Clock, l *backend.Lease) backend.Handle {
			c.Set(l.ExpiresAtMS)
			return l.Handle
		}, backend.KindContention, backend.CodeLeaseExpired},
		{"expired and swept", func(t *testing.T, b *backend.Backend, c *testdb.Clock, l *backend.Lease) backend.Handle {
			c.Set(l.ExpiresAtMS)
			if _, err := b.ExpireLeases(engCtx, c.MS(), 10); err != nil {
				t.Fatal(err)
			}
			return l.Handle
		}, backend.KindContention, backend.CodeStaleLease},
		{"reclaimed by another", func(t *testing.T, b *backend.Backend, c *testdb.Clock, l *backend.Lease) backend.Handle {
			c.Set(l.ExpiresAtMS)
			if _, err := b.ExpireLeases(engCtx, c.MS(), 10); err != nil {
				t.Fatal(err)
			}
			engClaim(t, b)
			return l.Handle
		}, backend.KindContention, backend.CodeStaleLease},
		{"revoked", func(t *testing.T, b *backend.Backend, _ *testdb.Clock, l *backend.Lease) backend.Handle {
			if r, err := b.RevokeLease(engCtx, backend.RevokeLeaseArgs{ExecutionID: l.ExecutionID}); err != nil || !r.Revoked {
				t.Fatalf("revoke = %+v, %v", r, err)
			}
			return l.Handle
		}, backend.KindContention, backend.CodeLeaseRevoked},
		{"completed", func(t *testing.T, b *backend.Backend, _ *testdb.Clock, l *backend.Lease) backend.Handle {
			if err := b.Complete(engCtx, l.Handle, nil); err != nil {
				t.Fatal(err)
			}
			return l.Handle
		}, backend.KindContention, backend.CodeStaleLease},
		{"failed terminal", func(t *testing.T, b *backend.Backend, _ *testdb.Clock, l *backend.Lease) backend.Handle {
			if _, err := b.Fail(engCtx, l.Handle, backend.FailArgs{Class: backend.FailPermanent}); err != nil {
				t.Fatal(err)
			}
			return l.Handle
		}, backend.KindContention, backend.CodeStaleLease},
		{"cancelled", func(t *testing.T, b *backend.Backend, _ *testdb.Clock, l *backend.Lease) backend.Handle {
			if _, err := b.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: l.ExecutionID, Reason: "x"}); err != nil {
				t.Fatal(err)
			}
			return l.Handle
		}, backend.KindContention, backend.CodeStaleLease},
		{"deadline expired", func(t *testing.T, b *backend.Backend, c *testdb.Clock, l *backend.Lease) backend.Handle {
			engExec(t, b, `UPDATE ff_exec_core SET deadline_at_ms = ?`, c.MS())
			if _, err := b.ExpireDeadlines(engCtx, c.MS(), 10); err != nil {
				t.Fatal(err)
			}
			return l.Handle
		}, backend.KindContention, backend.CodeStaleLease},
		{"unknown execution", func(_ *testing.T, _ *backend.Backend, _ *testdb.Clock, l *backend.Lease) backend.Handle {
			return engRehandle(l, func(p *backend.HandlePayload) { p.ExecutionID = backend.NewExecutionID(1) })
		}, backend.KindNotFound, "execution"},
		{"foreign handle", func(_ *testing.T, _ *backend.Backend, _ *testdb.Clock, l *backend.Lease) backend.Handle {
			h := l.Handle
			h.Backend = backend.BackendPostgres
			return h
		}, backend.KindValidation, "handle_from_other_backend"},
	}
	calls := []struct {
		name string
		call func(b *backend.Backend, h backend.Handle) error
	}{
		{"renew", func(b *backend.Backend, h backend.Handle) error { _, err := b.Renew(engCtx, h, 0); return err }},
		{"complete", func(b *backend.Backend, h backend.Handle) error { return b.Complete(engCtx, h, []byte("r")) }},
		{"fail", func(b *backend.Backend, h backend.Handle) error {
			_, err := b.Fail(engCtx, h, backend.FailArgs{Class: backend.FailTransient})
			return err
		}},
	}
	for _, c := range cases {
		for _, call := range calls {
			t.Run(c.name+"/"+call.name, func(t *testing.T) {
				t.Parallel()
				b, clock := engOpen(t, true)
				engCreate(t, b, engPolicy(`{"retry_policy":{"max_retries":3}}`))
				l := engClaim(t, b)
				h := c.setup(t, b, clock, l)
				before := engSnapshot(t, b)
				err := call.call(b, h)
				engWantCode(t, err, c.kind, c.code)
				if after := engSnapshot(t, b); after != before {
					t.Fatalf("state changed:\n%s\n%s", before, after)
				}
				engCheckInvariants(t, b)
			})
		}
	}
}

func TestComplete(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		id := engCreate(t, b)
		l := engClaim(t, b)
		clock.Advance(time.Second)
		if err := b.Complete(engCtx, l.Handle, []byte("result")); err != nil {
			t.Fatal(err)
		}
		info := engInfo(t, b, id)
		want := backend.StateVector{"terminal", "unowned", "not_applicable", "none", "success", "attempt_terminal", "completed"}
		if info.StateVector != want || info.CompletedAt != fmt.Sprint(clock.MS()) {
			t.Fatalf("info = %+v", info)
		}
		if res, err := b.GetResult(engCtx, id); err != nil || string(res) != "result" {
			t.Fatalf("GetResult = %q, %v", res, err)
		}
		att, _ := b.ListAttempts(engCtx, id)
		if att[0].Outcome != "success" || att[0].LeaseExpiresAtMS != nil || *att[0].EndedAtMS != clock.MS() {
			t.Fatalf("attempt = %+v", att[0])
		}
		if ev := engJoin(engEvents(t, b, backend.OutboxCompletion, id)); ev != "success" {
			t.Fatalf("completion events = %s", ev)
		}
		if ev := engJoin(engEvents(t, b, backend.OutboxLease, id)); ev != "acquired,released" {
			t.Fatalf("lease events = %s", ev)
		}
		// No result: GetResult is NotFound.
		id2 := engCreate(t, b)
		l2 := engClaim(t, b)
		if err := b.Complete(engCtx, l2.Handle, nil); err != nil {
			t.Fatal(err)
		}
		_, err := b.GetResult(engCtx, id2)
		engWantCode(t, err, backend.KindNotFound, "")
		if err.Error() != "execution result not found: "+id2.String() {
			t.Fatalf("message %q", err)
		}
		engCheckInvariants(t, b)
	})
}

// CompleteAndClaim completes a lease and claims the next execution in one
// write transaction; bad claim fields and a refused complete change
// nothing, and a failure inside the transaction undoes the complete too.
func TestCompleteAndClaim(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		first := engCreate(t, b)
		clock.Advance(time.Millisecond)
		second := engCreate(t, b)
		l := engClaim(t, b)
		before := b.GroupCommitStats().Batches
		next, err := b.CompleteAndClaim(engCtx, l.Handle, []byte("r1"), engClaimArgs())
		if err != nil || next == nil || next.ExecutionID != second {
			t.Fatalf("CompleteAndClaim = %+v, %v; want a lease of %s", next, err, second)
		}
		if n := b.GroupCommitStats().Batches - before; n != 1 {
			t.Fatalf("CompleteAndClaim ran %d write transactions, want 1", n)
		}
		if s := engState(t, b, first); s != "completed" {
			t.Fatalf("first: %s, want completed", s)
		}
		if s := engState(t, b, second); s != "active" {
			t.Fatalf("second: %s, want active", s)
		}
		if ev := engJoin(engEvents(t, b, backend.OutboxLease, first)); ev != "acquired,released" {
			t.Fatalf("first's lease events = %s", ev)
		}
		// The old handle is spent: a refused complete claims nothing.
		third := engCreate(t, b)
		snap := engSnapshot(t, b)
		_, err = b.CompleteAndClaim(engCtx, l.Handle, nil, engClaimArgs())
		engWantCode(t, err, backend.KindContention, "")
		if after := engSnapshot(t, b); after != snap {
			t.Fatalf("a refused complete changed state:\n%s\n%s", snap, after)
		}
		// Bad claim fields are refused before the complete.
		_, err = b.CompleteAndClaim(engCtx, next.Handle, nil, engClaimArgs(func(c *backend.ClaimArgs) { c.LaneID = "" }))
		engWantCode(t, err, backend.KindValidation, "invalid_input")
		if after := engSnapshot(t, b); after != snap {
			t.Fatalf("bad claim fields changed state:\n%s\n%s", snap, after)
		}
		// A claim failing inside the transaction undoes the complete.
		db := b.WriterDB()
		if _, err := db.ExecContext(engCtx, `CREATE TRIGGER zz_refuse_acquire BEFORE INSERT ON ff_lease_event
WHEN NEW.event_type = 'acquired' BEGIN SELECT RAISE(ABORT, 'refused by test'); END`); err != nil {
			t.Fatal(err)
		}
		if _, err := b.CompleteAndClaim(engCtx, next.Handle, nil, engClaimArgs()); err == nil {
			t.Fatal("CompleteAndClaim with a failing claim: no error")
		}
		if _, err := db.ExecContext(engCtx, `DROP TRIGGER zz_refuse_acquire`); err != nil {
			t.Fatal(err)
		}
		if after := engSnapshot(t, b); after != snap {
			t.Fatalf("a failed claim left the complete applied:\n%s\n%s", snap, after)
		}
		// Nothing claimable: nil, the complete stands.
		last, err := b.CompleteAndClaim(engCtx, next.Handle, nil, engClaimArgs(func(c *backend.ClaimArgs) { c.LaneID = "empty-lane" }))
		if err != nil || last != nil {
			t.Fatalf("CompleteAndClaim on an empty lane = %+v, %v", last, err)
		}
		if s := engState(t, b, second); s != "completed" {
			t.Fatalf("second: %s, want completed", s)
		}
		if s := engState(t, b, third); s != "waiting" {
			t.Fatalf("third: %s, want waiting", s)
		}
		engCheckInvariants(t, b)
	})
}
