package backend_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// Helpers shared by the engine data-plane tests (prefix eng).

const engT0 = int64(1_800_000_000_000)

var engCtx = context.Background()

// engOpen opens a fresh engine on a settable clock at engT0: a file
// database, or a private in-memory one.
func engOpen(t testing.TB, memory bool) (*backend.Backend, *testdb.Clock) {
	t.Helper()
	clock := testdb.NewClock(engT0)
	if memory {
		return testdb.OpenMemory(t, testdb.WithClock(clock.Now)), clock
	}
	return testdb.Open(t, testdb.WithClock(clock.Now)), clock
}

// engBoth runs f against a file and an in-memory database.
func engBoth(t *testing.T, f func(t *testing.T, b *backend.Backend, clock *testdb.Clock)) {
	for _, mem := range []bool{false, true} {
		name := "file"
		if mem {
			name = "memory"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, clock := engOpen(t, mem)
			f(t, b, clock)
		})
	}
}

// engArgs returns create args for a fresh id on lane "default".
func engArgs(mods ...func(*backend.CreateExecutionArgs)) backend.CreateExecutionArgs {
	a := backend.CreateExecutionArgs{
		ExecutionID: backend.NewExecutionID(7), Namespace: "ns", LaneID: "default",
		ExecutionKind: "task", InputPayload: []byte(`{}`), CreatorIdentity: "tester",
	}
	for _, m := range mods {
		m(&a)
	}
	return a
}

func engPolicy(p string) func(*backend.CreateExecutionArgs) {
	return func(a *backend.CreateExecutionArgs) { a.Policy = json.RawMessage(p) }
}

func engLane(l string) func(*backend.CreateExecutionArgs) {
	return func(a *backend.CreateExecutionArgs) { a.LaneID = l }
}

func engPrio(p int32) func(*backend.CreateExecutionArgs) {
	return func(a *backend.CreateExecutionArgs) { a.Priority = p }
}

// engCreate creates an execution and returns its id.
func engCreate(t testing.TB, b *backend.Backend, mods ...func(*backend.CreateExecutionArgs)) backend.ExecutionID {
	t.Helper()
	a := engArgs(mods...)
	res, err := b.CreateExecution(engCtx, a)
	if err != nil || res.Duplicate {
		t.Fatalf("CreateExecution = %+v, %v", res, err)
	}
	return a.ExecutionID
}

// engClaimArgs is a worker on lane "default" without capabilities.
func engClaimArgs(mods ...func(*backend.ClaimArgs)) backend.ClaimArgs {
	c := backend.ClaimArgs{WorkerID: "w1", WorkerInstanceID: "w1-i1", LaneID: "default", LeaseTTLMS: 10_000}
	for _, m := range mods {
		m(&c)
	}
	return c
}

// engClaim claims and fails the test when nothing is granted.
func engClaim(t testing.TB, b *backend.Backend, mods ...func(*backend.ClaimArgs)) *backend.Lease {
	t.Helper()
	l, err := b.Claim(engCtx, engClaimArgs(mods...))
	if err != nil || l == nil {
		t.Fatalf("Claim = %+v, %v", l, err)
	}
	return l
}

func engState(t testing.TB, b *backend.Backend, id backend.ExecutionID) string {
	t.Helper()
	s, err := b.GetPublicState(engCtx, id)
	if err != nil {
		t.Fatalf("GetPublicState(%s): %v", id, err)
	}
	return s
}

func engInfo(t testing.TB, b *backend.Backend, id backend.ExecutionID) *backend.ExecutionInfo {
	t.Helper()
	info, err := b.GetExecutionInfo(engCtx, id)
	if err != nil {
		t.Fatalf("GetExecutionInfo(%s): %v", id, err)
	}
	return info
}

// engWantCode fails unless err is an engine error of kind k and code.
func engWantCode(t testing.TB, err error, k backend.Kind, code string) {
	t.Helper()
	var e *backend.Error
	if !errors.As(err, &e) || e.Kind != k || (code != "" && e.Code != code) {
		t.Fatalf("error = %v (%#v); want kind %s code %q", err, e, k, code)
	}
}

