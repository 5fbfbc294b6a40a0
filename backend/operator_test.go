package backend_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

func engU64(v uint64) *uint64  { return &v }
func engStrp(s string) *string { return &s }

func TestCancelExecution(t *testing.T) {
	t.Parallel()
	type prep func(t *testing.T, b *backend.Backend, c *testdb.Clock) (backend.ExecutionID, *backend.Lease)
	waiting := func(t *testing.T, b *backend.Backend, _ *testdb.Clock) (backend.ExecutionID, *backend.Lease) {
		return engCreate(t, b), nil
	}
	delayed := func(t *testing.T, b *backend.Backend, _ *testdb.Clock) (backend.ExecutionID, *backend.Lease) {
		d := engT0 + 1000
		return engCreate(t, b, func(a *backend.CreateExecutionArgs) { a.DelayUntil = &d }), nil
	}
	active := func(t *testing.T, b *backend.Backend, _ *testdb.Clock) (backend.ExecutionID, *backend.Lease) {
		id := engCreate(t, b)
		return id, engClaim(t, b)
	}
	revoked := func(t *testing.T, b *backend.Backend, c *testdb.Clock) (backend.ExecutionID, *backend.Lease) {
		id, l := active(t, b, c)
		if _, err := b.RevokeLease(engCtx, backend.RevokeLeaseArgs{ExecutionID: id}); err != nil {
			t.Fatal(err)
		}
		return id, l
	}
	completed := func(t *testing.T, b *backend.Backend, c *testdb.Clock) (backend.ExecutionID, *backend.Lease) {
		id, l := active(t, b, c)
		if err := b.Complete(engCtx, l.Handle, nil); err != nil {
			t.Fatal(err)
		}
		return id, l
	}
	cancelled := func(t *testing.T, b *backend.Backend, c *testdb.Clock) (backend.ExecutionID, *backend.Lease) {
		id := engCreate(t, b)
		if _, err := b.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: id, Reason: "first"}); err != nil {
			t.Fatal(err)
		}
		return id, nil
	}
	cases := []struct {
		name      string
		prep      prep
		args      func(l *backend.Lease) backend.CancelExecutionArgs
		kind      backend.Kind
		code      string
		attempt   string // attempt_state after
		leaseEvts string
		compEvts  string
	}{
		{"waiting", waiting, func(*backend.Lease) backend.CancelExecutionArgs { return backend.CancelExecutionArgs{Reason: "r"} },
			0, "", "pending_first_attempt", "", "cancelled"},
		{"delayed", delayed, func(*backend.Lease) backend.CancelExecutionArgs { return backend.CancelExecutionArgs{Reason: "r"} },
			0, "", "pending_first_attempt", "", "cancelled"},
		{"waiting non-operator needs no fence", waiting, func(*backend.Lease) backend.CancelExecutionArgs {
			return backend.CancelExecutionArgs{Reason: "r", Source: backend.SourceLeaseHolder}
		}, 0, "", "pending_first_attempt", "", "cancelled"},
		{"active operator override", active, func(*backend.Lease) backend.CancelExecutionArgs { return backend.CancelExecutionArgs{Reason: "r"} },
			0, "", "attempt_terminal", "acquired,revoked", "cancelled"},
		{"active holder matching epoch", active, func(l *backend.Lease) backend.CancelExecutionArgs {
			return backend.CancelExecutionArgs{Reason: "r", Source: backend.SourceLeaseHolder, LeaseEpoch: engU64(l.LeaseEpoch), LeaseID: engStrp(l.LeaseID)}
		}, 0, "", "attempt_terminal", "acquired,revoked", "cancelled"},
		{"active holder wrong epoch", active, func(l *backend.Lease) backend.CancelExecutionArgs {
			return backend.CancelExecutionArgs{Reason: "r", Source: backend.SourceLeaseHolder, LeaseEpoch: engU64(l.LeaseEpoch + 1)}
		}, backend.KindContention, backend.CodeStaleLease, "running_attempt", "acquired", ""},
		{"active holder wrong lease id", active, func(l *backend.Lease) backend.CancelExecutionArgs {
			return backend.CancelExecutionArgs{Reason: "r", Source: "custom", LeaseEpoch: engU64(l.LeaseEpoch), LeaseID: engStrp("x")}
		}, backend.KindContention, backend.CodeStaleLease, "running_attempt", "acquired", ""},
		{"active holder without epoch", active, func(*backend.Lease) backend.CancelExecutionArgs {
			return backend.CancelExecutionArgs{Reason: "r", Source: backend.SourceSystemTimeout}
		}, backend.KindValidation, "invalid_input", "running_attempt", "acquired", ""},
		{"revoked holder", revoked, func(l *backend.Lease) backend.CancelExecutionArgs {
			return backend.CancelExecutionArgs{Reason: "r", Source: backend.SourceLeaseHolder, LeaseEpoch: engU64(l.LeaseEpoch)}
		}, backend.KindContention, backend.CodeLeaseRevoked, "running_attempt", "acquired,revoked", ""},
		{"revoked operator", revoked, func(*backend.Lease) backend.CancelExecutionArgs { return backend.CancelExecutionArgs{Reason: "r"} },
			0, "", "attempt_terminal", "acquired,revoked,revoked", "cancelled"},
		{"re-cancel is idempotent", cancelled, func(*backend.Lease) backend.CancelExecutionArgs { return backend.CancelExecutionArgs{Reason: "again"} },
			0, "", "pending_first_attempt", "", "cancelled"},
		{"completed", completed, func(*backend.Lease) backend.CancelExecutionArgs { return backend.CancelExecutionArgs{Reason: "r"} },
			backend.KindState, "terminal", "attempt_terminal", "acquired,released", "success"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b, clock := engOpen(t, true)
			id, l := c.prep(t, b, clock)
			args := c.args(l)
			args.ExecutionID = id
			before := engSnapshot(t, b)
			res, err := b.CancelExecution(engCtx, args)
			if c.kind != 0 {
				engWantCode(t, err, c.kind, c.code)
				if after := engSnapshot(t, b); after != before {
					t.Fatal("a refused cancel changed state")
				}
			} else if err != nil || res.ExecutionID != id || res.PublicState != "cancelled" {
				t.Fatalf("Cancel = %+v, %v", res, err)
			}
			info := engInfo(t, b, id)
			if info.StateVector.AttemptState != c.attempt {
				t.Errorf("attempt_state %q want %q", info.StateVector.AttemptState, c.attempt)
			}
			if got := engJoin(engEvents(t, b, backend.OutboxLease, id)); got != c.leaseEvts {
				t.Errorf("lease events %q want %q", got, c.leaseEvts)
			}
			if got := engJoin(engEvents(t, b, backend.OutboxCompletion, id)); got != c.compEvts {
				t.Errorf("completion events %q want %q", got, c.compEvts)
			}
			if c.kind == 0 && c.name != "re-cancel is idempotent" {
				var reason, by string
				b.ReaderDB().QueryRowContext(engCtx, `SELECT cancellation_reason, cancelled_by FROM ff_exec_core`).Scan(&reason, &by)
				wantBy := args.Source
				if wantBy == "" {
					wantBy = backend.SourceOperatorOverride
				}
				if reason != "r" || by != wantBy {
					t.Errorf("cancellation fields %q %q", reason, by)
				}
			}
			if c.attempt == "attempt_terminal" && c.kind == 0 {
				att, _ := b.ListAttempts(engCtx, id)
				if a := att[len(att)-1]; a.Outcome != "cancelled" || a.LeaseEpoch <= l.LeaseEpoch {
					t.Errorf("attempt after cancel %+v", a)
				}
			}
			engCheckInvariants(t, b)
		})
	}
	t.Run("terminal text", func(t *testing.T) {
		t.Parallel()
		b, clock := engOpen(t, true)
		id, _ := completed(t, b, clock)
		_, err := b.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: id, Reason: "r"})
		want := "cancel_execution: execution_id=" + id.String() + ": already terminal in state 'completed'"
		if err == nil || err.Error() != want {
			t.Fatalf("error %q\nwant %q", err, want)
		}
		_, err = b.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: backend.NewExecutionID(0), Reason: "r"})
		engWantCode(t, err, backend.KindNotFound, "execution")
		if got, _ := json.Marshal(backend.CancelExecutionResult{ExecutionID: id, PublicState: "cancelled"}); string(got) !=
			`{"Cancelled":{"execution_id":"`+id.String()+`","public_state":"cancelled"}}` {
			t.Fatalf("json %s", got)
		}
	})
}

