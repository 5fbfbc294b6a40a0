package backend_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// quotaCreate stores a quota policy and returns its id.
func quotaCreate(t testing.TB, b *backend.Backend, window, maxReq, maxConc uint64) string {
	t.Helper()
	id := uuid.New()
	res, err := b.CreateQuotaPolicy(engCtx, backend.CreateQuotaPolicyArgs{
		QuotaPolicyID: id, WindowSeconds: window, MaxRequestsPerWindow: maxReq, MaxConcurrent: maxConc,
	})
	if err != nil || !res.Created {
		t.Fatalf("CreateQuotaPolicy = %+v, %v", res, err)
	}
	return id.String()
}

// quotaAttached creates n executions attached to quota q.
func quotaAttached(t testing.TB, b *backend.Backend, q string, n int) []backend.ExecutionID {
	t.Helper()
	ids := make([]backend.ExecutionID, n)
	for i := range ids {
		ids[i] = engCreate(t, b, engPolicy(`{"quota_policy_id":"`+q+`"}`))
	}
	return ids
}

// quotaNoClaim fails unless a claim finds nothing.
func quotaNoClaim(t testing.TB, b *backend.Backend) {
	t.Helper()
	if l, err := b.Claim(engCtx, engClaimArgs()); l != nil || err != nil {
		t.Fatalf("Claim = %+v, %v; want nothing", l, err)
	}
}

// quotaUnblock runs one unblock pass and checks how many it unblocked.
func quotaUnblock(t testing.TB, b *backend.Backend, clock *testdb.Clock, want int) {
	t.Helper()
	rep, err := b.UnblockQuotas(engCtx, clock.MS(), 100)
	if err != nil || rep.Processed != want || rep.Errors != 0 {
		t.Fatalf("UnblockQuotas = %+v, %v; want %d unblocked", rep, err, want)
	}
}

// quotaWantBlocked checks that id is rate_limited by quota q with a
// detail naming the limit.
func quotaWantBlocked(t testing.TB, b *backend.Backend, id backend.ExecutionID, q, limit string) {
	t.Helper()
	info := engInfo(t, b, id)
	sv := info.StateVector
	if sv.PublicState != "rate_limited" || sv.EligibilityState != "blocked_by_quota" || sv.BlockingReason != "waiting_for_quota" ||
		sv.LifecyclePhase != "runnable" || !strings.HasPrefix(info.BlockingDetail, "quota "+q+": "+limit) {
		t.Fatalf("%s: state %+v detail %q; want rate_limited by quota %s (%s)", id, sv, info.BlockingDetail, q, limit)
	}
}

// quotaNoDrift checks that the ready index matches ff_exec_core.
func quotaNoDrift(t testing.TB, b *backend.Backend) {
	t.Helper()
	if d, err := b.ReadyDriftForTest(engCtx); err != nil || d != "" {
		t.Fatalf("ready index drift %q, %v", d, err)
	}
	engCheckInvariants(t, b)
}

