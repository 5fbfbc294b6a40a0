package backend_test

import (
	"database/sql"
	"encoding/json"
	"testing"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/suspension"
)

// Helpers shared by the durable-wait tests (prefix wait).

// waitSecret is the test keystore's first key.
var waitSecret = []byte("0123456789abcdef0123456789abcdef")

// waitOpen opens a fresh engine with the waitpoint key k1 seeded.
func waitOpen(t testing.TB, memory bool, opts ...testdb.Option) (*backend.Backend, *testdb.Clock) {
	t.Helper()
	clock := testdb.NewClock(engT0)
	opts = append([]testdb.Option{testdb.WithClock(clock.Now)}, opts...)
	var b *backend.Backend
	if memory {
		b = testdb.OpenMemory(t, opts...)
	} else {
		b = testdb.Open(t, opts...)
	}
	if ok, err := b.SeedWaitpointSecret(engCtx, "k1", waitSecret); err != nil || !ok {
		t.Fatalf("SeedWaitpointSecret = %v, %v", ok, err)
	}
	return b, clock
}

// waitBoth runs f on a file and an in-memory database.
func waitBoth(t *testing.T, f func(t *testing.T, b *backend.Backend, clock *testdb.Clock)) {
	for _, mem := range []bool{false, true} {
		name := "file"
		if mem {
			name = "memory"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, clock := waitOpen(t, mem)
			f(t, b, clock)
		})
	}
}

// waitArgs suspends on one fresh waitpoint with key "wpk:<id>" waiting for
// a signal named name.
func waitArgs(name string, mods ...func(*suspension.SuspendArgs)) suspension.SuspendArgs {
	wp := uuid.New()
	key := "wpk:" + wp.String()
	a := suspension.SuspendArgs{
		SuspensionID:    uuid.New(),
		Waitpoints:      []suspension.WaitpointBinding{suspension.Fresh(wp, key)},
		ResumeCondition: suspension.Single(key, suspension.ByName(name)),
		ResumePolicy:    suspension.DefaultResumePolicy(),
		ReasonCode:      suspension.ReasonWaitingForApproval,
		RequestedBy:     suspension.RequestedByWorker,
		TimeoutBehavior: suspension.TimeoutFail,
	}
	for _, m := range mods {
		m(&a)
	}
	return a
}

func waitTimeout(at int64, behavior suspension.TimeoutBehavior) func(*suspension.SuspendArgs) {
	return func(a *suspension.SuspendArgs) { a.TimeoutAt, a.TimeoutBehavior = &at, behavior }
}

// waitSuspend creates, claims and suspends an execution.
func waitSuspend(t testing.TB, b *backend.Backend, args suspension.SuspendArgs) (backend.ExecutionID, *backend.Lease, backend.SuspendOutcome) {
	t.Helper()
	id := engCreate(t, b)
	l := engClaim(t, b)
	if l.ExecutionID != id {
		t.Fatalf("claimed %s, want %s", l.ExecutionID, id)
	}
	out, err := b.Suspend(engCtx, l.Handle, args)
	if err != nil || out.AlreadySatisfied {
		t.Fatalf("Suspend = %+v, %v", out, err)
	}
	return id, l, out
}

// waitSignal builds a signal for a waitpoint.
func waitSignal(id backend.ExecutionID, wp, token, name string, mods ...func(*backend.DeliverSignalArgs)) backend.DeliverSignalArgs {
	a := backend.DeliverSignalArgs{
		ExecutionID: id, WaitpointID: uuid.MustParse(wp), SignalID: uuid.New(), SignalName: name,
		SignalCategory: "human_review", SourceType: "human", SourceIdentity: "alice",
		TargetScope: "execution", WaitpointToken: token,
	}
	for _, m := range mods {
		m(&a)
	}
	return a
}

// waitDeliver delivers and fails on error.
func waitDeliver(t testing.TB, b *backend.Backend, a backend.DeliverSignalArgs) backend.DeliverSignalResult {
	t.Helper()
	res, err := b.DeliverSignal(engCtx, a)
	if err != nil {
		t.Fatalf("DeliverSignal(%s) = %v", a.SignalName, err)
	}
	return res
}

// waitVector reads the execution's state vector.
func waitVector(t testing.TB, b *backend.Backend, id backend.ExecutionID) backend.StateVector {
	t.Helper()
	return engInfo(t, b, id).StateVector
}

