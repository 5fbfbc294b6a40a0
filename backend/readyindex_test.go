package backend_test

import (
	"database/sql"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/schemafacts"
)

// Tests of the claim's ready index (readyindex.go) against the schema-only
// claim query, which reads the file's rows and nothing else.

// readySecond opens a second connection on b's database, outside the
// engine: its writes are another connection's, which the index's TEMP
// triggers never see.
func readySecond(t *testing.T, b *backend.Backend) *sql.DB {
	t.Helper()
	dsn := "file:" + b.Path() + "?_pragma=busy_timeout(5000)"
	if b.IsMemory() {
		dsn = b.Path() + "&_pragma=busy_timeout(5000)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// readyExpected runs the schema-only claim query on the reader: the ids
// a claim of lane by a worker with caps at now takes, best first, at most
// limit of them.
func readyExpected(t *testing.T, b *backend.Backend, lane string, now int64, caps []string, limit int) []string {
	t.Helper()
	q := backend.ClaimPickSchemaSQLForTest()
	if !strings.HasSuffix(q, "LIMIT 1") {
		t.Fatalf("the schema-only claim query no longer ends with LIMIT 1:\n%s", q)
	}
	q = strings.TrimSuffix(q, "LIMIT 1") + fmt.Sprintf("LIMIT %d", limit)
	capsJSON := "[]"
	if len(caps) > 0 {
		capsJSON = `["` + strings.Join(caps, `","`) + `"]`
	}
	rows, err := b.ReaderDB().QueryContext(engCtx, q, lane, now, capsJSON)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var (
			part  int64
			key   []byte
			state string
		)
		if err := rows.Scan(&part, &key, &state); err != nil {
			t.Fatal(err)
		}
		id := backend.ExecutionID{Partition: uint16(part)}
		copy(id.UUID[:], key)
		out = append(out, id.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReadyIndexMatchesSchemaClaim drives random sequences — creates with
// random lane, priority, delay and required capabilities; claims by
// workers with random capability sets; completes, fails with and without
// retry, cancels, revokes, replays, priority changes, suspends, worker
// delays and operator resumes (resumed claims), the reconcilers;
// the clock moving forward and back; and writes by a second connection
// (priority, lane, delay, blocked and suspended states, inserts, deletes)
// — and checks every claim (and PeekClaimable's answer before it) against
// the schema-only claim query run just before it, and, every few steps,
// that the index holds exactly what a rebuild would.
func TestReadyIndexMatchesSchemaClaim(t *testing.T) {
	t.Parallel()
	for _, seed := range []int64{1, 2, 3, 4, 5, 6} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			readyProperty(t, seed, seed%2 == 0, 500)
		})
	}
}

func readyProperty(t *testing.T, seed int64, memory bool, steps int) {
	rng := rand.New(rand.NewSource(seed))
	b, clock := waitOpen(t, memory) // the waitpoint key, for suspends
	second := readySecond(t, b)
	lanes := []string{"a", "b"}
	capSets := [][]string{nil, {"gpu"}, {"cpu"}, {"gpu", "cpu"}, {"tpu", "gpu"}}
	policies := []string{
		``,
		`{"retry_policy":{"max_retries":2,"backoff":{"type":"fixed","delay_ms":50}}}`,
		`{"retry_policy":{"max_retries":3,"backoff":{"type":"fixed","delay_ms":300}}}`,
		`{"routing_requirements":{"required_capabilities":["gpu"]}}`,
		`{"routing_requirements":{"required_capabilities":["gpu","cpu"]}}`,
		`{"routing_requirements":{"required_capabilities":["tpu"]},"retry_policy":{"max_retries":1,"backoff":{"type":"fixed","delay_ms":10}}}`,
	}
	var (
		ids       []backend.ExecutionID
		leases    []*backend.Lease
		suspended []backend.ExecutionID
	)
	pickID := func() backend.ExecutionID { return ids[rng.Intn(len(ids))] }
	pickLease := func() *backend.Lease {
		if rng.Intn(4) > 0 {
			return leases[len(leases)-1-rng.Intn(min(3, len(leases)))]
		}
		return leases[rng.Intn(len(leases))]
	}
	counts := map[string]int{}
	allowed := func(op string, err error) {
		t.Helper()
		if err == nil {
			counts[op]++
			return
		}
		switch backend.KindOf(err) {
		case backend.KindContention, backend.KindState, backend.KindValidation, backend.KindNotFound:
		default:
			t.Fatalf("%s: unexpected error %v", op, err)
		}
	}
	// foreign runs one write on the second connection against a random
	// runnable row (when there is one).
	foreign := func(q string, args ...any) {
		t.Helper()
		if _, err := second.ExecContext(engCtx, q, args...); err != nil {
			t.Fatalf("second connection: %v\n%s", err, q)
		}
		counts["foreign"]++
	}
	const randomRunnable = `(SELECT rowid FROM ff_exec_core WHERE lifecycle_phase = 'runnable' ORDER BY random() LIMIT 1)`
	claim := func(maxN int) {
		t.Helper()
		lane := lanes[rng.Intn(len(lanes))]
		caps := capSets[rng.Intn(len(capSets))]
		want := readyExpected(t, b, lane, clock.MS(), caps, maxN)
		args := engClaimArgs(engCaps(caps...), func(a *backend.ClaimArgs) {
			a.LaneID = lane
			a.LeaseTTLMS = int64(200 + rng.Intn(800))
		})
		// PeekClaimable (existence, no ordering) agrees with the query.
		if ok, err := b.PeekClaimable(engCtx, args); err != nil || ok != (len(want) > 0) {
			t.Fatalf("PeekClaimable = %v, %v; the schema-only query picks %v", ok, err, want)
		}
		var got []string
		if maxN == 1 {
			l, err := b.Claim(engCtx, args)
			if err != nil {
				t.Fatalf("claim: %v", err)
			}
			if l != nil {
				leases = append(leases, l)
				got = append(got, l.ExecutionID.String())
				if l.Resumed {
					counts["resumed claim"]++
				}
			}
		} else {
			ls, err := b.ClaimMany(engCtx, args, maxN)
			if err != nil {
				t.Fatalf("claim many: %v", err)
			}
			for _, l := range ls {
				leases = append(leases, l)
				got = append(got, l.ExecutionID.String())
			}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("claim of lane %s with %v at %d (max %d) took [%s]; the schema-only query picks [%s]",
				lane, caps, clock.MS(), maxN, strings.Join(got, " "), strings.Join(want, " "))
		}
		if len(got) > 0 {
			counts["claimed"] += len(got)
		} else {
			counts["claimed none"]++
		}
	}
	for step := range steps {
		op := rng.Intn(26)
		if op >= 14 && op <= 20 && rng.Intn(4) > 0 {
			op = 0 // the second connection writes a quarter as often
		}
		if op == 22 {
			op = 8
		}
		if len(ids) == 0 {
			op = 0
		}
		if len(leases) == 0 && (op >= 5 && op <= 7 || op == 23 || op == 24) {
			op = 3
		}
		name := fmt.Sprint("op ", op)
		switch op {
		case 0, 1, 2:
			name = "create"
			a := engArgs(engLane(lanes[rng.Intn(len(lanes))]), engPolicy(policies[rng.Intn(len(policies))]),
				engPrio(int32(rng.Intn(4))), func(a *backend.CreateExecutionArgs) {
					a.ExecutionID = backend.NewExecutionID(uint16(rng.Intn(3)))
					if rng.Intn(3) == 0 {
						d := clock.MS() + int64(rng.Intn(600)) - 100
						a.DelayUntil = &d
					}
				})
			_, err := b.CreateExecution(engCtx, a)
			allowed(name, err)
			ids = append(ids, a.ExecutionID)
		case 3, 4:
			name = "claim"
			claim(1)
		case 5:
			name = "claim many"
			claim(1 + rng.Intn(4))
		case 6:
			name = "complete"
			allowed(name, b.Complete(engCtx, pickLease().Handle, []byte("r")))
		case 7:
			name = "fail"
			classes := []backend.FailureClass{backend.FailTransient, backend.FailPermanent, backend.FailInfraCrash}
			_, err := b.Fail(engCtx, pickLease().Handle, backend.FailArgs{Class: classes[rng.Intn(3)], Reason: "x"})
			allowed(name, err)
		case 8:
			name = "priority"
			_, err := b.ChangePriority(engCtx, backend.ChangePriorityArgs{ExecutionID: pickID(), NewPriority: int32(rng.Intn(4))})
			allowed(name, err)
		case 9:
			name = "cancel/revoke/replay"
			var err error
			switch rng.Intn(3) {
			case 0:
				_, err = b.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: pickID(), Reason: "r"})
			case 1:
				_, err = b.RevokeLease(engCtx, backend.RevokeLeaseArgs{ExecutionID: pickID()})
			default:
				_, err = b.ReplayExecution(engCtx, backend.ReplayExecutionArgs{ExecutionID: pickID()})
			}
			allowed(name, err)
		case 10, 11:
			name = "clock"
			d := time.Duration(rng.Intn(400)-80) * time.Millisecond // mostly forward, sometimes back
			clock.Advance(d)
		case 12:
			name = "promote"
			_, err := b.PromoteDelayed(engCtx, clock.MS(), 1+rng.Intn(3))
			allowed(name, err)
		case 13:
			name = "expire"
			_, err := b.ExpireLeases(engCtx, clock.MS(), 1+rng.Intn(3))
			allowed(name, err)
		case 14:
			name = "foreign priority"
			foreign(`UPDATE ff_exec_core SET priority = ?1 WHERE rowid = `+randomRunnable, rng.Intn(4))
		case 15:
			name = "foreign delay"
			foreign(`UPDATE ff_exec_core SET eligibility_state = 'not_eligible_until_time', public_state = 'delayed',
  blocking_reason = 'waiting_for_delay', raw_fields = json_set(raw_fields, '$.delay_until', ?1)
WHERE rowid = `+randomRunnable, clock.MS()+int64(rng.Intn(400))-100)
		case 16:
			name = "foreign blocked/unblocked"
			state := []string{"blocked_by_dependencies", "eligible_now"}[rng.Intn(2)]
			foreign(`UPDATE ff_exec_core SET eligibility_state = ?1, raw_fields = json_remove(raw_fields, '$.delay_until')
WHERE rowid = `+randomRunnable, state)
		case 17:
			name = "foreign suspend/resume"
			if rng.Intn(2) == 0 {
				foreign(`UPDATE ff_exec_core SET lifecycle_phase = 'suspended', eligibility_state = 'not_applicable'
WHERE rowid = ` + randomRunnable)
			} else {
				foreign(`UPDATE ff_exec_core SET lifecycle_phase = 'runnable', eligibility_state = 'eligible_now'
WHERE rowid = (SELECT rowid FROM ff_exec_core WHERE lifecycle_phase = 'suspended' ORDER BY random() LIMIT 1)`)
			}
		case 18:
			name = "foreign lane"
			foreign(`UPDATE ff_exec_core SET lane_id = ?1 WHERE rowid = `+randomRunnable, lanes[rng.Intn(len(lanes))])
		case 19:
			name = "foreign insert"
			foreign(`INSERT INTO ff_exec_core (partition_key, execution_id, lane_id, attempt_index, lifecycle_phase,
  ownership_state, eligibility_state, public_state, attempt_state, blocking_reason, priority, created_at_ms,
  payload, policy, raw_fields)
SELECT partition_key, randomblob(16), lane_id, 0, 'runnable', 'unowned', 'eligible_now', 'waiting',
  'pending_first_attempt', 'waiting_for_worker', ?1, ?2, payload, NULL, json_remove(raw_fields, '$.delay_until')
FROM ff_exec_core ORDER BY random() LIMIT 1`, rng.Intn(4), clock.MS()-int64(rng.Intn(1000)))
		case 20:
			name = "foreign delete"
			foreign(`DELETE FROM ff_exec_core WHERE rowid = ` + randomRunnable + ` AND attempt_index = 0
  AND NOT EXISTS (SELECT 1 FROM ff_attempt a WHERE a.partition_key = ff_exec_core.partition_key
                  AND a.execution_id = ff_exec_core.execution_id)`)
		case 23:
			name = "suspend"
			l := pickLease()
			_, err := b.Suspend(engCtx, l.Handle, waitArgs("go"))
			allowed(name, err)
			if err == nil {
				suspended = append(suspended, l.ExecutionID)
			}
		case 24:
			name = "delay"
			_, err := b.Delay(engCtx, pickLease().Handle, clock.MS()+int64(rng.Intn(500))-100)
			allowed(name, err)
		case 25:
			name = "resume"
			a := backend.ResumeExecutionArgs{ExecutionID: pickID()}
			if len(suspended) > 0 && rng.Intn(4) > 0 {
				a.ExecutionID = suspended[rng.Intn(len(suspended))]
			}
			if rng.Intn(3) == 0 {
				a.ResumeDelayMS = uint64(rng.Intn(300))
			}
			_, err := b.ResumeExecution(engCtx, a)
			allowed(name, err)
		case 21:
			name = "drift"
			drift, err := b.ReadyDriftForTest(engCtx)
			if err != nil {
				t.Fatal(err)
			}
			if drift != "" {
				t.Fatalf("step %d: the ready index differs from a rebuild: %s", step, drift)
			}
			counts[name]++
		}
		if t.Failed() {
			t.Fatalf("step %d (%s) failed", step, name)
		}
	}
	drift, err := b.ReadyDriftForTest(engCtx)
	if err != nil || drift != "" {
		t.Fatalf("after the last step: drift %q, %v", drift, err)
	}
	t.Logf("memory=%v: %v, %d rebuilds", memory, counts, b.ReadyRebuildsForTest())
	for _, op := range []string{"create", "claimed", "claimed none", "complete", "fail", "priority", "foreign", "drift",
		"suspend", "delay", "resume", "resumed claim"} {
		if counts[op] == 0 {
			t.Errorf("the sequence never did %s", op)
		}
	}
	if n := b.ReadyRebuildsForTest(); n < 2 {
		t.Errorf("%d rebuilds: the second connection's writes never made the claim rebuild", n)
	}
}