// Rate 3 per 60 s: three claims are admitted, the fourth and fifth
// candidates are blocked (rate_limited, the detail naming the quota), and
// they become claimable once the window has slid past the first
// admissions and the reconciler re-checked them.
func TestQuotaRateLimit(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		q := quotaCreate(t, b, 60, 3, 0)
		ids := quotaAttached(t, b, q, 5)
		free := engCreate(t, b) // unattached, the youngest
		for i := range 3 {
			l := engClaim(t, b)
			if l.ExecutionID != ids[i] {
				t.Fatalf("claim %d = %s, want %s", i, l.ExecutionID, ids[i])
			}
			if err := b.Complete(engCtx, l.Handle, nil); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Second)
		}
		// The 4th and 5th are blocked on the way to the unattached one.
		if l := engClaim(t, b); l.ExecutionID != free {
			t.Fatalf("claim 4 = %s, want the unattached %s", l.ExecutionID, free)
		}
		quotaWantBlocked(t, b, ids[3], q, "rate limit 3 per 60s reached (retry after 57000 ms)")
		quotaWantBlocked(t, b, ids[4], q, "rate limit 3 per 60s reached")
		quotaNoClaim(t, b)
		quotaNoDrift(t, b)
		// Still inside the window: nothing to unblock.
		clock.Set(engT0 + 59_999)
		quotaUnblock(t, b, clock, 0)
		// The first admission slides out: room for one.
		clock.Set(engT0 + 60_000)
		quotaUnblock(t, b, clock, 1)
		if s := engState(t, b, ids[3]); s != "waiting" {
			t.Fatalf("unblocked state %s", s)
		}
		quotaNoDrift(t, b)
		if l := engClaim(t, b); l.ExecutionID != ids[3] {
			t.Fatalf("claim after the window = %s, want %s", l.ExecutionID, ids[3])
		}
		quotaNoClaim(t, b)
		clock.Set(engT0 + 61_000)
		quotaUnblock(t, b, clock, 1)
		if l := engClaim(t, b); l.ExecutionID != ids[4] {
			t.Fatalf("claim = %s, want %s", l.ExecutionID, ids[4])
		}
		quotaNoDrift(t, b)
	})
}

// Concurrency cap 2: the third candidate is blocked until a lease is
// released, by each way a lease ends.
func TestQuotaConcurrencyCap(t *testing.T) {
	t.Parallel()
	releases := []struct {
		name    string
		release func(t *testing.T, b *backend.Backend, clock *testdb.Clock, l *backend.Lease)
	}{
		{"complete", func(t *testing.T, b *backend.Backend, _ *testdb.Clock, l *backend.Lease) {
			if err := b.Complete(engCtx, l.Handle, nil); err != nil {
				t.Fatal(err)
			}
		}},
		{"fail", func(t *testing.T, b *backend.Backend, _ *testdb.Clock, l *backend.Lease) {
			if _, err := b.Fail(engCtx, l.Handle, backend.FailArgs{Class: backend.FailPermanent, Reason: "x"}); err != nil {
				t.Fatal(err)
			}
		}},
		{"cancel", func(t *testing.T, b *backend.Backend, _ *testdb.Clock, l *backend.Lease) {
			if _, err := b.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: l.ExecutionID, Reason: "x"}); err != nil {
				t.Fatal(err)
			}
		}},
		{"delay", func(t *testing.T, b *backend.Backend, clock *testdb.Clock, l *backend.Lease) {
			if _, err := b.Delay(engCtx, l.Handle, clock.MS()+3_600_000); err != nil {
				t.Fatal(err)
			}
		}},
		{"lease expiry", func(t *testing.T, b *backend.Backend, clock *testdb.Clock, l *backend.Lease) {
			clock.Advance(11 * time.Second)
			if rep, err := b.ExpireLeases(engCtx, clock.MS(), 10); err != nil || rep.Processed < 1 {
				t.Fatalf("ExpireLeases = %+v, %v", rep, err)
			}
		}},
	}
	for _, rc := range releases {
		t.Run(rc.name, func(t *testing.T) {
			engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
				q := quotaCreate(t, b, 60, 0, 2)
				ids := quotaAttached(t, b, q, 3)
				l1, l2 := engClaim(t, b), engClaim(t, b)
				if l1.ExecutionID != ids[0] || l2.ExecutionID != ids[1] {
					t.Fatalf("claims %s %s", l1.ExecutionID, l2.ExecutionID)
				}
				quotaNoClaim(t, b)
				quotaWantBlocked(t, b, ids[2], q, "concurrency cap 2 reached")
				quotaUnblock(t, b, clock, 0)
				rc.release(t, b, clock, l1)
				if rc.name == "lease expiry" {
					// Both leases expired and were requeued: their slots are
					// free, the third is unblocked, and the cap holds again
					// for the requeued two and the third.
					quotaUnblock(t, b, clock, 1)
					quotaNoDrift(t, b)
					if a, b2 := engClaim(t, b), engClaim(t, b); a.ExecutionID != ids[0] || b2.ExecutionID != ids[1] {
						t.Fatalf("reclaims %s %s", a.ExecutionID, b2.ExecutionID)
					}
					quotaNoClaim(t, b)
					quotaWantBlocked(t, b, ids[2], q, "concurrency cap 2 reached")
				} else {
					quotaUnblock(t, b, clock, 1)
					quotaNoDrift(t, b)
					if l := engClaim(t, b); l.ExecutionID != ids[2] {
						t.Fatalf("claim after release = %s, want %s", l.ExecutionID, ids[2])
					}
					quotaNoClaim(t, b)
				}
				quotaNoDrift(t, b)
			})
		})
	}
}

