package backend_test

import (
	"cmp"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
)

// The storage-level invariants of the property tests, read straight from
// the tables (docs/storage.md), never through the engine's read paths.

// engStorage is every execution of a database with its attempts and
// outbox rows, keyed by wire id.
type engStorage struct {
	execs map[string]*engStoredExec
}

type engStoredExec struct {
	sv           backend.StateVector
	attemptIndex int64
	priority     int64
	replayCount  int64
	result       []byte
	terminalAt   sql.NullInt64
	attempts     []engStoredAttempt // by attempt_index
	// openWaits counts its open suspension and pending or active
	// waitpoints.
	openWaits int
	// Outbox rows in event_id order.
	lease, completion, operator, signal []engEvent
}

type engStoredAttempt struct {
	index        int64
	epoch        int64
	expires      sql.NullInt64
	terminalAt   sql.NullInt64
	outcome      string // "" while running
	attemptID    string
	leaseID      string
	typ          string
	failureClass string
	// Durable waits: paused is raw_fields.paused (suspend / delay, "" when
	// not paused), resumes its resume_count, endedPaused whether it ended
	// while paused (no lease event).
	paused      string
	resumes     int
	endedPaused bool
	// byHolder is whether the lease holder cancelled it (raw_fields
	// cancelled_by): that cancel releases the lease, others revoke it.
	byHolder bool
}

type engEvent struct{ typ, details string }

// attempt returns the attempt with index idx, or nil.
func (x *engStoredExec) attempt(idx uint32) *engStoredAttempt {
	for i := range x.attempts {
		if x.attempts[i].index == int64(idx) {
			return &x.attempts[i]
		}
	}
	return nil
}

// outcomes counts the attempts that ended with outcome.
func (x *engStoredExec) outcomes(outcome string) int {
	n := 0
	for _, a := range x.attempts {
		if a.outcome == outcome {
			n++
		}
	}
	return n
}

// endedPaused counts the attempts that ended with outcome while paused.
func (x *engStoredExec) endedPaused(outcome string) int {
	n := 0
	for _, a := range x.attempts {
		if a.outcome == outcome && a.endedPaused {
			n++
		}
	}
	return n
}

// count counts the events of type typ in evs.
func (x *engStoredExec) count(evs []engEvent, typ string) int {
	n := 0
	for _, e := range evs {
		if e.typ == typ {
			n++
		}
	}
	return n
}

// history is the execution's stored story in one line, for a failure
// message to show how it got where it is: each attempt (index, type,
// outcome, paused, resumes) and the types of its outbox rows, each list
// in event_id order.
func (x *engStoredExec) history() string {
	var b strings.Builder
	b.WriteString("attempts [")
	for i, a := range x.attempts {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%d:%s/%s", a.index, a.typ, cmp.Or(a.outcome, "running"))
		if a.paused != "" || a.resumes > 0 || a.endedPaused {
			fmt.Fprintf(&b, "(paused=%q resumes=%d ended_paused=%v)", a.paused, a.resumes, a.endedPaused)
		}
	}
	b.WriteString("]")
	for _, l := range []struct {
		name string
		evs  []engEvent
	}{{"lease", x.lease}, {"completion", x.completion}, {"operator", x.operator}, {"signal", x.signal}} {
		b.WriteString("; " + l.name + " [")
		for i, e := range l.evs {
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(e.typ)
		}
		b.WriteString("]")
	}
	return b.String()
}

// total sums f over every execution.
func (s *engStorage) total(f func(x *engStoredExec) int) int {
	n := 0
	for _, x := range s.execs {
		n += f(x)
	}
	return n
}

