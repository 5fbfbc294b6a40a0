package backend_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// reclaimGrantArgs is worker w2 asking for a reclaim grant of id.
func reclaimGrantArgs(id backend.ExecutionID) backend.ReclaimGrantArgs {
	return backend.ReclaimGrantArgs{ExecutionID: id, WorkerID: "w2", WorkerInstanceID: "w2-i1", LaneID: "default", GrantTTLMS: 5_000}
}

// reclaimArgs consumes grant g as worker w2.
func reclaimArgs(id backend.ExecutionID, g backend.ReclaimGrantResult) backend.ReclaimArgs {
	return backend.ReclaimArgs{WorkerID: "w2", WorkerInstanceID: "w2-i1", LaneID: "default", ExecutionID: id,
		GrantKey: g.Grant.GrantKey, LeaseTTLMS: 10_000}
}

func mustReclaimGrant(t *testing.T, b *backend.Backend, id backend.ExecutionID) backend.ReclaimGrantResult {
	t.Helper()
	g, err := b.IssueReclaimGrant(engCtx, reclaimGrantArgs(id))
	if err != nil || g.Status != backend.ReclaimGranted {
		t.Fatalf("IssueReclaimGrant = %+v, %v", g, err)
	}
	return g
}

// attemptRow is an attempt's outcome and failure reason.
func attemptRow(t *testing.T, b *backend.Backend, id backend.ExecutionID, idx uint32) string {
	t.Helper()
	part, key := id.Partition, id.UUID[:]
	var s string
	err := b.ReaderDB().QueryRowContext(engCtx, `SELECT COALESCE(outcome, '-') || '/' ||
  COALESCE(json_extract(raw_fields, '$.failure_reason'), '-') FROM ff_attempt
WHERE partition_key = ? AND execution_id = ? AND attempt_index = ?`, int64(part), key, idx).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// streamReason is an attempt's stream close reason ("-": open).
func streamReason(t *testing.T, b *backend.Backend, id backend.ExecutionID, idx uint32) string {
	t.Helper()
	var s string
	err := b.ReaderDB().QueryRowContext(engCtx, `SELECT COALESCE(json_extract(raw_fields, '$.stream_closed_reason'), '-')
FROM ff_attempt WHERE partition_key = ? AND execution_id = ? AND attempt_index = ?`,
		int64(id.Partition), id.UUID[:], idx).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func reclaimCount(t *testing.T, b *backend.Backend, id backend.ExecutionID) (n int64, ownership string) {
	t.Helper()
	err := b.ReaderDB().QueryRowContext(engCtx, `SELECT lease_reclaim_count, ownership_state FROM ff_exec_core
WHERE partition_key = ? AND execution_id = ?`, int64(id.Partition), id.UUID[:]).Scan(&n, &ownership)
	if err != nil {
		t.Fatal(err)
	}
	return n, ownership
}

// TestReclaimAfterRevoke: a revoked lease is reclaimed with a new attempt
// (epoch + 1, handle kind Reclaimed); the prior attempt ends
// interrupted_reclaimed and its handle is fenced; the lease-expiry
// reconciler leaves the granted execution alone.
func TestReclaimAfterRevoke(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		id := engCreate(t, b)
		old := engClaim(t, b)
		if g, err := b.IssueReclaimGrant(engCtx, reclaimGrantArgs(id)); err != nil || g.Status != backend.ReclaimNotReclaimable {
			t.Fatalf("grant of a live lease = %+v, %v", g, err)
		}
		if _, err := b.RevokeLease(engCtx, backend.RevokeLeaseArgs{ExecutionID: id}); err != nil {
			t.Fatal(err)
		}
		g := mustReclaimGrant(t, b, id)
		if r := streamReason(t, b, id, old.AttemptIndex); r != "-" {
			t.Fatalf("a revoked lease's stream closed at the grant: %s", r)
		}
		if _, err := b.IssueReclaimGrant(engCtx, reclaimGrantArgs(id)); err == nil {
			t.Fatal("a second reclaim grant while the first is live")
		} else {
			engWantCode(t, err, backend.KindState, backend.CodeGrantAlreadyExists)
		}
		// The reconciler does not requeue it under the grant.
		if _, err := b.ExpireLeases(engCtx, clock.MS()+1, 100); err != nil {
			t.Fatal(err)
		}
		res, err := b.ReclaimExecution(engCtx, reclaimArgs(id, g))
		l := res.Lease
		if err != nil || l == nil || l.AttemptIndex != old.AttemptIndex+1 || l.AttemptType != "reclaim" ||
			l.Handle.Kind != backend.HandleReclaimed || l.LeaseEpoch != old.LeaseEpoch+2 || l.WorkerID != "w2" {
			// epoch: the claim's 1, the revoke's bump 2, the reclaim 3.
			t.Fatalf("ReclaimExecution = %+v, %v (old %+v)", res, err, old)
		}
		if got := attemptRow(t, b, id, old.AttemptIndex); got != "interrupted_reclaimed/lease_revoked" {
			t.Fatalf("prior attempt = %s", got)
		}
		if r := streamReason(t, b, id, old.AttemptIndex); r != backend.StreamClosedReclaimed {
			t.Fatalf("prior stream closed %s, want reclaimed", r)
		}
		if n, own := reclaimCount(t, b, id); n != 1 || own != "leased" {
			t.Fatalf("reclaim count %d, ownership %s", n, own)
		}
		_, err = b.Renew(engCtx, old.Handle, 0)
		engWantCode(t, err, backend.KindContention, backend.CodeStaleLease)
		if err := b.Complete(engCtx, old.Handle, nil); err == nil {
			t.Fatal("the old handle completed")
		}
		if ev := engJoin(engEvents(t, b, backend.OutboxLease, id)); ev != "acquired,revoked,reclaimed" {
			t.Fatalf("lease events = %s", ev)
		}
		// The grant is consumed.
		_, err = b.ReclaimExecution(engCtx, reclaimArgs(id, g))
		engWantCode(t, err, backend.KindNotFound, "")
		if err := b.Complete(engCtx, l.Handle, []byte(`1`)); err != nil {
			t.Fatal(err)
		}
	})
}