// Zero limits are unlimited; a window of 0 never limits the rate.
func TestQuotaZeroIsUnlimited(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name                  string
		window, maxReq, concr uint64
	}{{"all zero", 0, 0, 0}, {"window 0", 0, 1, 0}, {"rate 0", 60, 0, 0}, {"cap 0", 60, 0, 0}} {
		t.Run(c.name, func(t *testing.T) {
			engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
				q := quotaCreate(t, b, c.window, c.maxReq, c.concr)
				quotaAttached(t, b, q, 6)
				leases, err := b.ClaimMany(engCtx, engClaimArgs(), 10)
				if err != nil || len(leases) != 6 {
					t.Fatalf("ClaimMany = %d leases, %v; want 6", len(leases), err)
				}
				quotaNoDrift(t, b)
			})
		})
	}
}

// ClaimMany stops at the quota: rate 3 leases three of five, and the
// blocked two left the ready index.
func TestQuotaClaimMany(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		q := quotaCreate(t, b, 10, 3, 0)
		ids := make([]backend.ExecutionID, 5)
		for i := range ids {
			ids[i] = engCreate(t, b, engPolicy(`{"quota_policy_id":"`+q+`",
				"retry_policy":{"max_retries":1,"backoff":{"type":"fixed","delay_ms":0}}}`))
		}
		leases, err := b.ClaimMany(engCtx, engClaimArgs(), 10)
		if err != nil || len(leases) != 3 {
			t.Fatalf("ClaimMany = %d, %v", len(leases), err)
		}
		quotaWantBlocked(t, b, ids[3], q, "rate limit 3 per 10s")
		quotaWantBlocked(t, b, ids[4], q, "rate limit 3 per 10s")
		quotaNoDrift(t, b)
		// A retry is another request: inside the window it is blocked too.
		if _, err := b.Fail(engCtx, leases[0].Handle, backend.FailArgs{Class: backend.FailTransient, Reason: "x"}); err != nil {
			t.Fatal(err)
		}
		quotaNoClaim(t, b)
		quotaWantBlocked(t, b, ids[0], q, "rate limit 3 per 10s")
		clock.Advance(10 * time.Second)
		quotaUnblock(t, b, clock, 3)
		leases, err = b.ClaimMany(engCtx, engClaimArgs(), 10)
		if err != nil || len(leases) != 3 || leases[0].ExecutionID != ids[0] || leases[0].AttemptType != "retry" {
			t.Fatalf("ClaimMany after the window = %d, %v", len(leases), err)
		}
		quotaNoDrift(t, b)
	})
}

