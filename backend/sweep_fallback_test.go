package backend_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// TestSweepPerRowFallback: when one row of a reconciler batch fails, the
// chunk it is in is retried one row per transaction, so only that row is
// lost. A test-only trigger that RAISEs on any UPDATE of one execution
// row makes that row fail in every reconciler; more rows are due than one
// write transaction handles (sweepChunk, 32), so the batch spans a
// successful chunk and the failing one. Every other row must be processed,
// the bad one left exactly as it was, exactly one error counted and
// logged with its execution id, and the invariants must hold.
func TestSweepPerRowFallback(t *testing.T) {
	t.Parallel()
	const n = 40
	type setup func(t *testing.T, b *backend.Backend, clock *testdb.Clock) (ids []backend.ExecutionID, now int64)
	claimAll := func(t *testing.T, b *backend.Backend, policy string) []backend.ExecutionID {
		var ids []backend.ExecutionID
		for i := range n {
			engCreate(t, b, engPolicy(policy), func(a *backend.CreateExecutionArgs) { a.ExecutionID = backend.NewExecutionID(uint16(i)) })
		}
		for range n {
			ids = append(ids, engClaim(t, b, func(a *backend.ClaimArgs) { a.LeaseTTLMS = 1000 }).ExecutionID)
		}
		return ids
	}
	for _, tc := range []struct {
		name  string
		sweep engSweepFn
		setup setup
	}{
		{"promote_delayed", engPromote, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) ([]backend.ExecutionID, int64) {
			due := engT0 + 1000
			var ids []backend.ExecutionID
			for i := range n {
				ids = append(ids, engCreate(t, b, func(a *backend.CreateExecutionArgs) {
					a.ExecutionID, a.DelayUntil = backend.NewExecutionID(uint16(i)), &due
				}))
			}
			return ids, due
		}},
		{"expire_leases", engExpire, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) ([]backend.ExecutionID, int64) {
			return claimAll(t, b, ``), clock.MS() + 1000
		}},
		{"timeout_attempts", engTimeout, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) ([]backend.ExecutionID, int64) {
			return claimAll(t, b, `{"timeout_policy":{"attempt_timeout_ms":300}}`), clock.MS() + 300
		}},
		{"expire_deadlines", engDeadline, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) ([]backend.ExecutionID, int64) {
			return claimAll(t, b, `{"timeout_policy":{"execution_deadline_ms":500}}`), clock.MS() + 500
		}},
	} {
		for _, memory := range []bool{false, true} {
			name := tc.name + "/file"
			if memory {
				name = tc.name + "/memory"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				var logs bytes.Buffer
				clock := testdb.NewClock(engT0)
				opts := []testdb.Option{testdb.WithClock(clock.Now), func(o *backend.Options) {
					o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
				}}
				var b *backend.Backend
				if memory {
					b = testdb.OpenMemory(t, opts...)
				} else {
					b = testdb.Open(t, opts...)
				}
				ids, now := tc.setup(t, b, clock)
				bad := ids[n/3]
				before := map[backend.ExecutionID]backend.StateVector{}
				for _, id := range ids {
					before[id] = engInfo(t, b, id).StateVector
				}
				engExec(t, b, fmt.Sprintf(`CREATE TRIGGER test_bad_row BEFORE UPDATE ON ff_exec_core
WHEN OLD.partition_key = %d AND OLD.execution_id = x'%x'
BEGIN SELECT RAISE(ABORT, 'test: bad row'); END`, bad.Partition, bad.UUID[:]))

				rep, err := tc.sweep(b, engCtx, now, 2*n)
				if err != nil || rep.Processed != n-1 || rep.Errors != 1 {
					t.Fatalf("sweep = %+v, %v; want %d processed and 1 error", rep, err, n-1)
				}
				for _, id := range ids {
					got := engInfo(t, b, id).StateVector
					if id == bad && got != before[id] {
						t.Fatalf("the failing row changed: %+v -> %+v", before[id], got)
					}
					if id != bad && got == before[id] {
						t.Fatalf("%s was not processed: still %+v", id, got)
					}
				}
				warn := strings.Count(logs.String(), "reconciler row failed")
				if warn != 1 || !strings.Contains(logs.String(), bad.String()) || !strings.Contains(logs.String(), "test: bad row") {
					t.Fatalf("%d row-failure lines, want 1 naming %s:\n%s", warn, bad, logs.String())
				}
				engCheckInvariants(t, b)
				// The next pass meets the bad row again and only it.
				engExec(t, b, `DROP TRIGGER test_bad_row`)
				engSweep(t, b, tc.sweep, now, 2*n, 1)
			})
		}
	}
}