// TestReclaimExpiredNotSwept: route 13 takes an expired lease the
// reconciler has not requeued yet (expires_at <= now is expired), and one
// millisecond earlier refuses it.
func TestReclaimExpiredNotSwept(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		id := engCreate(t, b)
		old := engClaim(t, b)
		clock.Advance(9_999 * time.Millisecond)
		if g, err := b.IssueReclaimGrant(engCtx, reclaimGrantArgs(id)); err != nil || g.Status != backend.ReclaimNotReclaimable {
			t.Fatalf("1 ms before expiry = %+v, %v", g, err)
		}
		clock.Advance(time.Millisecond)
		g := mustReclaimGrant(t, b, id)
		if _, own := reclaimCount(t, b, id); own != "lease_expired_reclaimable" {
			t.Fatalf("ownership after the grant = %s", own)
		}
		if r := streamReason(t, b, id, old.AttemptIndex); r != backend.StreamClosedLeaseExpired {
			t.Fatalf("marked lease's stream = %s, want lease_expired", r)
		}
		if rep, err := b.ExpireLeases(engCtx, clock.MS(), 100); err != nil || rep.Processed != 0 {
			t.Fatalf("ExpireLeases = %+v, %v; want the marked lease left alone", rep, err)
		}
		res, err := b.ReclaimExecution(engCtx, reclaimArgs(id, g))
		if err != nil || res.Lease == nil || res.Lease.AttemptIndex != old.AttemptIndex+1 {
			t.Fatalf("ReclaimExecution = %+v, %v", res, err)
		}
		if got := attemptRow(t, b, id, old.AttemptIndex); got != "interrupted_reclaimed/lease_expired" {
			t.Fatalf("prior attempt = %s", got)
		}
		if ev := engJoin(engEvents(t, b, backend.OutboxLease, id)); ev != "acquired,expired,reclaimed" {
			t.Fatalf("lease events = %s", ev)
		}
	})
}