// A create naming a quota that is not a UUID, or no existing policy, is
// refused with invalid_input and writes nothing.
func TestQuotaAttachmentValidation(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		q := quotaCreate(t, b, 60, 1, 1)
		for _, c := range []struct{ name, policy, msg string }{
			{"unknown", `{"quota_policy_id":"` + uuid.NewString() + `"}`, "no quota policy"},
			{"not a uuid", `{"quota_policy_id":"q1"}`, "not a valid UUID"},
			{"braced", `{"quota_policy_id":"{` + q + `}"}`, "not a valid UUID"},
			{"empty", `{"quota_policy_id":""}`, "not a valid UUID"},
		} {
			a := engArgs(engPolicy(c.policy))
			_, err := b.CreateExecution(engCtx, a)
			engWantCode(t, err, backend.KindValidation, "invalid_input")
			if !strings.Contains(err.Error(), "policy.quota_policy_id: "+c.msg) {
				t.Errorf("%s: %v", c.name, err)
			}
			if _, err := b.GetPublicState(engCtx, a.ExecutionID); err == nil {
				t.Errorf("%s: the execution was written", c.name)
			}
		}
		// Not a string: the policy's JSON type check.
		_, err := b.CreateExecution(engCtx, engArgs(engPolicy(`{"quota_policy_id":7}`)))
		engWantCode(t, err, backend.KindValidation, "invalid_policy_json")
		// Upper case is the same id.
		engCreate(t, b, engPolicy(`{"quota_policy_id":"`+strings.ToUpper(q)+`"}`))
		engClaim(t, b)
		quotaAttached(t, b, q, 1)
		quotaNoClaim(t, b)
		var n int
		if err := b.ReaderDB().QueryRowContext(engCtx, `SELECT count(*) FROM ff_exec_core`).Scan(&n); err != nil || n != 2 {
			t.Fatalf("executions = %d, %v; want 2", n, err)
		}
	})
}

// A blocked execution's detail follows the limit that holds it: blocked by
// the cap, then, once a slot is free but the window full, by the rate.
func TestQuotaDetailFollowsLimit(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		q := quotaCreate(t, b, 60, 2, 1)
		ids := quotaAttached(t, b, q, 3)
		l := engClaim(t, b)
		quotaNoClaim(t, b)
		quotaWantBlocked(t, b, ids[1], q, "concurrency cap 1 reached")
		quotaWantBlocked(t, b, ids[2], q, "concurrency cap 1 reached")
		if err := b.Complete(engCtx, l.Handle, nil); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
		quotaUnblock(t, b, clock, 1) // room for one: the older
		if l = engClaim(t, b); l.ExecutionID != ids[1] {
			t.Fatalf("claim = %s, want %s", l.ExecutionID, ids[1])
		}
		if err := b.Complete(engCtx, l.Handle, nil); err != nil {
			t.Fatal(err)
		}
		quotaUnblock(t, b, clock, 0)
		quotaWantBlocked(t, b, ids[2], q, "rate limit 2 per 60s reached (retry after 59000 ms)")
		clock.Advance(time.Second)
		quotaUnblock(t, b, clock, 0) // same limit: the detail is kept
		quotaWantBlocked(t, b, ids[2], q, "rate limit 2 per 60s reached (retry after 59000 ms)")
		quotaNoDrift(t, b)
	})
}

// The admitted set stays about the slots held: without a rate limit a
// marker only marks a slot, and the next admission drops the markers of
// executions whose lease ended.
func TestQuotaMarkersBounded(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		q := quotaCreate(t, b, 60, 0, 2)
		for range 20 {
			quotaAttached(t, b, q, 1)
			l := engClaim(t, b)
			if err := b.Complete(engCtx, l.Handle, nil); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Millisecond)
		}
		var n int
		if err := b.ReaderDB().QueryRowContext(engCtx, `SELECT count(*) FROM ff_quota_admitted`).Scan(&n); err != nil || n > 1 {
			t.Fatalf("admitted markers = %d, %v; want at most 1", n, err)
		}
	})
}

// An execution whose quota policy is gone is no longer limited: the
// reconciler unblocks it and a claim leases it. A pass with limit 0 does
// nothing.
func TestQuotaPolicyGone(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		q := quotaCreate(t, b, 60, 1, 0)
		ids := quotaAttached(t, b, q, 2)
		engClaim(t, b)
		quotaNoClaim(t, b)
		quotaWantBlocked(t, b, ids[1], q, "rate limit 1 per 60s reached")
		if rep, err := b.UnblockQuotas(engCtx, clock.MS(), 0); err != nil || rep.Processed != 0 {
			t.Fatalf("limit 0: %+v, %v", rep, err)
		}
		engExec(t, b, `DELETE FROM ff_quota_policy WHERE quota_policy_id = ?`, q)
		quotaUnblock(t, b, clock, 1)
		if l := engClaim(t, b); l.ExecutionID != ids[1] {
			t.Fatalf("claim = %s, want %s", l.ExecutionID, ids[1])
		}
		quotaNoDrift(t, b)
	})
}

