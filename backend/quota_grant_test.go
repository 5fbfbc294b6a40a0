package backend_test

import (
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// TestQuotaCapHeldByGrant: a route-14 grant admits its execution at
// issue, so while the grant is live the execution holds one of its
// quota's slots although it is still waiting. With a cap of 1, no second
// grant, plain claim or batch claim of another attached execution is
// admitted until the grant is consumed and its lease ends, or the grant
// expires unused.
func TestQuotaCapHeldByGrant(t *testing.T) {
	for _, tc := range []struct {
		name   string
		second func(t *testing.T, b *backend.Backend) backend.ExecutionID // "" when nothing was admitted
	}{
		{"grant", func(t *testing.T, b *backend.Backend) backend.ExecutionID {
			g, err := b.IssueClaimGrant(engCtx, grantArgs(func(a *backend.ClaimGrantArgs) { a.WorkerID = "w2" }))
			if err != nil || g == nil {
				return backend.ExecutionID{}
			}
			return g.ExecutionID
		}},
		{"claim", func(t *testing.T, b *backend.Backend) backend.ExecutionID {
			l, err := b.Claim(engCtx, engClaimArgs())
			if err != nil || l == nil {
				return backend.ExecutionID{}
			}
			return l.ExecutionID
		}},
		{"claim_many", func(t *testing.T, b *backend.Backend) backend.ExecutionID {
			ls, err := b.ClaimMany(engCtx, engClaimArgs(), 5)
			if err != nil || len(ls) == 0 {
				return backend.ExecutionID{}
			}
			return ls[0].ExecutionID
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
				q := quotaCreate(t, b, 60, 0, 1)
				ids := quotaAttached(t, b, q, 2)
				g := mustGrant(t, b)
				if g.ExecutionID != ids[0] {
					t.Fatalf("grant = %s, want %s", g.ExecutionID, ids[0])
				}
				if got := tc.second(t, b); got != (backend.ExecutionID{}) {
					t.Fatalf("admitted %s while the grant of %s holds the only slot", got, ids[0])
				}
				quotaWantBlocked(t, b, ids[1], q, "concurrency cap 1 reached")
				quotaUnblock(t, b, clock, 0)
				lease, err := b.ClaimFromGrant(engCtx, fromGrant(g))
				if err != nil {
					t.Fatal(err)
				}
				quotaUnblock(t, b, clock, 0)
				if err := b.Complete(engCtx, lease.Handle, nil); err != nil {
					t.Fatal(err)
				}
				quotaUnblock(t, b, clock, 1)
				if l := engClaim(t, b); l.ExecutionID != ids[1] {
					t.Fatalf("claim after the release = %s, want %s", l.ExecutionID, ids[1])
				}
				quotaNoDrift(t, b)
			})
		})
	}
}

// TestQuotaCapGrantExpiry: an unconsumed grant's slot is free again once
// the grant expired (expires_at_ms <= now).
func TestQuotaCapGrantExpiry(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		q := quotaCreate(t, b, 60, 0, 1)
		ids := quotaAttached(t, b, q, 2)
		g := mustGrant(t, b)
		clock.Advance(4_999 * time.Millisecond)
		quotaNoClaim(t, b)
		quotaWantBlocked(t, b, ids[1], q, "concurrency cap 1 reached")
		clock.Set(g.ExpiresAtMS)
		quotaUnblock(t, b, clock, 1)
		l := engClaim(t, b)
		if l.ExecutionID != ids[0] && l.ExecutionID != ids[1] {
			t.Fatalf("claim after the grant expired = %s", l.ExecutionID)
		}
		quotaNoClaim(t, b)
	})
}

// TestQuotaSlotFreedWhenGrantedExecutionEnds: a live claim grant holds its
// execution's quota slot only while the execution waits for the grant's
// consumption. Once the execution ends another way (an operator cancel of
// the granted execution), the slot is free at once, not when the unused
// grant expires: before the fix a cancelled execution kept its slot, and
// the other attached executions were refused, for the grant's whole life.
func TestQuotaSlotFreedWhenGrantedExecutionEnds(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		q := quotaCreate(t, b, 60, 0, 1)
		ids := quotaAttached(t, b, q, 2)
		g := mustGrant(t, b)
		if g.ExecutionID != ids[0] {
			t.Fatalf("grant = %s, want %s", g.ExecutionID, ids[0])
		}
		if _, err := b.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: ids[0], Reason: "stop"}); err != nil {
			t.Fatal(err)
		}
		l, err := b.Claim(engCtx, engClaimArgs())
		if err != nil || l == nil || l.ExecutionID != ids[1] {
			t.Fatalf("claim after the granted execution was cancelled = %+v, %v; want %s", l, err, ids[1])
		}
	})
}