func TestChangePriority(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		id := engCreate(t, b, engPrio(10))
		for _, c := range []struct {
			in   int32
			want int32
		}{{100, 100}, {99999, 9000}, {-3, 0}} {
			res, err := b.ChangePriority(engCtx, backend.ChangePriorityArgs{ExecutionID: id, NewPriority: c.in})
			if err != nil || res.ExecutionID != id {
				t.Fatal(res, err)
			}
			if got := engInfo(t, b, id).Priority; got != c.want {
				t.Fatalf("priority %d want %d", got, c.want)
			}
		}
		var details string
		b.ReaderDB().QueryRowContext(engCtx, `SELECT details FROM ff_operator_event ORDER BY event_id LIMIT 1`).Scan(&details)
		if details != `{"new_priority":100,"old_priority":10}` {
			t.Fatalf("details %s", details)
		}
		if ev := engJoin(engEvents(t, b, backend.OutboxOperator, id)); ev != "priority_changed,priority_changed,priority_changed" {
			t.Fatalf("events %s", ev)
		}
		// Not waiting: delayed, active, terminal.
		d := engT0 + 1000
		delayed := engCreate(t, b, func(a *backend.CreateExecutionArgs) { a.DelayUntil = &d; a.LaneID = "l2" })
		_, err := b.ChangePriority(engCtx, backend.ChangePriorityArgs{ExecutionID: delayed, NewPriority: 1})
		engWantCode(t, err, backend.KindState, "execution_not_eligible")
		l := engClaim(t, b)
		_, err = b.ChangePriority(engCtx, backend.ChangePriorityArgs{ExecutionID: l.ExecutionID, NewPriority: 1})
		engWantCode(t, err, backend.KindState, "execution_not_eligible")
		b.Complete(engCtx, l.Handle, nil)
		_, err = b.ChangePriority(engCtx, backend.ChangePriorityArgs{ExecutionID: l.ExecutionID, NewPriority: 1})
		engWantCode(t, err, backend.KindState, "execution_not_eligible")
		_, err = b.ChangePriority(engCtx, backend.ChangePriorityArgs{ExecutionID: backend.NewExecutionID(0), NewPriority: 1})
		engWantCode(t, err, backend.KindNotFound, "execution")
		if got, _ := json.Marshal(backend.ChangePriorityResult{ExecutionID: id}); string(got) != `{"Changed":{"execution_id":"`+id.String()+`"}}` {
			t.Fatalf("json %s", got)
		}
	})
}