// TestQuotaUnblockReachesEveryQuota: the unblock reconciler's batch must
// not be used up by executions whose quota still refuses them. Quota A
// (cap 1) holds a backlog of more blocked executions than one batch;
// quota B (cap 1) blocks one; once B's slot is free its execution must be
// unblocked by the next pass. Before the fix every pass re-checked the
// same first batch (A's backlog, still refused) and B's execution stayed
// rate_limited for as long as A's backlog lasted.
func TestQuotaUnblockReachesEveryQuota(t *testing.T) {
	t.Parallel()
	b, clock := engOpen(t, true)
	qa := quotaCreate(t, b, 0, 0, 1)
	qb := quotaCreate(t, b, 0, 0, 1)
	as := quotaAttached(t, b, qa, backend.DefaultQuotaUnblockBatch+1)
	bs := quotaAttached(t, b, qb, 2)
	if l := engClaim(t, b); l.ExecutionID != as[0] {
		t.Fatalf("claim 1 = %s, want %s", l.ExecutionID, as[0])
	}
	lb := engClaim(t, b) // blocks as[1:] on the way
	if lb.ExecutionID != bs[0] {
		t.Fatalf("claim 2 = %s, want %s", lb.ExecutionID, bs[0])
	}
	quotaNoClaim(t, b) // blocks bs[1]
	quotaWantBlocked(t, b, as[len(as)-1], qa, "concurrency cap 1 reached")
	quotaWantBlocked(t, b, bs[1], qb, "concurrency cap 1 reached")
	if err := b.Complete(engCtx, lb.Handle, nil); err != nil {
		t.Fatal(err)
	}
	quotaUnblock(t, b, clock, 1)
	if s := engState(t, b, bs[1]); s != "waiting" {
		t.Fatalf("quota B's execution is %s after the pass, want waiting", s)
	}
	if l := engClaim(t, b); l.ExecutionID != bs[1] {
		t.Fatalf("claim 3 = %s, want %s", l.ExecutionID, bs[1])
	}
	quotaNoDrift(t, b)
}

// TestQuotaCountsSameMillisecondReadmission: with a rate of 2 per 60 s,
// X is claimed, fails with a zero backoff and is claimed again in the
// same millisecond: two admissions. Y's claim must be refused. The
// window's key (admission time, execution) used to drop X's second entry
// (ON CONFLICT DO NOTHING), so Y was admitted as a second.
func TestQuotaCountsSameMillisecondReadmission(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		q := quotaCreate(t, b, 60, 2, 0)
		x := engCreate(t, b, engPrio(5), engPolicy(`{"quota_policy_id":"`+q+`",
			"retry_policy":{"max_retries":3,"backoff":{"type":"fixed","delay_ms":0}}}`))
		engCreate(t, b, engPolicy(`{"quota_policy_id":"`+q+`"}`))
		l := engClaim(t, b)
		if l.ExecutionID != x {
			t.Fatalf("first claim took %s, want %s", l.ExecutionID, x)
		}
		if _, err := b.Fail(engCtx, l.Handle, backend.FailArgs{Class: backend.FailTransient, Reason: "again"}); err != nil {
			t.Fatal(err)
		}
		if l := engClaim(t, b); l.ExecutionID != x { // the clock has not moved
			t.Fatalf("second claim took %s, want %s's retry", l.ExecutionID, x)
		}
		if l, err := b.Claim(engCtx, engClaimArgs()); err != nil || l != nil {
			t.Fatalf("a third admission within the window of 2: leased %v, %v", l != nil, err)
		}
		var n int
		if err := b.ReaderDB().QueryRowContext(engCtx, `SELECT count(*) FROM ff_quota_window`).Scan(&n); err != nil || n != 2 {
			t.Fatalf("window entries = %d (%v), want 2", n, err)
		}
	})
}