// waitRow reads one column expression of a table row of the execution.
func waitScalar(t testing.TB, b *backend.Backend, q string, args ...any) sql.NullString {
	t.Helper()
	var v sql.NullString
	if err := b.ReaderDB().QueryRowContext(engCtx, q, args...).Scan(&v); err != nil && err != sql.ErrNoRows {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

// waitSuspensionState is the suspension record's state and close reason.
func waitSuspensionState(t testing.TB, b *backend.Backend, id backend.ExecutionID) string {
	t.Helper()
	v := waitScalar(t, b, `SELECT json_extract(member_map, '$.state') || '/' || COALESCE(json_extract(member_map, '$.close_reason'), '')
FROM ff_suspension_current WHERE partition_key = ? AND execution_id = ?`, int64(id.Partition), id.UUID[:])
	return v.String
}

// waitWaitpointState is a waitpoint's state and close reason.
func waitWaitpointState(t testing.TB, b *backend.Backend, wp string) string {
	t.Helper()
	u := uuid.MustParse(wp)
	v := waitScalar(t, b, `SELECT state || '/' || COALESCE(json_extract(condition, '$.close_reason'), '')
FROM ff_waitpoint_pending WHERE waitpoint_id = ?`, u[:])
	return v.String
}

// waitSnapshot is a fingerprint of every durable-wait table and the
// execution rows, to show that a refused call changed nothing.
func waitSnapshot(t testing.TB, b *backend.Backend) string {
	t.Helper()
	var s string
	err := b.ReaderDB().QueryRowContext(engCtx, `SELECT
  (SELECT group_concat(hex(execution_id) || lifecycle_phase || public_state || attempt_state || raw_fields, ';') FROM ff_exec_core) || '|' ||
  (SELECT COALESCE(group_concat(hex(execution_id) || attempt_index || lease_epoch || COALESCE(lease_expires_at_ms, '-') || COALESCE(outcome, '-') || raw_fields, ';'), '') FROM ff_attempt) || '|' ||
  (SELECT COALESCE(group_concat(hex(waitpoint_id) || state || COALESCE(condition, '') || COALESCE(expires_at_ms, '-'), ';'), '') FROM ff_waitpoint_pending) || '|' ||
  (SELECT COALESCE(group_concat(hex(execution_id) || member_map || satisfied_set || COALESCE(timeout_at_ms, '-'), ';'), '') FROM ff_suspension_current) || '|' ||
  (SELECT count(*) FROM ff_signal_event) || '|' || (SELECT count(*) FROM ff_lease_event) || '|' ||
  (SELECT count(*) FROM ff_completion_event) || '|' || (SELECT count(*) FROM ff_suspend_dedup)`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitCheckInvariants adds the durable-wait invariants to
// engCheckInvariants: suspended ⇔ one open suspension; active waitpoints
// only under an open suspension, none of a terminal execution; closed rows leave the partial indexes;
// a paused attempt only on an interrupted, suspended or runnable
// execution.
func waitCheckInvariants(t testing.TB, b *backend.Backend) {
	t.Helper()
	engCheckInvariants(t, b)
	checks := map[string]string{
		"suspended without an open suspension": `SELECT count(*) FROM ff_exec_core e WHERE (e.lifecycle_phase = 'suspended') <>
  EXISTS (SELECT 1 FROM ff_suspension_current s WHERE s.partition_key = e.partition_key AND s.execution_id = e.execution_id
          AND json_extract(s.member_map, '$.state') = 'open')`,
		"active waitpoint without an open suspension": `SELECT count(*) FROM ff_waitpoint_pending w WHERE w.state = 'active' AND NOT EXISTS
  (SELECT 1 FROM ff_suspension_current s WHERE s.partition_key = w.partition_key AND s.execution_id = w.execution_id
   AND json_extract(s.member_map, '$.state') = 'open')`,
		"closed suspension keeps a timeout": `SELECT count(*) FROM ff_suspension_current
  WHERE json_extract(member_map, '$.state') <> 'open' AND timeout_at_ms IS NOT NULL`,
		"open waitpoint of a terminal execution": `SELECT count(*) FROM ff_waitpoint_pending w JOIN ff_exec_core e
  ON e.partition_key = w.partition_key AND e.execution_id = w.execution_id
  WHERE w.state IN ('pending', 'active') AND e.lifecycle_phase = 'terminal'`,
		"closed waitpoint keeps an expiry": `SELECT count(*) FROM ff_waitpoint_pending WHERE state = 'closed' AND expires_at_ms IS NOT NULL`,
		"paused attempt on the wrong execution": `SELECT count(*) FROM ff_attempt a JOIN ff_exec_core e
  ON e.partition_key = a.partition_key AND e.execution_id = a.execution_id
  WHERE a.outcome IS NULL AND a.lease_expires_at_ms IS NULL
    AND (e.attempt_index <> a.attempt_index OR e.attempt_state <> 'attempt_interrupted'
         OR e.lifecycle_phase NOT IN ('suspended', 'runnable'))`,
	}
	for what, q := range checks {
		var n int
		if err := b.ReaderDB().QueryRowContext(engCtx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("invariant broken: %s (%d rows)", what, n)
		}
	}
}

// waitJSON renders v as JSON for comparisons.
func waitJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