// TestReadyIndexRebuildRollsBack: a rebuild inside a write that then
// fails is rolled back with it, and so is the record of the versions it
// was built at, so the next claim rebuilds and sees the other connection's
// write.
func TestReadyIndexRebuildRollsBack(t *testing.T) {
	t.Parallel()
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		engCreate(t, b, engPrio(1))
		if l := engClaim(t, b); l == nil {
			t.Fatal("no claim")
		}
		second := readySecond(t, b)
		// Another connection creates a better execution.
		if _, err := second.ExecContext(engCtx, `INSERT INTO ff_exec_core (partition_key, execution_id, lane_id,
  attempt_index, lifecycle_phase, ownership_state, eligibility_state, public_state, attempt_state, blocking_reason,
  priority, created_at_ms, payload, raw_fields)
SELECT 0, randomblob(16), 'default', 0, 'runnable', 'unowned', 'eligible_now', 'waiting', 'pending_first_attempt',
  'waiting_for_worker', 5, created_at_ms, payload, raw_fields FROM ff_exec_core LIMIT 1`); err != nil {
			t.Fatal(err)
		}
		before := b.ReadyRebuildsForTest()
		if err := b.ReadyRefreshThenFailForTest(engCtx); err == nil {
			t.Fatal("the failing write did not fail")
		}
		if b.ReadyRebuildsForTest() != before+1 {
			t.Fatal("the failing write did not rebuild")
		}
		want := readyExpected(t, b, "default", b.Now(), nil, 1)
		l := engClaim(t, b)
		if len(want) != 1 || l.ExecutionID.String() != want[0] {
			t.Fatalf("claim took %s, the schema-only query picks %v", l.ExecutionID, want)
		}
		if b.ReadyRebuildsForTest() != before+2 {
			t.Fatal("the claim after the rolled-back rebuild did not rebuild")
		}
	})
}