// TestReclaimCanonicalMarking: with LeaseExpiryReclaimable the reconciler
// marks the lease (the execution stays active) instead of requeueing it.
func TestReclaimCanonicalMarking(t *testing.T) {
	t.Parallel()
	clock := testdb.NewClock(engT0)
	b := testdb.Open(t, testdb.WithClock(clock.Now), func(o *backend.Options) { o.LeaseExpiry = backend.LeaseExpiryReclaimable })
	id := engCreate(t, b)
	engClaim(t, b)
	clock.Advance(10 * time.Second)
	rep, err := b.ExpireLeases(engCtx, clock.MS(), 100)
	if err != nil || rep.Processed != 1 {
		t.Fatalf("ExpireLeases = %+v, %v", rep, err)
	}
	if rep, _ := b.ExpireLeases(engCtx, clock.MS(), 100); rep.Processed != 0 {
		t.Fatalf("second pass processed %d", rep.Processed)
	}
	if s := engState(t, b, id); s != "active" {
		t.Fatalf("state = %s, want active", s)
	}
	if _, own := reclaimCount(t, b, id); own != "lease_expired_reclaimable" {
		t.Fatalf("ownership = %s", own)
	}
	if l, err := b.Claim(engCtx, engClaimArgs()); err != nil || l != nil {
		t.Fatalf("plain claim of a marked execution = %+v, %v", l, err)
	}
	g := mustReclaimGrant(t, b, id)
	if res, err := b.ReclaimExecution(engCtx, reclaimArgs(id, g)); err != nil || res.Lease == nil {
		t.Fatalf("ReclaimExecution = %+v, %v", res, err)
	}
	if _, err := backend.ParseLeaseExpiryMode("sometimes"); err == nil {
		t.Fatal("a bad mode parsed")
	}
}

// TestReclaimCap: with max_reclaim_count 2 the second reclaim succeeds
// and the third fails the execution (at issue, lease_reclaim_count 2 >= 2).
func TestReclaimCap(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		id := engCreate(t, b, engPolicy(`{"max_reclaim_count":2}`))
		l := engClaim(t, b)
		for i := 1; i <= 2; i++ {
			if _, err := b.RevokeLease(engCtx, backend.RevokeLeaseArgs{ExecutionID: id}); err != nil {
				t.Fatal(err)
			}
			res, err := b.ReclaimExecution(engCtx, reclaimArgs(id, mustReclaimGrant(t, b, id)))
			if err != nil || res.Lease == nil {
				t.Fatalf("reclaim %d = %+v, %v", i, res, err)
			}
			l = res.Lease
		}
		if n, _ := reclaimCount(t, b, id); n != 2 {
			t.Fatalf("count = %d", n)
		}
		if _, err := b.RevokeLease(engCtx, backend.RevokeLeaseArgs{ExecutionID: id}); err != nil {
			t.Fatal(err)
		}
		g, err := b.IssueReclaimGrant(engCtx, reclaimGrantArgs(id))
		if err != nil || g.Status != backend.ReclaimCapExceeded || g.ReclaimCount != 2 {
			t.Fatalf("third grant = %+v, %v", g, err)
		}
		if s := engState(t, b, id); s != "failed" {
			t.Fatalf("state = %s, want failed", s)
		}
		if got := attemptRow(t, b, id, l.AttemptIndex); got != "failed/reclaim_cap_exceeded" {
			t.Fatalf("last attempt = %s", got)
		}
	})
}

