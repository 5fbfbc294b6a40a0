package backend_test

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// TestQuotaProperty drives random sequences (fixed seeds) of creates
// attached to a rate quota, a concurrency quota or none, claims one at a
// time and in batches, completions, failures with retries, cancels, lease
// expiry, clock steps and quota-unblock passes, and checks after every
// step: no quota ever has more attached executions active than its cap,
// no sliding window of a rate quota ever holds more claims than its limit,
// the ready index matches ff_exec_core and the state-vector invariants
// hold. At the end every execution must finish once time passes (nothing
// stays blocked).
func TestQuotaProperty(t *testing.T) {
	t.Parallel()
	for _, seed := range []int64{1, 2, 3, 4} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			b, clock := engOpen(t, seed%2 == 0)
			quotaProperty(t, b, clock, rand.New(rand.NewSource(seed)), 300)
		})
	}
}

func quotaProperty(t *testing.T, b *backend.Backend, clock *testdb.Clock, rng *rand.Rand, steps int) {
	const windowMS = 2000
	rateQ := quotaCreate(t, b, windowMS/1000, 3, 0)
	capQ := quotaCreate(t, b, 60, 0, 2)
	quotaOf := map[backend.ExecutionID]string{}
	claimsAt := map[string][]int64{}
	var leases []*backend.Lease
	var ids []backend.ExecutionID
	sawBlocked := 0 // the most executions blocked at once
	retry := `"retry_policy":{"max_retries":1,"backoff":{"type":"fixed","delay_ms":0}}`
	check := func(step int, what string) {
		t.Helper()
		active := map[string]int{}
		for id, q := range quotaOf {
			if info := engInfo(t, b, id); info.StateVector.LifecyclePhase == "active" {
				active[q]++
			}
		}
		if active[capQ] > 2 {
			t.Fatalf("step %d (%s): %d active under cap 2", step, what, active[capQ])
		}
		ts := claimsAt[rateQ]
		for i := range ts {
			n := 0
			for _, u := range ts[i:] {
				if u-ts[i] < windowMS {
					n++
				}
			}
			if n > 3 {
				t.Fatalf("step %d (%s): %d claims within %d ms of %d (limit 3)", step, what, n, windowMS, ts[i])
			}
		}
		var blocked int
		if err := b.ReaderDB().QueryRowContext(engCtx, `SELECT count(*) FROM ff_exec_core
			WHERE eligibility_state = 'blocked_by_quota'`).Scan(&blocked); err != nil {
			t.Fatal(err)
		}
		sawBlocked = max(sawBlocked, blocked)
		if step%10 == 0 {
			quotaNoDrift(t, b)
		} else {
			engCheckInvariants(t, b)
		}
	}
	took := func(ls ...*backend.Lease) {
		for _, l := range ls {
			leases = append(leases, l)
			if q, ok := quotaOf[l.ExecutionID]; ok {
				claimsAt[q] = append(claimsAt[q], clock.MS())
			}
		}
	}
	for step := range steps {
		var what string
		switch op := rng.Intn(10); {
		case op <= 1 || len(ids) == 0:
			what = "create"
			q := []string{rateQ, capQ, ""}[rng.Intn(3)]
			policy := `{` + retry + `}`
			if q != "" {
				policy = `{"quota_policy_id":"` + q + `",` + retry + `}`
			}
			id := engCreate(t, b, engPolicy(policy), engPrio(int32(rng.Intn(3))))
			ids = append(ids, id)
			if q != "" {
				quotaOf[id] = q
			}
		case op == 2:
			what = "claim"
			l, err := b.Claim(engCtx, engClaimArgs(func(a *backend.ClaimArgs) { a.LeaseTTLMS = int64(200 + rng.Intn(800)) }))
			if err != nil {
				t.Fatal(err)
			}
			if l != nil {
				took(l)
			}
		case op == 3:
			what = "claim many"
			ls, err := b.ClaimMany(engCtx, engClaimArgs(), 1+rng.Intn(5))
			if err != nil {
				t.Fatal(err)
			}
			took(ls...)
		case op == 4 && len(leases) > 0:
			what = "complete"
			_ = b.Complete(engCtx, leases[rng.Intn(len(leases))].Handle, nil) // stale handles are refused
		case op == 5 && len(leases) > 0:
			what = "fail"
			_, _ = b.Fail(engCtx, leases[rng.Intn(len(leases))].Handle, backend.FailArgs{Class: backend.FailTransient, Reason: "x"})
		case op == 6:
			what = "cancel"
			_, _ = b.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: ids[rng.Intn(len(ids))], Reason: "x"})
		case op == 7:
			what = "advance"
			clock.Advance(time.Duration(rng.Intn(700)) * time.Millisecond)
		case op == 8:
			what = "expire"
			if _, err := b.ExpireLeases(engCtx, clock.MS(), 10); err != nil {
				t.Fatal(err)
			}
		default:
			what = "unblock"
			if rep, err := b.UnblockQuotas(engCtx, clock.MS(), 1+rng.Intn(10)); err != nil || rep.Errors != 0 {
				t.Fatalf("UnblockQuotas = %+v, %v", rep, err)
			}
		}
		check(step, what)
	}
	// Drain: time passes, the reconciler unblocks, workers finish.
	for round := 0; ; round++ {
		if round > 200 {
			t.Fatal("executions still not finished after 200 drain rounds")
		}
		clock.Advance(61 * time.Second)
		if _, err := b.ExpireLeases(engCtx, clock.MS(), 1000); err != nil {
			t.Fatal(err)
		}
		if _, err := b.UnblockQuotas(engCtx, clock.MS(), 1000); err != nil {
			t.Fatal(err)
		}
		ls, err := b.ClaimMany(engCtx, engClaimArgs(), backend.MaxClaimBatch)
		if err != nil {
			t.Fatal(err)
		}
		took(ls...)
		for _, l := range ls {
			if err := b.Complete(engCtx, l.Handle, nil); err != nil {
				t.Fatal(err)
			}
		}
		check(round, "drain")
		done := true
		for _, id := range ids {
			if engInfo(t, b, id).StateVector.LifecyclePhase != "terminal" {
				done = false
				break
			}
		}
		if done {
			break
		}
	}
	if sawBlocked == 0 {
		t.Fatal("the sequence never blocked an execution")
	}
	t.Logf("%d executions, at most %d blocked at once", len(ids), sawBlocked)
}