// engLoadStorage reads every execution, attempt and outbox row of db, in
// one read transaction.
func engLoadStorage(t testing.TB, db *sql.DB) *engStorage {
	t.Helper()
	s := &engStorage{execs: map[string]*engStoredExec{}}
	wireID := func(part int64, raw []byte) string {
		u, err := uuid.FromBytes(raw)
		if err != nil || part < 0 || part > 0xffff {
			t.Fatalf("stored execution id %d:%x: %v", part, raw, err)
		}
		return backend.ExecutionID{Partition: uint16(part), UUID: u}.String()
	}
	// One read transaction, so that every query sees the same snapshot: a
	// write that commits while the rows are read (an asynchronous flow
	// cancel's member cancels, which only Close waits for) is seen whole
	// or not at all, never as an execution row from before it and outbox
	// rows from after it.
	tx, err := db.BeginTx(engCtx, nil)
	if err != nil {
		t.Fatalf("begin the storage read: %v", err)
	}
	defer tx.Rollback()
	query := func(q string, each func(rows *sql.Rows) error) {
		rows, err := tx.QueryContext(engCtx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := each(rows); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	query(`SELECT partition_key, execution_id, lifecycle_phase, ownership_state, eligibility_state,
  COALESCE(blocking_reason, ''), COALESCE(json_extract(raw_fields, '$.terminal_outcome'), ''), attempt_state,
  public_state, attempt_index, priority, COALESCE(json_extract(raw_fields, '$.replay_count'), 0), result, terminal_at_ms
FROM ff_exec_core`, func(rows *sql.Rows) error {
		var (
			part int64
			raw  []byte
			x    engStoredExec
		)
		if err := rows.Scan(&part, &raw, &x.sv.LifecyclePhase, &x.sv.OwnershipState, &x.sv.EligibilityState,
			&x.sv.BlockingReason, &x.sv.TerminalOutcome, &x.sv.AttemptState, &x.sv.PublicState, &x.attemptIndex,
			&x.priority, &x.replayCount, &x.result, &x.terminalAt); err != nil {
			return err
		}
		s.execs[wireID(part, raw)] = &x
		return nil
	})
	query(`SELECT partition_key, execution_id, attempt_index, lease_epoch, lease_expires_at_ms, terminal_at_ms,
  COALESCE(outcome, ''), COALESCE(json_extract(raw_fields, '$.attempt_id'), ''),
  COALESCE(json_extract(raw_fields, '$.lease_id'), ''), COALESCE(json_extract(raw_fields, '$.attempt_type'), ''),
  COALESCE(json_extract(raw_fields, '$.failure_class'), ''), COALESCE(json_extract(raw_fields, '$.paused'), ''),
  COALESCE(json_extract(raw_fields, '$.resume_count'), 0), COALESCE(json_extract(raw_fields, '$.ended_paused'), 0),
  COALESCE(json_extract(raw_fields, '$.cancelled_by'), '') = 'lease_holder'
FROM ff_attempt ORDER BY partition_key, execution_id, attempt_index`, func(rows *sql.Rows) error {
		var (
			part int64
			raw  []byte
			a    engStoredAttempt
		)
		if err := rows.Scan(&part, &raw, &a.index, &a.epoch, &a.expires, &a.terminalAt, &a.outcome, &a.attemptID,
			&a.leaseID, &a.typ, &a.failureClass, &a.paused, &a.resumes, &a.endedPaused, &a.byHolder); err != nil {
			return err
		}
		x := s.execs[wireID(part, raw)]
		if x == nil {
			return fmt.Errorf("attempt %d of %s has no execution row", a.index, wireID(part, raw))
		}
		x.attempts = append(x.attempts, a)
		return nil
	})
	query(`SELECT partition_key, execution_id FROM ff_suspension_current WHERE json_extract(member_map, '$.state') = 'open'
UNION ALL SELECT partition_key, execution_id FROM ff_waitpoint_pending WHERE state IN ('pending', 'active')`,
		func(rows *sql.Rows) error {
			var (
				part int64
				raw  []byte
			)
			if err := rows.Scan(&part, &raw); err != nil {
				return err
			}
			if x := s.execs[wireID(part, raw)]; x != nil {
				x.openWaits++
			}
			return nil
		})
	events := func(q string, completion bool, list func(x *engStoredExec) *[]engEvent) {
		query(q, func(rows *sql.Rows) error {
			var (
				part       int64
				id         any
				typ, extra sql.NullString
			)
			if err := rows.Scan(&part, &id, &typ, &extra); err != nil {
				return err
			}
			key := ""
			switch v := id.(type) {
			case []byte:
				if completion {
					key = wireID(part, v)
				} else {
					key = string(v)
				}
			case string:
				key = v
			}
			x := s.execs[key]
			if x == nil {
				return fmt.Errorf("event %q for %s, which has no execution row", typ.String, key)
			}
			l := list(x)
			*l = append(*l, engEvent{typ: typ.String, details: extra.String})
			return nil
		})
	}
	events(`SELECT partition_key, execution_id, outcome, NULL FROM ff_completion_event ORDER BY event_id`, true,
		func(x *engStoredExec) *[]engEvent { return &x.completion })
	events(`SELECT partition_key, execution_id, event_type, lease_id FROM ff_lease_event ORDER BY event_id`, false,
		func(x *engStoredExec) *[]engEvent { return &x.lease })
	// flow_cancel_requested names a flow, not an execution.
	events(`SELECT partition_key, execution_id, event_type, details FROM ff_operator_event
WHERE event_type <> 'flow_cancel_requested' ORDER BY event_id`, false,
		func(x *engStoredExec) *[]engEvent { return &x.operator })
	events(`SELECT partition_key, execution_id, 'delivered', waitpoint_id FROM ff_signal_event ORDER BY event_id`, false,
		func(x *engStoredExec) *[]engEvent { return &x.signal })
	return s
}

// engStateCombo is a combination of the state vector's lifecycle_phase,
// ownership_state, eligibility_state, blocking_reason and attempt_state.
type engStateCombo struct {
	lifecycle, ownership, eligibility, blocking, attempt string
}

// engLegalStates lists every combination the engine may store, with the
// attempts it implies (0: none, 1: at least one, -1: either). It covers
// what the engine does today; suspension, signals, flows and budget or
// quota blocking add their rows when they land.
var engLegalStates = map[engStateCombo]int{
	{"runnable", "unowned", "eligible_now", "waiting_for_worker", "pending_first_attempt"}:                   0,
	{"runnable", "unowned", "eligible_now", "waiting_for_worker", "pending_retry_attempt"}:                   1,
	{"runnable", "unowned", "eligible_now", "waiting_for_worker", "pending_replay_attempt"}:                  -1,
	{"runnable", "unowned", "eligible_now", "waiting_for_worker", "attempt_interrupted"}:                     1,
	{"runnable", "unowned", "not_eligible_until_time", "waiting_for_delay", "pending_first_attempt"}:         0,
	{"runnable", "unowned", "not_eligible_until_time", "waiting_for_retry_backoff", "pending_retry_attempt"}: 1,
	{"active", "leased", "not_applicable", "none", "running_attempt"}:                                        1,
	{"active", "lease_revoked", "not_applicable", "none", "running_attempt"}:                                 1,
	{"terminal", "unowned", "not_applicable", "none", "attempt_terminal"}:                                    1,
	// Durable waits: a paused attempt (suspend, worker delay) and a resume
	// (waiting, or delayed by the signal's resume_delay_ms).
	{"runnable", "unowned", "not_eligible_until_time", "waiting_for_delay", "attempt_interrupted"}:        1,
	{"runnable", "unowned", "not_eligible_until_time", "waiting_for_resume_delay", "attempt_interrupted"}: 1,
	{"suspended", "unowned", "not_applicable", "waiting_for_signal", "attempt_interrupted"}:               1,
	{"suspended", "unowned", "not_applicable", "waiting_for_approval", "attempt_interrupted"}:             1,
	{"suspended", "unowned", "not_applicable", "waiting_for_callback", "attempt_interrupted"}:             1,
	{"suspended", "unowned", "not_applicable", "waiting_for_tool_result", "attempt_interrupted"}:          1,
	{"suspended", "unowned", "not_applicable", "paused_by_operator", "attempt_interrupted"}:               1,
	{"suspended", "unowned", "not_applicable", "paused_by_policy", "attempt_interrupted"}:                 1,
	{"suspended", "unowned", "not_applicable", "waiting_for_budget", "attempt_interrupted"}:               1,
	// Ended before any attempt: canonical keeps the pending attempt_state
	// (lua ff_cancel_execution), e.g. a replay cancelled before its claim.
	{"terminal", "unowned", "not_applicable", "none", "pending_first_attempt"}:  0,
	{"terminal", "unowned", "not_applicable", "none", "pending_replay_attempt"}: 0,
	// Flows: a runnable member waiting for its upstreams, whatever attempt
	// it is about to make; a skipped member that was not running
	// (canonical writes attempt_state none).
	{"runnable", "unowned", "blocked_by_dependencies", "waiting_for_children", "pending_first_attempt"}:  0,
	{"runnable", "unowned", "blocked_by_dependencies", "waiting_for_children", "pending_retry_attempt"}:  1,
	{"runnable", "unowned", "blocked_by_dependencies", "waiting_for_children", "pending_replay_attempt"}: -1,
	{"runnable", "unowned", "blocked_by_dependencies", "waiting_for_children", "attempt_interrupted"}:    1,
	{"terminal", "unowned", "not_applicable", "none", "none"}:                                            -1,
}

// engAttemptTypes are the attempt_type values a claim writes.
var engAttemptTypes = map[string]bool{"initial": true, "retry": true, "reclaim": true, "replay": true}

// engCheckStorage verifies, from the tables alone, the invariants that
// hold at every moment: legal state combinations, attempts numbered 0..n-1
// with strictly increasing epochs, at most one running attempt (the
// current one, with a lease expiry and no end), ended attempts with an end
// time and no lease, terminal rows with terminal_at_ms, and an outbox row
// for every transition the attempts and counters record.
func engCheckStorage(t testing.TB, db *sql.DB) {
	t.Helper()
	engCheckFlows(t, db, false)
	s := engLoadStorage(t, db)
	for key, x := range s.execs {
		where := fmt.Sprintf("%s %+v", key, x.sv)
		combo := engStateCombo{x.sv.LifecyclePhase, x.sv.OwnershipState, x.sv.EligibilityState, x.sv.BlockingReason, x.sv.AttemptState}
		want, legal := engLegalStates[combo]
		if !legal {
			t.Errorf("%s: not a legal state combination", where)
			continue
		}
		if (want == 0 && len(x.attempts) > 0) || (want == 1 && len(x.attempts) == 0) {
			t.Errorf("%s: %d attempts in that state", where, len(x.attempts))
		}
		terminal := x.sv.LifecyclePhase == "terminal"
		if terminal != x.terminalAt.Valid {
			t.Errorf("%s: terminal_at_ms %v", where, x.terminalAt)
		}
		if terminal && x.openWaits > 0 {
			t.Errorf("%s: terminal with %d open suspension or waitpoint rows", where, x.openWaits)
		}
		running := 0
		for i, a := range x.attempts {
			aw := fmt.Sprintf("%s attempt %d", where, a.index)
			if a.index != int64(i) {
				t.Errorf("%s: attempts are not numbered 0..%d", aw, len(x.attempts)-1)
			}
			if i > 0 && a.epoch <= x.attempts[i-1].epoch {
				t.Errorf("%s: epoch %d after %d", aw, a.epoch, x.attempts[i-1].epoch)
			}
			if !engAttemptTypes[a.typ] || (a.typ == "initial" && i != 0) {
				t.Errorf("%s: attempt type %q", aw, a.typ)
			}
			if a.attemptID == "" || a.leaseID == "" {
				t.Errorf("%s: no attempt or lease id", aw)
			}
			if a.outcome == "" && a.paused != "" {
				// Paused by a suspend or a delay: not over, no lease, the
				// current attempt of a waiting execution.
				if a.expires.Valid || a.terminalAt.Valid || a.index != x.attemptIndex || x.sv.AttemptState != "attempt_interrupted" ||
					(x.sv.LifecyclePhase != "suspended" && x.sv.LifecyclePhase != "runnable") {
					t.Errorf("%s: paused (%s) with lease expiry %v, end %v, current attempt %d", aw, a.paused, a.expires, a.terminalAt, x.attemptIndex)
				}
			} else if a.outcome == "" {
				running++
				if !a.expires.Valid || a.terminalAt.Valid || a.index != x.attemptIndex {
					t.Errorf("%s: running with lease expiry %v, end %v, current attempt %d", aw, a.expires, a.terminalAt, x.attemptIndex)
				}
			} else if a.paused != "" || a.expires.Valid || !a.terminalAt.Valid {
				t.Errorf("%s: ended (%s) with lease expiry %v, end %v", aw, a.outcome, a.expires, a.terminalAt)
			}
		}
		if running > 1 || (running == 1) != (x.sv.LifecyclePhase == "active") {
			t.Errorf("%s: %d running attempts", where, running)
		}
		if n := len(x.attempts); n > 0 && x.attemptIndex != int64(n-1) {
			t.Errorf("%s: attempt_index %d with %d attempts", where, x.attemptIndex, n)
		}
		// Lease events: one acquisition per attempt and per resume of it; an
		// end per ended attempt, by outcome, and a release per pause.
		// A cancel by the lease holder ends its attempt with a release,
		// not a revocation.
		resumes, pauses, byHolder, endedPaused := 0, 0, 0, map[string]int{}
		for _, a := range x.attempts {
			if a.byHolder && !a.endedPaused {
				byHolder++
			}
			resumes += a.resumes
			pauses += a.resumes
			if a.paused != "" {
				pauses++
			}
			if a.endedPaused {
				pauses++
				endedPaused[a.outcome]++
			}
		}
		if got := x.count(x.lease, "acquired") + x.count(x.lease, "reclaimed"); got != len(x.attempts)+resumes {
			t.Errorf("%s: %d acquired/reclaimed events for %d attempts and %d resumes", where, got, len(x.attempts), resumes)
		}
		reclaims := 0
		for _, a := range x.attempts {
			if a.typ == "reclaim" {
				reclaims++
			}
		}
		if got := x.count(x.lease, "reclaimed"); got != reclaims {
			t.Errorf("%s: %d reclaimed events for %d reclaim attempts", where, got, reclaims)
		}
		if got, want := x.count(x.lease, "released"), x.outcomes("success")+x.outcomes("failed")+x.outcomes("expired")-
			endedPaused["failed"]-endedPaused["expired"]+pauses+byHolder; got != want {
			t.Errorf("%s: %d released events for %d attempts ended by complete, fail, deadline or a holder's cancel with a lease and %d pauses", where, got, want, pauses)
		}
		if got, want := x.count(x.lease, "expired"), x.outcomes("interrupted"); got != want {
			t.Errorf("%s: %d expired lease events for %d interrupted attempts", where, got, want)
		}
		if got, want := x.count(x.lease, "revoked"), x.outcomes("cancelled")-endedPaused["cancelled"]-byHolder; got < want {
			t.Errorf("%s: %d revoked events for %d cancelled attempts", where, got, want)
		}
		// Completion events: one per entry into terminal; replays leave.
		wantCompletions := int(x.replayCount)
		if terminal {
			wantCompletions++
		}
		if len(x.completion) != wantCompletions {
			t.Errorf("%s: %d completion events with replay_count %d; %s", where, len(x.completion), x.replayCount, x.history())
		}
		if terminal && len(x.completion) > 0 && x.completion[len(x.completion)-1].typ != x.sv.TerminalOutcome {
			t.Errorf("%s: last completion event %q", where, x.completion[len(x.completion)-1].typ)
		}
		if got, want := x.count(x.completion, "success"), x.outcomes("success"); got != want {
			t.Errorf("%s: %d success events for %d successful attempts", where, got, want)
		}
		if got := x.count(x.operator, "replayed"); int64(got) != x.replayCount {
			t.Errorf("%s: %d replayed events with replay_count %d", where, got, x.replayCount)
		}
		// Priority changes chain up to the current priority.
		var last *int64
		for _, e := range x.operator {
			if e.typ != "priority_changed" {
				continue
			}
			var d struct {
				OldPriority int64 `json:"old_priority"`
				NewPriority int64 `json:"new_priority"`
			}
			if err := json.Unmarshal([]byte(e.details), &d); err != nil {
				t.Errorf("%s: priority_changed details %q: %v", where, e.details, err)
				continue
			}
			if last != nil && d.OldPriority != *last {
				t.Errorf("%s: priority changed from %d after it was set to %d", where, d.OldPriority, *last)
			}
			last = &d.NewPriority
		}
		if last != nil && *last != x.priority {
			t.Errorf("%s: priority %d, last changed to %d", where, x.priority, *last)
		}
	}
}

// engCheckFlows verifies the flow tables (docs/storage.md): every edge
// group's counters are its applied edges by state, a member blocked by
// dependencies has an unresolved edge, a skipped member's group is
// impossible, and edges name members of their flow. settled also
// requires that no applied edge waits on an upstream that has ended in a
// run the edge has not seen (true once the dependency reconciler has run
// after a flow_cascade cancel, and at every moment otherwise).
func engCheckFlows(t testing.TB, db *sql.DB, settled bool) {
	t.Helper()
	check := func(what, q string) {
		t.Helper()
		rows, err := db.QueryContext(engCtx, q)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		defer rows.Close()
		for rows.Next() {
			var row string
			if err := rows.Scan(&row); err != nil {
				t.Fatal(err)
			}
			t.Errorf("%s: %s", what, row)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	check("edge group counters differ from its edges", `SELECT hex(g.downstream_eid) || ' ' || g.success_count || '/' || g.fail_count || '/' ||
  g.skip_count || '/' || g.running_count || ' vs ' || s || '/' || f || '/' || k || '/' || r
FROM ff_edge_group g JOIN (SELECT partition_key, flow_id, downstream_eid,
    sum(json_extract(policy, '$.edge_state') = 'satisfied') AS s,
    sum(json_extract(policy, '$.edge_state') = 'impossible' AND json_extract(policy, '$.upstream_outcome') IS NOT 'skipped') AS f,
    sum(json_extract(policy, '$.edge_state') = 'impossible' AND json_extract(policy, '$.upstream_outcome') IS 'skipped') AS k,
    sum(json_extract(policy, '$.edge_state') = 'unsatisfied') AS r
  FROM ff_edge GROUP BY 1, 2, 3) e USING (partition_key, flow_id, downstream_eid)
WHERE (g.success_count, g.fail_count, g.skip_count, g.running_count) IS NOT (e.s, e.f, e.k, e.r)`)
	check("blocked member without an unresolved edge", `SELECT hex(x.execution_id) FROM ff_exec_core x
WHERE x.eligibility_state = 'blocked_by_dependencies' AND NOT EXISTS (SELECT 1 FROM ff_edge e
  WHERE e.flow_id = x.flow_id AND e.downstream_eid = x.execution_id AND json_extract(e.policy, '$.edge_state') = 'unsatisfied')`)
	check("skipped member whose group is not impossible", `SELECT hex(x.execution_id) FROM ff_exec_core x
WHERE x.public_state = 'skipped' AND NOT EXISTS (SELECT 1 FROM ff_edge e
  WHERE e.flow_id = x.flow_id AND e.downstream_eid = x.execution_id AND json_extract(e.policy, '$.edge_state') = 'impossible')`)
	check("edge end that is not a member of its flow", `SELECT hex(e.edge_id) FROM ff_edge e
WHERE NOT EXISTS (SELECT 1 FROM ff_exec_core x WHERE x.execution_id = e.upstream_eid AND x.flow_id = e.flow_id)
   OR NOT EXISTS (SELECT 1 FROM ff_exec_core x WHERE x.execution_id = e.downstream_eid AND x.flow_id = e.flow_id)`)
	if settled {
		check("applied edge waiting on an ended upstream", `SELECT hex(e.edge_id) FROM ff_edge e JOIN ff_exec_core u ON u.execution_id = e.upstream_eid
WHERE json_extract(e.policy, '$.edge_state') = 'unsatisfied' AND u.lifecycle_phase = 'terminal'
  AND (json_extract(e.policy, '$.upstream_replay_count') IS NULL
       OR COALESCE(json_extract(u.raw_fields, '$.replay_count'), 0) > json_extract(e.policy, '$.upstream_replay_count'))`)
	}
}