// TestReclaimCapAtConsume: the cap is checked again when the grant is
// consumed (the count moved in between), failing the execution.
func TestReclaimCapAtConsume(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, true)
	id := engCreate(t, b, engPolicy(`{"max_reclaim_count":1}`))
	engClaim(t, b)
	if _, err := b.RevokeLease(engCtx, backend.RevokeLeaseArgs{ExecutionID: id}); err != nil {
		t.Fatal(err)
	}
	g := mustReclaimGrant(t, b, id)
	engExec(t, b, `UPDATE ff_exec_core SET lease_reclaim_count = 1`)
	res, err := b.ReclaimExecution(engCtx, reclaimArgs(id, g))
	if err != nil || !res.CapExceeded || res.ReclaimCount != 1 || res.Lease != nil {
		t.Fatalf("ReclaimExecution = %+v, %v", res, err)
	}
	if s := engState(t, b, id); s != "failed" {
		t.Fatalf("state = %s", s)
	}
}

// TestReclaimRefusals: bad grants and bad input change nothing.
func TestReclaimRefusals(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		id := engCreate(t, b)
		engClaim(t, b)
		if _, err := b.RevokeLease(engCtx, backend.RevokeLeaseArgs{ExecutionID: id}); err != nil {
			t.Fatal(err)
		}
		g := mustReclaimGrant(t, b, id)
		before := engSnapshot(t, b)
		cases := []struct {
			name string
			mod  func(*backend.ReclaimArgs)
			kind backend.Kind
		}{
			{"wrong worker", func(a *backend.ReclaimArgs) { a.WorkerID = "w3" }, backend.KindValidation},
			{"unknown grant", func(a *backend.ReclaimArgs) { a.GrantKey = "00000000-0000-4000-8000-000000000000" }, backend.KindNotFound},
			{"bad grant key", func(a *backend.ReclaimArgs) { a.GrantKey = "x" }, backend.KindValidation},
			{"other execution", func(a *backend.ReclaimArgs) { a.ExecutionID = backend.NewExecutionID(7) }, backend.KindNotFound},
			{"negative ttl", func(a *backend.ReclaimArgs) { a.LeaseTTLMS = -5 }, backend.KindValidation},
		}
		for _, c := range cases {
			a := reclaimArgs(id, g)
			c.mod(&a)
			_, err := b.ReclaimExecution(engCtx, a)
			engWantCode(t, err, c.kind, "")
		}
		wrongLane := reclaimGrantArgs(id)
		wrongLane.LaneID = "elsewhere"
		if r, err := b.IssueReclaimGrant(engCtx, wrongLane); err != nil || r.Status != backend.ReclaimNotReclaimable ||
			r.Detail != `execution is in lane "default"` {
			t.Fatalf("wrong lane = %+v, %v", r, err)
		}
		for _, bad := range []func(*backend.ReclaimGrantArgs){
			func(a *backend.ReclaimGrantArgs) { a.GrantTTLMS = 0 },
			func(a *backend.ReclaimGrantArgs) { a.WorkerID = "" },
		} {
			a := reclaimGrantArgs(id)
			bad(&a)
			_, err := b.IssueReclaimGrant(engCtx, a)
			engWantCode(t, err, backend.KindValidation, "invalid_input")
		}
		_, err := b.IssueReclaimGrant(engCtx, reclaimGrantArgs(backend.NewExecutionID(3)))
		engWantCode(t, err, backend.KindNotFound, "")
		if after := engSnapshot(t, b); after != before {
			t.Fatal("a refused reclaim changed the database")
		}
		clock.Advance(5 * time.Second) // the grant expires
		_, err = b.ReclaimExecution(engCtx, reclaimArgs(id, g))
		engWantCode(t, err, backend.KindNotFound, "")
	})
}