// TestReadyPickPlan: the pick walks the index of executions eligible now
// in claim order (no sort) and reads ff_exec_core only by rowid; only the
// due delayed candidates, which the promoter keeps few, are sorted.
func TestReadyPickPlan(t *testing.T) {
	t.Parallel()
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		engCreate(t, b)
		plan, err := b.ReadyPickPlanForTest(engCtx)
		if err != nil {
			t.Fatal(err)
		}
		now, _, ok := strings.Cut(plan, "UNION ALL")
		if !ok || !strings.Contains(now, "SEARCH r USING INDEX ffsqlite_ready_now (lane_id=?)") ||
			strings.Contains(now, "TEMP B-TREE") {
			t.Errorf("the eligible-now branch does not walk ffsqlite_ready_now in order:\n%s", plan)
		}
		for _, line := range strings.Split(plan, "\n") {
			if strings.HasPrefix(line, "SCAN e") || strings.Contains(line, "ff_exec_core") && !strings.Contains(line, "rowid=?") {
				t.Errorf("the pick reads ff_exec_core other than by rowid: %q\n%s", line, plan)
			}
		}
	})
}

// TestReadyIndexSurvivesOwnSchemaChange: on a memory database the writer
// and the migrations share one connection, where dropping and re-creating
// ff_exec_core drops the index's triggers with the table; the schema
// version tells the next claim to make them again.
func TestReadyIndexSurvivesOwnSchemaChange(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, true)
	engCreate(t, b, engPrio(1))
	engCreate(t, b)
	engClaim(t, b)
	// Rebuild ff_exec_core on the writer's own connection (the memory
	// database's only one), as a table-rebuilding migration would.
	engExec(t, b, `CREATE TABLE ff_exec_core_copy AS SELECT * FROM ff_exec_core`)
	var ddl string
	if err := b.ReaderDB().QueryRowContext(engCtx, `SELECT sql FROM sqlite_master WHERE name = 'ff_exec_core'`).Scan(&ddl); err != nil {
		t.Fatal(err)
	}
	var idx []string
	rows, err := b.ReaderDB().QueryContext(engCtx, `SELECT sql FROM sqlite_master WHERE tbl_name = 'ff_exec_core' AND type = 'index' AND sql IS NOT NULL`)
	idx = engStrings(t, rows, err)
	engExec(t, b, `DROP TABLE ff_exec_core`)
	engExec(t, b, ddl)
	for _, q := range idx {
		engExec(t, b, q)
	}
	engExec(t, b, `INSERT INTO ff_exec_core SELECT * FROM ff_exec_core_copy`)
	engExec(t, b, `DROP TABLE ff_exec_core_copy`)
	// Writes after the change must reach the index through new triggers.
	engClaim(t, b)
	id := engCreate(t, b, engPrio(3))
	if drift, err := b.ReadyDriftForTest(engCtx); err != nil || drift != "" {
		t.Fatalf("after the table was re-created: drift %q, %v", drift, err)
	}
	if l := engClaim(t, b); l.ExecutionID != id {
		t.Fatalf("claim took %s, want the new execution %s", l.ExecutionID, id)
	}
}