func TestReplayExecution(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		id := engCreate(t, b, engPolicy(`{"max_replay_count":2}`))
		_, err := b.ReplayExecution(engCtx, backend.ReplayExecutionArgs{ExecutionID: id})
		engWantCode(t, err, backend.KindState, "execution_not_terminal")
		for i := range 2 {
			l := engClaim(t, b)
			if i == 0 {
				b.Complete(engCtx, l.Handle, []byte("r"))
			} else {
				b.Fail(engCtx, l.Handle, backend.FailArgs{Class: backend.FailPermanent, Reason: "bad"})
			}
			res, err := b.ReplayExecution(engCtx, backend.ReplayExecutionArgs{ExecutionID: id})
			if err != nil || res.PublicState != "waiting" {
				t.Fatal(res, err)
			}
			info := engInfo(t, b, id)
			want := backend.StateVector{"runnable", "unowned", "eligible_now", "waiting_for_worker", "none", "pending_replay_attempt", "waiting"}
			if info.StateVector != want || info.CompletedAt != "" {
				t.Fatalf("after replay %d: %+v", i, info)
			}
			if _, err := b.GetResult(engCtx, id); backend.KindOf(err) != backend.KindNotFound {
				t.Fatalf("result survived replay: %v", err)
			}
		}
		l := engClaim(t, b)
		if l.AttemptType != "replay" || l.AttemptIndex != 2 {
			t.Fatalf("lease %+v", l)
		}
		b.Complete(engCtx, l.Handle, nil)
		_, err = b.ReplayExecution(engCtx, backend.ReplayExecutionArgs{ExecutionID: id})
		engWantCode(t, err, backend.KindState, "max_replays_exhausted")
		if ev := engJoin(engEvents(t, b, backend.OutboxOperator, id)); ev != "replayed,replayed" {
			t.Fatalf("events %s", ev)
		}
		// Replay of an execution cancelled before any attempt: the replay
		// attempt is attempt 0.
		id2 := engCreate(t, b)
		b.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: id2, Reason: "x"})
		if _, err := b.ReplayExecution(engCtx, backend.ReplayExecutionArgs{ExecutionID: id2}); err != nil {
			t.Fatal(err)
		}
		if l := engClaim(t, b); l.ExecutionID != id2 || l.AttemptIndex != 0 || l.AttemptType != "replay" {
			t.Fatalf("lease %+v", l)
		}
		if got, _ := json.Marshal(backend.ReplayExecutionResult{PublicState: "waiting"}); string(got) != `{"Replayed":{"public_state":"waiting"}}` {
			t.Fatalf("json %s", got)
		}
		engCheckInvariants(t, b)
	})
}