// TestReclaimableAttemptTimesOut: a lease that is waiting for its reclaim
// (revoked and granted, or marked by the canonical reconciler) still ends
// at its attempt timeout; before the fix the attempt-timeout reconciler
// only looked through the lease-expiry index, which marking clears, so such
// an execution stayed active forever.
func TestReclaimableAttemptTimesOut(t *testing.T) {
	t.Parallel()
	const policy = `{"timeout_policy":{"attempt_timeout_ms":30000}}`
	cases := []struct {
		name string
		mode backend.LeaseExpiryMode
		mark func(t *testing.T, b *backend.Backend, clock *testdb.Clock, id backend.ExecutionID)
	}{
		{"revoked and granted", backend.LeaseExpiryRequeue, func(t *testing.T, b *backend.Backend, _ *testdb.Clock, id backend.ExecutionID) {
			if _, err := b.RevokeLease(engCtx, backend.RevokeLeaseArgs{ExecutionID: id}); err != nil {
				t.Fatal(err)
			}
			mustReclaimGrant(t, b, id)
		}},
		{"canonical marking", backend.LeaseExpiryReclaimable, func(t *testing.T, b *backend.Backend, clock *testdb.Clock, _ backend.ExecutionID) {
			clock.Advance(10 * time.Second)
			if rep, err := b.ExpireLeases(engCtx, clock.MS(), 100); err != nil || rep.Processed != 1 {
				t.Fatalf("ExpireLeases = %+v, %v", rep, err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := testdb.NewClock(engT0)
			b := testdb.Open(t, testdb.WithClock(clock.Now), func(o *backend.Options) { o.LeaseExpiry = tc.mode })
			id := engCreate(t, b, engPolicy(policy))
			l := engClaim(t, b)
			start := clock.MS()
			tc.mark(t, b, clock, id)
			if _, own := reclaimCount(t, b, id); own != "lease_expired_reclaimable" && own != "lease_revoked" {
				t.Fatalf("ownership after marking = %s", own)
			}
			if rep, err := b.TimeoutAttempts(engCtx, start+29_999, 100); err != nil || rep.Processed != 0 {
				t.Fatalf("TimeoutAttempts 1 ms early = %+v, %v", rep, err)
			}
			if rep, err := b.TimeoutAttempts(engCtx, start+30_000, 100); err != nil || rep.Processed != 1 {
				t.Fatalf("TimeoutAttempts at the timeout = %+v, %v", rep, err)
			}
			if s := engState(t, b, id); s != "failed" {
				t.Fatalf("state = %s, want failed", s)
			}
			if got := attemptRow(t, b, id, l.AttemptIndex); got != "failed/attempt timed out after 30000 ms" {
				t.Fatalf("attempt = %s", got)
			}
			if rep, err := b.TimeoutAttempts(engCtx, start+60_000, 100); err != nil || rep.Processed != 0 {
				t.Fatalf("second pass = %+v, %v", rep, err)
			}
		})
	}
}

// TestTimedOutAttemptsPlanSeeks: the attempt-timeout query finds both kinds
// of running attempt by index seeks; it never scans ff_exec_core or
// ff_attempt (the table grows with every execution ever run).
func TestTimedOutAttemptsPlanSeeks(t *testing.T) {
	t.Parallel()
	b := testdb.Open(t)
	plan := engQueryPlan(t, b, backend.TimedOutAttemptsSQLForTest(), int64(0), 100)
	joined := strings.Join(plan, "\n")
	for _, line := range plan {
		if strings.HasPrefix(line, "SCAN ") && !strings.HasPrefix(line, "SCAN ap") && !strings.HasPrefix(line, "SCAN lanes") &&
			!strings.HasPrefix(line, "SCAN parts") && line != "SCAN CONSTANT ROW" {
			t.Errorf("plan scans a table: %s\n%s", line, joined)
		}
	}
	if !strings.Contains(joined, "ff_exec_core_lane_phase_idx (partition_key=? AND lane_id=? AND lifecycle_phase=?)") {
		t.Errorf("marked leases are not found by a lane/phase seek:\n%s", joined)
	}
}

// TestMarkedLeaseEndsAsRunning: an execution whose lease waits for its
// reclaim and that is cancelled or expires ends its attempt as a running
// one (cancelled / expired), not as one paused by a suspend (ended_paused),
// and writes no second lease event: the revoke already recorded the
// lease's end.
func TestMarkedLeaseEndsAsRunning(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, outcome string
		end           func(t *testing.T, b *backend.Backend, clock *testdb.Clock, id backend.ExecutionID)
	}{
		{"cancel", "cancelled", func(t *testing.T, b *backend.Backend, _ *testdb.Clock, id backend.ExecutionID) {
			if _, err := b.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: id, Reason: "stop",
				Source: backend.SourceOperatorOverride}); err != nil {
				t.Fatal(err)
			}
		}},
		{"deadline", "expired", func(t *testing.T, b *backend.Backend, clock *testdb.Clock, _ backend.ExecutionID) {
			if rep, err := b.ExpireDeadlines(engCtx, clock.MS()+60_000, 100); err != nil || rep.Processed != 1 {
				t.Fatalf("ExpireDeadlines = %+v, %v", rep, err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := testdb.NewClock(engT0)
			b := testdb.Open(t, testdb.WithClock(clock.Now))
			id := engCreate(t, b, func(a *backend.CreateExecutionArgs) {
				d := clock.MS() + 30_000
				a.ExecutionDeadlineAt = &d
			})
			l := engClaim(t, b)
			if _, err := b.RevokeLease(engCtx, backend.RevokeLeaseArgs{ExecutionID: id}); err != nil {
				t.Fatal(err)
			}
			mustReclaimGrant(t, b, id)
			tc.end(t, b, clock, id)
			var outcome string
			var paused bool
			err := b.ReaderDB().QueryRowContext(engCtx, `SELECT outcome, json_extract(raw_fields, '$.ended_paused') IS NOT NULL
FROM ff_attempt WHERE partition_key = ? AND execution_id = ? AND attempt_index = ?`,
				int64(id.Partition), id.UUID[:], l.AttemptIndex).Scan(&outcome, &paused)
			if err != nil {
				t.Fatal(err)
			}
			if outcome != tc.outcome || paused {
				t.Fatalf("attempt outcome %s, ended_paused %v; want %s, not paused", outcome, paused, tc.outcome)
			}
			if ev := engJoin(engEvents(t, b, backend.OutboxLease, id)); ev != "acquired,revoked" {
				t.Fatalf("lease events = %s", ev)
			}
		})
	}
}

// TestReclaimGrantDoesNotHoldARequeuedExecution: a reclaim grant reserves
// an active execution for its reclaim only. When the execution leaves that
// state another way (here its attempt times out and a retry is scheduled;
// also a cancel then a replay), the leftover grant must not keep plain
// claims and route-14 grants off the now waiting execution until it
// expires: before the fix every live grant, of either kind, took the
// execution out of the claim's rule.
func TestReclaimGrantDoesNotHoldARequeuedExecution(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		id := engCreate(t, b, engPolicy(`{"timeout_policy":{"attempt_timeout_ms":1000},"retry_policy":{"max_retries":1,"backoff":{"type":"fixed","delay_ms":0}}}`))
		engClaim(t, b)
		if _, err := b.RevokeLease(engCtx, backend.RevokeLeaseArgs{ExecutionID: id}); err != nil {
			t.Fatal(err)
		}
		g := mustReclaimGrant(t, b, id) // live for 5 s
		clock.Advance(time.Second)
		if rep, err := b.TimeoutAttempts(engCtx, clock.MS(), 10); err != nil || rep.Processed != 1 {
			t.Fatalf("TimeoutAttempts = %+v, %v", rep, err)
		}
		if g.Grant.ExpiresAtMS <= clock.MS() {
			t.Fatal("the reclaim grant should still be live")
		}
		l, err := b.Claim(engCtx, engClaimArgs())
		if err != nil || l == nil || l.ExecutionID != id || l.AttemptType != "retry" {
			t.Fatalf("claim of the retried execution = %+v, %v; want its retry attempt", l, err)
		}
		// The stale grant ended with the new lease.
		_, err = b.ReclaimExecution(engCtx, reclaimArgs(id, g))
		engWantCode(t, err, backend.KindNotFound, "")
	})
}

