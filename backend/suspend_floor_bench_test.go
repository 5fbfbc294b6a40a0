package backend_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// floorSignalRecord is a stored signal record of the engine's size.
func floorSignalRecord(signalID string, now int64) string {
	return fmt.Sprintf(`{"signal_id":%q,"signal_name":"approve","signal_category":"human_review","source_type":"human",`+
		`"source_identity":"alice","payload":{"ok":true},"accepted_at_ms":%d,"effect":"resume_condition_satisfied",`+
		`"correlation_id":null,"idempotency_key":""}`, signalID, now)
}

// floorMemberMap is a suspension record of the engine's size: open with no
// satisfier, or closed with the satisfying signal's record.
func floorMemberMap(wp, key, satisfier string, now int64) string {
	state, closed := `"open"`, ""
	if satisfier != "" {
		state = `"closed"`
		closed = fmt.Sprintf(`,"closed_at_ms":%d,"close_reason":"resumed","satisfied_at_ms":%d`, now, now)
	}
	return `{"state":` + state + `,"attempt_index":0,"requested_by":"worker","resume_policy":{"resume_target":"runnable",` +
		`"close_waitpoint_on_resume":true,"consume_matched_signals":true,"retain_signal_buffer_until_closed":false,` +
		`"resume_delay_ms":null},"waitpoints":[{"waitpoint_id":"` + wp + `","waitpoint_key":"` + key + `"}]` + closed +
		`,"satisfiers":[` + satisfier + `]}`
}

// floorWait suspends l's execution on one fresh waitpoint, delivers the
// signal that resumes it and claims it again, with backend.WaitFloorStmts:
// three transactions writing only the rows the schema needs for them.
func floorWait(ctx context.Context, e *backend.Backend, l *floorLease) error {
	s := backend.WaitFloorStmts
	now := time.Now().UnixMilli()
	wp, susp, sig := uuid.New(), uuid.New(), uuid.NewString()
	key := "wpk:" + wp.String()
	token := "k1:" + strings.Repeat("0f", 32)
	cond := `{"attempt_index":0,"suspension_id":"` + susp.String() + `","signals":[]}`
	if err := floorTx(ctx, e, "floor_suspend",
		floorStep{s.Waitpoint, []any{l.part, wp[:], l.id, token, now, cond, key}},
		floorStep{s.Suspension, []any{l.part, l.id, susp[:], now, `{"Single":{"waitpoint_key":"` + key +
			`","matcher":{"ByName":"approve"}}}`, floorMemberMap(wp.String(), key, "", now)}},
		floorStep{s.PauseAttempt, []any{l.part, l.id}},
		floorStep{s.SuspendExec, []any{l.rowid}},
		floorStep{backend.FloorStmts.LeaseEvent, []any{l.execID, l.lease, "released", now, l.part}},
	); err != nil {
		return fmt.Errorf("suspend: %w", err)
	}
	rec := floorSignalRecord(sig, now)
	if err := floorTx(ctx, e, "floor_signal",
		floorStep{s.SignalWaitpoint, []any{l.part, wp[:], `{"attempt_index":0,"suspension_id":"` + susp.String() +
			`","signals":[` + rec + fmt.Sprintf(`],"signal_count":1,"matched_signal_count":1,"last_signal_at_ms":%d,`+
			`"closed_at_ms":%d,"close_reason":"resumed","satisfied_at_ms":%d}`, now, now, now)}},
		floorStep{s.SatisfySuspension, []any{l.part, l.id, `{"matched":{"` + key + `":["` + sig + `"]}}`,
			floorMemberMap(wp.String(), key, rec, now)}},
		floorStep{s.ResumeExec, []any{l.rowid}},
		floorStep{s.SignalEvent, []any{l.execID, sig, wp.String(), now, l.part}},
	); err != nil {
		return fmt.Errorf("signal: %w", err)
	}
	l.lease = uuid.NewString()
	return e.WriteTx(ctx, "floor_resume", func(ctx context.Context, tx *backend.Txn) error {
		var rowid int64
		if err := tx.QueryRowContext(ctx, s.PickResumed, l.part).Scan(&rowid); err != nil || rowid != l.rowid {
			return fmt.Errorf("resumed pick: %d, %v", rowid, err)
		}
		return floorRun(ctx, tx,
			floorStep{s.ResumeAttempt, []any{l.part, l.id, now + 30000, l.lease}},
			floorStep{s.ClaimResumed, []any{l.rowid}},
			floorStep{backend.FloorStmts.LeaseEvent, []any{l.execID, l.lease, "acquired", now, l.part}})
	})
}

// BenchmarkSuspendCycleFloor is BenchmarkSuspendCycle's ratio with only
// the rows the schema needs: the cycle create → claim → suspend → signal
// → resumed claim → complete and the plain job create → claim →
// complete, each on a file of its own, the create through the engine and
// every other step with backend.FloorStmts and backend.WaitFloorStmts in
// the fewest statements on the engine's writer (no validation, no
// fencing, no token check, no condition evaluated), 1 worker, alternating
// in rounds of 64. floor_x_plain is the cycle's time per job over the
// plain job's: what BenchmarkSuspendCycle's x_plain (target ≤ 2.5) would
// be if the engine's own work cost nothing.
//
//	go test -run '^$' -bench SuspendCycleFloor -benchtime 3000x -count 3 ./backend/
func BenchmarkSuspendCycleFloor(b *testing.B) {
	plain, cycle := testdb.Open(b), testdb.Open(b)
	payload := []byte(`{"job":true}`)
	job := func(e *backend.Backend, wait bool) error {
		a := engArgs(func(a *backend.CreateExecutionArgs) { a.InputPayload = payload })
		if _, err := e.CreateExecution(engCtx, a); err != nil {
			return err
		}
		part := int64(a.ExecutionID.Partition)
		l, err := floorClaim(engCtx, e, part)
		if err != nil {
			return err
		}
		if wait {
			if err := floorWait(engCtx, e, l); err != nil {
				return err
			}
		}
		return floorComplete(engCtx, e, l)
	}
	const round = 64
	var plainTime, cycleTime time.Duration
	timed := func(d *time.Duration, n int, e *backend.Backend, wait bool) {
		start := time.Now()
		for range n {
			if err := job(e, wait); err != nil {
				b.Fatal(err)
			}
		}
		*d += time.Since(start)
	}
	b.ResetTimer()
	for done := 0; done < b.N; done += round {
		n := min(round, b.N-done)
		timed(&plainTime, n, plain, false)
		timed(&cycleTime, n, cycle, true)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/cycleTime.Seconds(), "floor_cycles/s")
	b.ReportMetric(float64(b.N)/plainTime.Seconds(), "floor_plain_jobs/s")
	b.ReportMetric(cycleTime.Seconds()/plainTime.Seconds(), "floor_x_plain")
}