func TestRevokeLease(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		id := engCreate(t, b)
		revoke := func(a backend.RevokeLeaseArgs) backend.RevokeLeaseResult {
			t.Helper()
			a.ExecutionID = id
			r, err := b.RevokeLease(engCtx, a)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		if r := revoke(backend.RevokeLeaseArgs{}); r.Revoked || r.AlreadySatisfied != "no_active_lease" {
			t.Fatalf("no lease: %+v", r)
		}
		l := engClaim(t, b)
		if r := revoke(backend.RevokeLeaseArgs{WorkerInstanceID: "other"}); r.AlreadySatisfied != "different_worker_instance_id" {
			t.Fatalf("filter: %+v", r)
		}
		if r := revoke(backend.RevokeLeaseArgs{ExpectedLeaseID: "nope"}); r.AlreadySatisfied != "lease_id_mismatch" {
			t.Fatalf("lease id filter: %+v", r)
		}
		r := revoke(backend.RevokeLeaseArgs{WorkerInstanceID: l.WorkerInstanceID, ExpectedLeaseID: l.LeaseID})
		if !r.Revoked || r.LeaseID != l.LeaseID || r.LeaseEpoch != "2" {
			t.Fatalf("revoke: %+v", r)
		}
		info := engInfo(t, b, id)
		if info.PublicState != "active" || info.StateVector.OwnershipState != "lease_revoked" {
			t.Fatalf("after revoke %+v", info.StateVector)
		}
		if r := revoke(backend.RevokeLeaseArgs{}); r.AlreadySatisfied != "already_revoked" {
			t.Fatalf("again: %+v", r)
		}
		engCheckInvariants(t, b)
		// The lease-expiry reconciler requeues it at once as a reclaim.
		if rep, err := b.ExpireLeases(engCtx, clock.MS(), 10); err != nil || rep.Processed != 1 {
			t.Fatalf("ExpireLeases = %+v, %v", rep, err)
		}
		if s := engState(t, b, id); s != "waiting" {
			t.Fatalf("state %s", s)
		}
		l2 := engClaim(t, b)
		if l2.AttemptType != "reclaim" || l2.LeaseEpoch != 3 {
			t.Fatalf("reclaim lease %+v", l2)
		}
		if ev := engJoin(engEvents(t, b, backend.OutboxLease, id)); ev != "acquired,revoked,expired,reclaimed" {
			t.Fatalf("events %s", ev)
		}
		_, err := b.RevokeLease(engCtx, backend.RevokeLeaseArgs{ExecutionID: backend.NewExecutionID(3)})
		engWantCode(t, err, backend.KindNotFound, "execution")
		for _, c := range []struct {
			r    backend.RevokeLeaseResult
			want string
		}{
			{backend.RevokeLeaseResult{Revoked: true, LeaseID: "l", LeaseEpoch: "3"}, `{"Revoked":{"lease_epoch":"3","lease_id":"l"}}`},
			{backend.RevokeLeaseResult{AlreadySatisfied: "no_active_lease"}, `{"AlreadySatisfied":{"reason":"no_active_lease"}}`},
		} {
			if got, _ := json.Marshal(c.r); !strings.EqualFold(string(got), c.want) {
				t.Fatalf("json %s want %s", got, c.want)
			}
		}
		engCheckInvariants(t, b)
	})
}