// TestMarkedLeaseFencesAsExpired: a lease marked lease_expired_reclaimable
// (by the canonical reconciler, or by a route-13 grant of an expired lease)
// is an expired lease: its holder's renew, progress and complete answer
// lease_expired (docs/http-api.md, "Fencing errors"; engine-canonical.md
// §2.3 for progress), as they did a moment before the marking. Before the
// fix the marking turned the answer into "stale_lease: execution is
// active".
func TestMarkedLeaseFencesAsExpired(t *testing.T) {
	t.Parallel()
	for _, viaGrant := range []bool{false, true} {
		clock := testdb.NewClock(engT0)
		b := testdb.Open(t, testdb.WithClock(clock.Now), func(o *backend.Options) { o.LeaseExpiry = backend.LeaseExpiryReclaimable })
		id := engCreate(t, b)
		l := engClaim(t, b)
		clock.Advance(10 * time.Second)
		_, err := b.Renew(engCtx, l.Handle, 0)
		engWantCode(t, err, backend.KindContention, backend.CodeLeaseExpired)
		if viaGrant {
			mustReclaimGrant(t, b, id)
		} else if rep, err := b.ExpireLeases(engCtx, clock.MS(), 100); err != nil || rep.Processed != 1 {
			t.Fatalf("ExpireLeases = %+v, %v", rep, err)
		}
		if _, own := reclaimCount(t, b, id); own != "lease_expired_reclaimable" {
			t.Fatalf("ownership = %s", own)
		}
		_, err = b.Renew(engCtx, l.Handle, 0)
		engWantCode(t, err, backend.KindContention, backend.CodeLeaseExpired)
		err = b.UpdateProgress(engCtx, l.Handle, 50, "half")
		engWantCode(t, err, backend.KindContention, backend.CodeLeaseExpired)
		err = b.Complete(engCtx, l.Handle, nil)
		engWantCode(t, err, backend.KindContention, backend.CodeLeaseExpired)
	}
}