// engExec runs one statement on the writer, for test setup only.
func engExec(t testing.TB, b *backend.Backend, q string, args ...any) {
	t.Helper()
	err := b.WriteTx(engCtx, "test", func(ctx context.Context, tx *backend.Txn) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// engEvents reads an outbox's rows as "type" strings for one execution.
func engEvents(t testing.TB, b *backend.Backend, o backend.Outbox, id backend.ExecutionID) []string {
	t.Helper()
	var q string
	switch o {
	case backend.OutboxCompletion:
		part := int64(id.Partition)
		rows, err := b.ReaderDB().QueryContext(engCtx,
			`SELECT outcome FROM ff_completion_event WHERE partition_key = ? AND execution_id = ? ORDER BY event_id`,
			part, id.UUID[:])
		return engStrings(t, rows, err)
	case backend.OutboxLease:
		q = `SELECT event_type FROM ff_lease_event WHERE execution_id = ? ORDER BY event_id`
	default:
		q = `SELECT event_type FROM ff_operator_event WHERE execution_id = ? ORDER BY event_id`
	}
	rows, err := b.ReaderDB().QueryContext(engCtx, q, id.String())
	return engStrings(t, rows, err)
}

func engStrings(t testing.TB, rows *sql.Rows, err error) []string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func engJoin(s []string) string { return strings.Join(s, ",") }

// engCheckInvariants verifies the state-vector invariants of every
// execution: public_state is the derivation of the other dimensions;
// active ⇔ exactly one running attempt holding a lease slot (and it is the
// current one); terminal ⇔ terminal_at_ms set; ownership and delay fields
// agree with the phase.
func engCheckInvariants(t testing.TB, b *backend.Backend) {
	t.Helper()
	rows, err := b.ReaderDB().QueryContext(engCtx, `SELECT e.partition_key, hex(e.execution_id),
  e.lifecycle_phase, e.ownership_state, e.eligibility_state, COALESCE(e.blocking_reason, ''),
  COALESCE(json_extract(e.raw_fields, '$.terminal_outcome'), ''), e.attempt_state, e.public_state,
  e.terminal_at_ms IS NOT NULL, json_extract(e.raw_fields, '$.delay_until') IS NOT NULL, e.attempt_index,
  (SELECT count(*) FROM ff_attempt a WHERE a.partition_key = e.partition_key AND a.execution_id = e.execution_id
     AND a.outcome IS NULL AND a.lease_expires_at_ms IS NOT NULL),
  (SELECT count(*) FROM ff_attempt a WHERE a.partition_key = e.partition_key AND a.execution_id = e.execution_id
     AND a.attempt_index = e.attempt_index AND a.outcome IS NULL AND a.lease_expires_at_ms IS NOT NULL),
  (SELECT count(*) FROM ff_attempt a WHERE a.partition_key = e.partition_key AND a.execution_id = e.execution_id
     AND (a.outcome IS NULL) <> (a.terminal_at_ms IS NULL))
FROM ff_exec_core e`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			part                                  int64
			hex                                   string
			sv                                    backend.StateVector
			terminalAt, delaySet                  bool
			idx, live, liveCurrent, badAttemptEnd int64
		)
		if err := rows.Scan(&part, &hex, &sv.LifecyclePhase, &sv.OwnershipState, &sv.EligibilityState,
			&sv.BlockingReason, &sv.TerminalOutcome, &sv.AttemptState, &sv.PublicState, &terminalAt, &delaySet,
			&idx, &live, &liveCurrent, &badAttemptEnd); err != nil {
			t.Fatal(err)
		}
		where := fmt.Sprintf("execution %d:%s %+v", part, hex, sv)
		if !sv.Consistent() {
			t.Fatalf("%s: public_state is not the derived %q", where,
				backend.DerivePublicState(sv.LifecyclePhase, sv.EligibilityState, sv.TerminalOutcome))
		}
		active := sv.LifecyclePhase == "active"
		if active != (live == 1 && liveCurrent == 1) || live > 1 {
			t.Fatalf("%s: active=%v but %d live attempts (%d current)", where, active, live, liveCurrent)
		}
		terminal := sv.LifecyclePhase == "terminal"
		if terminal != terminalAt {
			t.Fatalf("%s: terminal=%v but terminal_at_ms set=%v", where, terminal, terminalAt)
		}
		if terminal != (sv.TerminalOutcome != "none") {
			t.Fatalf("%s: terminal=%v with terminal_outcome %q", where, terminal, sv.TerminalOutcome)
		}
		if active != (sv.OwnershipState == "leased" || sv.OwnershipState == "lease_revoked") ||
			(!active && sv.OwnershipState != "unowned") {
			t.Fatalf("%s: ownership %q in phase %q", where, sv.OwnershipState, sv.LifecyclePhase)
		}
		if (sv.PublicState == backend.StateDelayed) != delaySet {
			t.Fatalf("%s: delayed=%v but delay_until set=%v", where, sv.PublicState == backend.StateDelayed, delaySet)
		}
		if active && sv.AttemptState != "running_attempt" {
			t.Fatalf("%s: active with attempt_state %q", where, sv.AttemptState)
		}
		if badAttemptEnd != 0 {
			t.Fatalf("%s: an attempt has outcome and terminal_at_ms out of step", where)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// engQueryPlan returns the detail lines of EXPLAIN QUERY PLAN of q with
// args, run on b's read pool.
func engQueryPlan(t *testing.T, b *backend.Backend, q string, args ...any) []string {
	t.Helper()
	rows, err := b.ReaderDB().QueryContext(engCtx, "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}
