package backend_test

import (
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/suspension"
)

// Every way an upstream ends resolves its edges in that transaction: the
// child is waiting after a success and skipped after anything else, with
// no reconciler run.
func TestFlowEveryTerminalPathResolves(t *testing.T) {
	t.Parallel()
	claim := func(t *testing.T, b *backend.Backend, id backend.ExecutionID) *backend.Lease {
		return flowClaimID(t, b, id)
	}
	cases := []struct {
		name   string
		policy string
		end    func(t *testing.T, b *backend.Backend, c *testdb.Clock, id backend.ExecutionID)
		want   string // the upstream's state
	}{
		{"complete", "", func(t *testing.T, b *backend.Backend, _ *testdb.Clock, id backend.ExecutionID) {
			if err := b.Complete(engCtx, claim(t, b, id).Handle, nil); err != nil {
				t.Fatal(err)
			}
		}, backend.StateCompleted},
		{"terminal fail", "", func(t *testing.T, b *backend.Backend, _ *testdb.Clock, id backend.ExecutionID) {
			flowFail(t, b, id)
		}, backend.StateFailed},
		{"operator cancel", "", func(t *testing.T, b *backend.Backend, _ *testdb.Clock, id backend.ExecutionID) {
			if _, err := b.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: id, Reason: "r"}); err != nil {
				t.Fatal(err)
			}
		}, backend.StateCancelled},
		{"holder cancel", "", func(t *testing.T, b *backend.Backend, _ *testdb.Clock, id backend.ExecutionID) {
			if _, err := b.CancelByHolder(engCtx, claim(t, b, id).Handle, "r"); err != nil {
				t.Fatal(err)
			}
		}, backend.StateCancelled},
		{"deadline", `{"timeout_policy":{"execution_deadline_ms":1000}}`, func(t *testing.T, b *backend.Backend, c *testdb.Clock, id backend.ExecutionID) {
			claim(t, b, id)
			c.Advance(2 * time.Second)
			if rep, err := b.ExpireDeadlines(engCtx, c.MS(), 10); err != nil || rep.Processed != 1 {
				t.Fatalf("ExpireDeadlines = %+v, %v", rep, err)
			}
		}, backend.StateExpired},
		{"attempt timeout", `{"timeout_policy":{"attempt_timeout_ms":100}}`, func(t *testing.T, b *backend.Backend, c *testdb.Clock, id backend.ExecutionID) {
			claim(t, b, id)
			c.Advance(time.Second)
			if rep, err := b.TimeoutAttempts(engCtx, c.MS(), 10); err != nil || rep.Processed != 1 {
				t.Fatalf("TimeoutAttempts = %+v, %v", rep, err)
			}
		}, backend.StateFailed},
		{"reclaim cap", `{"max_reclaim_count":0}`, func(t *testing.T, b *backend.Backend, c *testdb.Clock, id backend.ExecutionID) {
			claim(t, b, id)
			c.Advance(time.Minute)
			if rep, err := b.ExpireLeases(engCtx, c.MS(), 10); err != nil || rep.Processed != 1 {
				t.Fatalf("ExpireLeases = %+v, %v", rep, err)
			}
		}, backend.StateFailed},
	}
	for _, behavior := range []struct {
		b    suspension.TimeoutBehavior
		want string
	}{{suspension.TimeoutFail, backend.StateFailed}, {suspension.TimeoutCancel, backend.StateCancelled}, {suspension.TimeoutExpire, backend.StateExpired}} {
		cases = append(cases, struct {
			name   string
			policy string
			end    func(t *testing.T, b *backend.Backend, c *testdb.Clock, id backend.ExecutionID)
			want   string
		}{"suspension timeout " + string(behavior.b), "", func(t *testing.T, b *backend.Backend, c *testdb.Clock, id backend.ExecutionID) {
			at := c.MS() + 1000
			if _, err := b.Suspend(engCtx, claim(t, b, id).Handle, waitArgs("go", waitTimeout(at, behavior.b))); err != nil {
				t.Fatal(err)
			}
			c.Advance(2 * time.Second)
			if rep, err := b.ExpireSuspensions(engCtx, c.MS(), 10); err != nil || rep.Processed != 1 {
				t.Fatalf("ExpireSuspensions = %+v, %v", rep, err)
			}
		}, behavior.want})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, clock := waitOpen(t, true)
			flow := flowNew(t, b)
			var mods []func(*backend.CreateExecutionArgs)
			if tc.policy != "" {
				mods = append(mods, engPolicy(tc.policy))
			}
			up := flowMember(t, b, flow, mods...)
			child := flowMember(t, b, flow)
			grandchild := flowMember(t, b, flow)
			flowEdge(t, b, flow, up, child)
			flowEdge(t, b, flow, child, grandchild)
			tc.end(t, b, clock, up)
			want := backend.StateSkipped
			if tc.want == backend.StateCompleted {
				want = backend.StateWaiting
			}
			if got := flowStates(t, b, up, child); got != tc.want+","+want {
				t.Fatalf("upstream, child: %s, want %s,%s", got, tc.want, want)
			}
			if want == backend.StateSkipped && engState(t, b, grandchild) != backend.StateSkipped {
				t.Fatalf("the skip did not cascade: %s", engState(t, b, grandchild))
			}
			waitCheckInvariants(t, b)
			engCheckStorage(t, b.ReaderDB())
			engCheckFlows(t, b.ReaderDB(), true)
		})
	}
}