// TestStaleReclaimGrantDroppedByClaim: a reclaim grant left over from an
// earlier lease (here: revoked, granted, then timed out and retried) ends
// when a claim leases the execution again: a later revocation of the new
// lease can be granted to another worker (no GrantAlreadyExists from the
// stale grant), and the stale grant no longer reclaims the new lease.
func TestStaleReclaimGrantDroppedByClaim(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		id := engCreate(t, b, engPolicy(`{"timeout_policy":{"attempt_timeout_ms":1000},"retry_policy":{"max_retries":1,"backoff":{"type":"fixed","delay_ms":0}}}`))
		engClaim(t, b)
		if _, err := b.RevokeLease(engCtx, backend.RevokeLeaseArgs{ExecutionID: id}); err != nil {
			t.Fatal(err)
		}
		stale := mustReclaimGrant(t, b, id) // worker w2, live for 5 s
		clock.Advance(time.Second)
		if rep, err := b.TimeoutAttempts(engCtx, clock.MS(), 10); err != nil || rep.Processed != 1 {
			t.Fatalf("TimeoutAttempts = %+v, %v", rep, err)
		}
		engClaim(t, b)
		if _, err := b.RevokeLease(engCtx, backend.RevokeLeaseArgs{ExecutionID: id}); err != nil {
			t.Fatal(err)
		}
		_, err := b.ReclaimExecution(engCtx, reclaimArgs(id, stale))
		engWantCode(t, err, backend.KindNotFound, "")
		args := reclaimGrantArgs(id)
		args.WorkerID, args.WorkerInstanceID = "w3", "w3-i1"
		if g, err := b.IssueReclaimGrant(engCtx, args); err != nil || g.Status != backend.ReclaimGranted {
			t.Fatalf("grant after the new lease's revocation = %+v, %v", g, err)
		}
	})
}
