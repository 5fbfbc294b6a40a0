package backend_test

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
)

// TestStateVectorProperty drives random operation sequences (fixed seeds)
// and checks the state-vector and storage invariants (engCheckInvariants,
// engCheckStorage) after every step; TestConcurrentProperty runs
// operations concurrently. Calls on stale
// handles or in the wrong state must fail with a typed non-transport
// error and never corrupt the state.
func TestStateVectorProperty(t *testing.T) {
	t.Parallel()
	for _, seed := range []int64{1, 2, 3, 4, 5, 6} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			engProperty(t, seed, seed%2 == 0, 400)
		})
	}
}

func engProperty(t *testing.T, seed int64, memory bool, steps int) {
	rng := rand.New(rand.NewSource(seed))
	b, clock := engOpen(t, memory)
	lanes := []string{"a", "b"}
	policies := []string{
		``,
		`{"retry_policy":{"max_retries":2,"backoff":{"type":"fixed","delay_ms":50}}}`,
		`{"retry_policy":{"max_retries":3}}`,
		`{"timeout_policy":{"attempt_timeout_ms":300},"retry_policy":{"max_retries":1,"backoff":{"type":"fixed","delay_ms":0}}}`,
		`{"timeout_policy":{"execution_deadline_ms":2000}}`,
		`{"max_reclaim_count":1,"max_replay_count":1}`,
		`{"routing_requirements":{"required_capabilities":["gpu"]}}`,
	}
	var (
		ids    []backend.ExecutionID
		leases []*backend.Lease
	)
	pickID := func() backend.ExecutionID { return ids[rng.Intn(len(ids))] }
	pickLease := func() *backend.Lease { // mostly recent (likely live) leases
		if rng.Intn(5) > 0 {
			return leases[len(leases)-1-rng.Intn(min(3, len(leases)))]
		}
		return leases[rng.Intn(len(leases))]
	}
	// Operation weights: worker calls more often than operator calls.
	weights := []int{0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	ok := map[string]int{}
	// The storage checks read every row: every few steps (fewer under
	// the race detector), and after the last.
	storageEvery := 8
	if raceEnabled {
		storageEvery = 100
	}
	allowed := func(op string, err error) {
		t.Helper()
		if err == nil {
			ok[op]++
			return
		}
		switch backend.KindOf(err) {
		case backend.KindContention, backend.KindState, backend.KindValidation:
		default:
			t.Fatalf("%s: unexpected error %v", op, err)
		}
	}
	for step := range steps {
		op := weights[rng.Intn(len(weights))]
		if len(ids) == 0 {
			op = 0
		}
		if len(leases) == 0 && op >= 2 && op <= 4 {
			op = 1
		}
		name := ""
		switch op {
		case 0:
			name = "create"
			a := engArgs(engLane(lanes[rng.Intn(2)]), engPolicy(policies[rng.Intn(len(policies))]),
				engPrio(int32(rng.Intn(3))), func(a *backend.CreateExecutionArgs) {
					a.ExecutionID = backend.NewExecutionID(uint16(rng.Intn(4)))
					if rng.Intn(4) == 0 {
						d := clock.MS() + int64(rng.Intn(500))
						a.DelayUntil = &d
					}
				})
			_, err := b.CreateExecution(engCtx, a)
			allowed(name, err)
			ids = append(ids, a.ExecutionID)
		case 1:
			name = "claim"
			var caps []string
			if rng.Intn(2) == 0 {
				caps = []string{"gpu"}
			}
			l, err := b.Claim(engCtx, engClaimArgs(engCaps(caps...), func(a *backend.ClaimArgs) {
				a.LaneID = lanes[rng.Intn(2)]
				a.LeaseTTLMS = int64(100 + rng.Intn(400))
			}))
			allowed(name, err)
			if l != nil {
				leases = append(leases, l)
			}
		case 2:
			name = "renew"
			_, err := b.Renew(engCtx, pickLease().Handle, 0)
			allowed(name, err)
		case 3:
			name = "complete"
			allowed(name, b.Complete(engCtx, pickLease().Handle, []byte("r")))
		case 4:
			name = "fail"
			classes := []backend.FailureClass{backend.FailTransient, backend.FailPermanent, backend.FailInfraCrash}
			_, err := b.Fail(engCtx, pickLease().Handle, backend.FailArgs{Class: classes[rng.Intn(3)], Reason: "x"})
			allowed(name, err)
		case 5:
			name = "cancel"
			a := backend.CancelExecutionArgs{ExecutionID: pickID(), Reason: "r"}
			if rng.Intn(2) == 0 && len(leases) > 0 {
				l := pickLease()
				a.Source, a.LeaseEpoch = backend.SourceLeaseHolder, &l.LeaseEpoch
			}
			_, err := b.CancelExecution(engCtx, a)
			allowed(name, err)
		case 6:
			name = "revoke"
			_, err := b.RevokeLease(engCtx, backend.RevokeLeaseArgs{ExecutionID: pickID()})
			allowed(name, err)
		case 7:
			name = "replay"
			_, err := b.ReplayExecution(engCtx, backend.ReplayExecutionArgs{ExecutionID: pickID()})
			allowed(name, err)
		case 8:
			name = "priority"
			_, err := b.ChangePriority(engCtx, backend.ChangePriorityArgs{ExecutionID: pickID(), NewPriority: int32(rng.Intn(5))})
			allowed(name, err)
		case 9, 10:
			name = "advance"
			clock.Advance(time.Duration(rng.Intn(400)) * time.Millisecond)
		case 11:
			name = "promote"
			rep, err := b.PromoteDelayed(engCtx, clock.MS(), 1+rng.Intn(5))
			allowed(name, err)
			ok[name+"d"] += rep.Processed
		case 12, 13:
			name = "expire"
			rep, err := b.ExpireLeases(engCtx, clock.MS(), 1+rng.Intn(5))
			allowed(name, err)
			ok[name+"d"] += rep.Processed
		case 14:
			name = "timeout"
			rep, err := b.TimeoutAttempts(engCtx, clock.MS(), 1+rng.Intn(5))
			allowed(name, err)
			ok[name+"d"] += rep.Processed
		case 15:
			name = "deadline"
			rep, err := b.ExpireDeadlines(engCtx, clock.MS(), 1+rng.Intn(5))
			allowed(name, err)
			ok[name+"d"] += rep.Processed
		}
		if t.Failed() {
			t.Fatalf("step %d (%s) failed", step, name)
		}
		engCheckInvariants(t, b)
		if step%storageEvery == storageEvery-1 || step == steps-1 {
			engCheckStorage(t, b.ReaderDB())
		}
		if t.Failed() {
			t.Fatalf("step %d (%s) broke an invariant", step, name)
		}
	}
	t.Logf("successful operations: %v", ok)
	for _, op := range []string{"create", "claim", "renew", "complete", "fail", "cancel", "revoke", "replay", "expired"} {
		if ok[op] == 0 {
			t.Errorf("the sequence never succeeded at %s", op)
		}
	}
}