// TestReadyIndexOutsideSchema: the index's TEMP objects are no part of the
// file's schema as schema parity and inspect drift read it, not even on a
// memory database, whose one connection is both the writer (with the
// index) and the reader.
func TestReadyIndexOutsideSchema(t *testing.T) {
	t.Parallel()
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		before, err := schemafacts.Collect(engCtx, b.ReaderDB())
		if err != nil {
			t.Fatal(err)
		}
		engCreate(t, b)
		engClaim(t, b) // builds the index and makes its triggers
		after, err := schemafacts.Collect(engCtx, b.ReaderDB())
		if err != nil {
			t.Fatal(err)
		}
		if diff := schemafacts.Diff(before, after); len(diff) != 0 {
			t.Fatalf("the ready index shows in the schema facts: %v", diff)
		}
		if n := sqlCountOn(t, b.WriterDB(), `SELECT count(*) FROM main.sqlite_master WHERE name LIKE 'ffsqlite_ready%'`); n != 0 {
			t.Fatalf("%d ready-index objects in the file's schema", n)
		}
	})
}

func sqlCountOn(t *testing.T, db *sql.DB, q string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(engCtx, q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReadyIndexRebuildOncePerTransaction: after another connection's
// write, two claims in one group transaction rebuild the index once: the
// second sees the first's rebuild, not yet committed, through its TEMP
// stamp (before, it rebuilt again: BenchmarkReadyIndexCost's 16 workers
// counted 2 rebuilds).
func TestReadyIndexRebuildOncePerTransaction(t *testing.T) {
	t.Parallel()
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		engCreate(t, b)
		engClaim(t, b)
		second := readySecond(t, b)
		if _, err := second.ExecContext(engCtx, `UPDATE ff_exec_core SET priority = priority + 1`); err != nil {
			t.Fatal(err)
		}
		before := b.ReadyRebuildsForTest()
		if err := b.ReadyRefreshTwiceForTest(engCtx); err != nil {
			t.Fatal(err)
		}
		if n := b.ReadyRebuildsForTest() - before; n != 1 {
			t.Fatalf("%d rebuilds in one transaction, want 1", n)
		}
		if drift, err := b.ReadyDriftForTest(engCtx); err != nil || drift != "" {
			t.Fatalf("drift %q, %v", drift, err)
		}
		if n := b.ReadyRebuildsForTest() - before; n != 1 {
			t.Fatalf("%d rebuilds after the commit, want 1", n)
		}
	})
}

// TestClaimOfForeignNonIntegerPriority: another process stored a
// priority that is not an integer (the column has no STRICT type). The
// claim must take what the schema-only claim query takes, in SQLite's
// order (a real by value, a text above every number), instead of failing
// to scan the value, which stopped every claim of the lane.
func TestClaimOfForeignNonIntegerPriority(t *testing.T) {
	t.Parallel()
	for _, prio := range []any{2.5, 0.5, "high"} {
		t.Run(fmt.Sprint(prio), func(t *testing.T) {
			engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
				id := engCreate(t, b, engPrio(1))
				engCreate(t, b, engPrio(2))
				engCreate(t, b)
				if _, err := readySecond(t, b).ExecContext(engCtx, `UPDATE ff_exec_core SET priority = ?1 WHERE execution_id = ?2`,
					prio, id.UUID[:]); err != nil {
					t.Fatal(err)
				}
				for range 3 {
					want := readyExpected(t, b, "default", b.Now(), nil, 1)
					l, err := b.Claim(engCtx, engClaimArgs())
					if err != nil || l == nil || l.ExecutionID.String() != want[0] {
						t.Fatalf("claim = %v, %v; the schema-only query takes %v", l, err, want)
					}
				}
			})
		})
	}
}
