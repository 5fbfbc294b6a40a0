package backend_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

func engCaps(c ...string) func(*backend.ClaimArgs) {
	return func(a *backend.ClaimArgs) { a.Capabilities = c }
}

func TestClaimNoWork(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		l, err := b.Claim(engCtx, engClaimArgs())
		if l != nil || err != nil {
			t.Fatalf("Claim on empty = %+v, %v", l, err)
		}
		engCreate(t, b, engLane("other"))
		if l, err := b.Claim(engCtx, engClaimArgs()); l != nil || err != nil {
			t.Fatalf("Claim on other lane = %+v, %v", l, err)
		}
	})
}

func TestClaimGrantsLease(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		id := engCreate(t, b, func(a *backend.CreateExecutionArgs) { a.InputPayload = []byte("in") })
		clock.Advance(time.Second)
		l := engClaim(t, b)
		now := clock.MS()
		if l.ExecutionID != id || l.AttemptIndex != 0 || l.AttemptType != "initial" || l.LeaseEpoch != 1 ||
			l.ExpiresAtMS != now+10_000 || string(l.InputPayload) != "in" || l.LaneID != "default" ||
			l.WorkerInstanceID != "w1-i1" {
			t.Fatalf("lease = %+v", l)
		}
		p, err := backend.DecodeHandle(l.Handle)
		if err != nil || p.ExecutionID != id || p.LeaseID != l.LeaseID || p.AttemptID != l.AttemptID ||
			p.LeaseEpoch != 1 || p.LeaseTTLMS != 10_000 || p.WorkerInstanceID != "w1-i1" {
			t.Fatalf("handle = %+v, %v", p, err)
		}
		info := engInfo(t, b, id)
		want := backend.StateVector{"active", "leased", "not_applicable", "none", "none", "running_attempt", "active"}
		if info.StateVector != want || info.StartedAt != fmt.Sprint(now) {
			t.Fatalf("info = %+v", info)
		}
		if ev := engJoin(engEvents(t, b, backend.OutboxLease, id)); ev != "acquired" {
			t.Fatalf("lease events = %s", ev)
		}
		att, err := b.ListAttempts(engCtx, id)
		if err != nil || len(att) != 1 || att[0].LeaseID != l.LeaseID || att[0].WorkerID != "w1" ||
			*att[0].LeaseExpiresAtMS != l.ExpiresAtMS || att[0].Outcome != "" {
			t.Fatalf("attempts = %+v, %v", att, err)
		}
		// Nothing else to claim.
		if l2, err := b.Claim(engCtx, engClaimArgs()); l2 != nil || err != nil {
			t.Fatalf("second claim = %+v, %v", l2, err)
		}
		engCheckInvariants(t, b)
	})
}

func TestClaimPriorityThenFIFO(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		// Same millisecond for the first four: ties break by insertion.
		a := engCreate(t, b, engPrio(0))
		bb := engCreate(t, b, engPrio(5))
		c := engCreate(t, b, engPrio(5))
		d := engCreate(t, b, engPrio(0))
		clock.Advance(time.Millisecond)
		e := engCreate(t, b, engPrio(9000))
		// An older, lower priority row and a newer same-priority row.
		clock.Set(engT0 - 1000)
		f := engCreate(t, b, engPrio(0))
		want := []backend.ExecutionID{e, bb, c, f, a, d}
		for i, w := range want {
			if l := engClaim(t, b); l.ExecutionID != w {
				t.Fatalf("claim %d = %s, want %s", i, l.ExecutionID, w)
			}
		}
	})
}

func TestClaimCapabilityRouting(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		required string
		worker   []string
		claims   bool
	}{
		{"empty requirement, no caps", ``, nil, true},
		{"empty requirement, caps", ``, []string{"gpu"}, true},
		{"empty list", `{"routing_requirements":{"required_capabilities":[]}}`, nil, true},
		{"exact", `{"routing_requirements":{"required_capabilities":["gpu","cuda"]}}`, []string{"cuda", "gpu"}, true},
		{"superset", `{"routing_requirements":{"required_capabilities":["gpu"]}}`, []string{"x", "gpu", "y"}, true},
		{"missing one", `{"routing_requirements":{"required_capabilities":["gpu","cuda"]}}`, []string{"gpu"}, false},
		{"none", `{"routing_requirements":{"required_capabilities":["gpu"]}}`, nil, false},
		{"case sensitive", `{"routing_requirements":{"required_capabilities":["gpu"]}}`, []string{"GPU"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b, _ := engOpen(t, true)
			id := engCreate(t, b, engPolicy(c.required))
			l, err := b.Claim(engCtx, engClaimArgs(engCaps(c.worker...)))
			if err != nil || (l != nil) != c.claims || (l != nil && l.ExecutionID != id) {
				t.Fatalf("Claim = %+v, %v; want claimed=%v", l, err, c.claims)
			}
		})
	}
}

func TestClaimSkipsIncapableHead(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		for range 20 {
			engCreate(t, b, engPrio(9000), engPolicy(`{"routing_requirements":{"required_capabilities":["gpu"]}}`))
		}
		plain := engCreate(t, b)
		if l := engClaim(t, b); l.ExecutionID != plain {
			t.Fatalf("claimed %s, want the capability-free %s", l.ExecutionID, plain)
		}
		if l := engClaim(t, b, engCaps("gpu")); l == nil {
			t.Fatal("gpu worker got nothing")
		}
	})
}

func TestClaimDueDelayedWithoutPromoter(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		d := engT0 + 500
		id := engCreate(t, b, func(a *backend.CreateExecutionArgs) { a.DelayUntil = &d })
		clock.Set(d - 1)
		if l, err := b.Claim(engCtx, engClaimArgs()); l != nil || err != nil {
			t.Fatalf("claim before due = %+v, %v", l, err)
		}
		clock.Set(d) // boundary: delay_until <= now is due
		l := engClaim(t, b)
		if l.ExecutionID != id || l.AttemptType != "initial" {
			t.Fatalf("lease = %+v", l)
		}
		if info := engInfo(t, b, id); info.BlockingDetail != "" || info.PublicState != "active" {
			t.Fatalf("info = %+v", info)
		}
		engCheckInvariants(t, b)
	})
}

func TestClaimAttemptTypes(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		id := engCreate(t, b, engPolicy(`{"retry_policy":{"max_retries":5,"backoff":{"type":"fixed","delay_ms":100}}}`))
		l0 := engClaim(t, b)
		started := engInfo(t, b, id).StartedAt
		if _, err := b.Fail(engCtx, l0.Handle, backend.FailArgs{Class: backend.FailTransient, Reason: "flaky"}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(100 * time.Millisecond)
		l1 := engClaim(t, b)
		if l1.AttemptType != "retry" || l1.AttemptIndex != 1 || l1.LeaseEpoch != 2 {
			t.Fatalf("retry lease = %+v", l1)
		}
		clock.Advance(20 * time.Second) // lease expires
		if rep, err := b.ExpireLeases(engCtx, clock.MS(), 10); err != nil || rep.Processed != 1 {
			t.Fatalf("ExpireLeases = %+v, %v", rep, err)
		}
		l2 := engClaim(t, b)
		if l2.AttemptType != "reclaim" || l2.AttemptIndex != 2 || l2.LeaseEpoch != 3 || l2.Handle.Kind != backend.HandleReclaimed {
			t.Fatalf("reclaim lease = %+v", l2)
		}
		if err := b.Complete(engCtx, l2.Handle, []byte("ok")); err != nil {
			t.Fatal(err)
		}
		if _, err := b.ReplayExecution(engCtx, backend.ReplayExecutionArgs{ExecutionID: id}); err != nil {
			t.Fatal(err)
		}
		l3 := engClaim(t, b)
		if l3.AttemptType != "replay" || l3.AttemptIndex != 3 || l3.LeaseEpoch != 4 {
			t.Fatalf("replay lease = %+v", l3)
		}
		if got := engInfo(t, b, id).StartedAt; got != started {
			t.Fatalf("started_at moved from %s to %s", started, got)
		}
		want := "acquired,released,acquired,expired,reclaimed,released,acquired"
		if ev := engJoin(engEvents(t, b, backend.OutboxLease, id)); ev != want {
			t.Fatalf("lease events = %s\nwant %s", ev, want)
		}
		engCheckInvariants(t, b)
	})
}

func TestClaimValidation(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, true)
	for _, mod := range []func(*backend.ClaimArgs){
		func(a *backend.ClaimArgs) { a.WorkerID = "" },
		func(a *backend.ClaimArgs) { a.WorkerInstanceID = "has space" },
		func(a *backend.ClaimArgs) { a.WorkerID = string(make([]byte, 257)) },
		func(a *backend.ClaimArgs) { a.LaneID = "" },
		func(a *backend.ClaimArgs) { a.LeaseTTLMS = -1 },
		engCaps("a,b"),
	} {
		_, err := b.Claim(engCtx, engClaimArgs(mod))
		engWantCode(t, err, backend.KindValidation, "")
	}
}

// TestClaimConcurrent: 16 claimers never get the same execution, and every
// execution is claimed exactly once.
func TestClaimConcurrent(t *testing.T) {
	for _, mem := range []bool{false, true} {
		t.Run(fmt.Sprintf("memory=%v", mem), func(t *testing.T) {
			t.Parallel()
			b, _ := engOpen(t, mem)
			const n = 300
			for range n {
				engCreate(t, b)
			}
			var (
				mu   sync.Mutex
				seen = map[backend.ExecutionID]string{}
				wg   sync.WaitGroup
				errs = make(chan error, 16)
			)
			for w := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					inst := fmt.Sprintf("w-%d", w)
					for {
						l, err := b.Claim(engCtx, engClaimArgs(func(a *backend.ClaimArgs) { a.WorkerInstanceID = inst }))
						if err != nil {
							errs <- err
							return
						}
						if l == nil {
							return
						}
						mu.Lock()
						if prev, dup := seen[l.ExecutionID]; dup {
							mu.Unlock()
							errs <- fmt.Errorf("%s claimed by %s and %s", l.ExecutionID, prev, inst)
							return
						}
						seen[l.ExecutionID] = inst
						mu.Unlock()
						if err := b.Complete(engCtx, l.Handle, nil); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if len(seen) != n {
				t.Fatalf("claimed %d of %d", len(seen), n)
			}
			engCheckInvariants(t, b)
		})
	}
}
