package backend

import (
	"database/sql"
	"errors"
)

// The terminal transition and the end of an attempt: the two state changes
// every way out of a running execution is built from.

// qEndAttempt ends a running attempt: outcome, end time, no live lease
// (lease_expires_at_ms NULL), epoch bumped by ?6, raw_fields patched.
var qEndAttempt = hotStmt(`UPDATE ff_attempt SET outcome = ?4, terminal_at_ms = ?5,
  lease_expires_at_ms = NULL, lease_epoch = lease_epoch + ?6, raw_fields = json_patch(raw_fields, ?7)
WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = ?3 AND outcome IS NULL`)

// endAttempt ends running attempt idx with outcome (success, failed,
// cancelled, expired, interrupted), bumping its lease epoch by bump and
// merge-patching its raw_fields with patch; it fails with stale_lease if
// the attempt already ended. It writes no lease event: the caller does,
// with the event type its path calls for.
func (w *wtx) endAttempt(part int64, key []byte, idx int64, outcome string, bump int64, patch string) error {
	n, err := w.affected(qEndAttempt, part, key, idx, outcome, w.now, bump, patch)
	if err != nil {
		return err
	}
	if n != 1 {
		return newErr(KindContention, "", CodeStaleLease, "stale lease: attempt %d already ended", idx)
	}
	return nil
}

// qTerminal moves a non-terminal execution to terminal with public state
// ?3; the attempt state becomes attempt_terminal when the execution has
// any attempt. The deadline is cleared (the deadline index holds live
// deadlines only); raw_fields is merge-patched with ?8 (terminal_outcome
// and friends). It reads back the columns the outbox rows copy.
var qTerminal = hotStmt(`UPDATE ff_exec_core SET lifecycle_phase = 'terminal', ownership_state = 'unowned',
  eligibility_state = 'not_applicable', blocking_reason = 'none',
  attempt_state = CASE WHEN EXISTS (SELECT 1 FROM ff_attempt a
      WHERE a.partition_key = ?1 AND a.execution_id = ?2) THEN 'attempt_terminal' ELSE attempt_state END,
  public_state = ?3, terminal_at_ms = ?4, deadline_at_ms = NULL, result = ?5,
  cancellation_reason = ?6, cancelled_by = ?7, raw_fields = json_patch(raw_fields, ?8)
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase <> 'terminal'
RETURNING ` + evTagsReturning)

// Terminal outcomes: the terminal_outcome a terminal transition records
// and the outcome of its completion event. The public state follows from
// the outcome (DerivePublicState).
const (
	outcomeSuccess   = "success"
	outcomeFailed    = "failed"
	outcomeCancelled = "cancelled"
	outcomeExpired   = "expired"
)

// terminal is what a terminal transition records besides its outcome.
type terminal struct {
	// result is ff_exec_core.result (completions; nil stores NULL).
	result []byte
	// cancel, when set, fills cancellation_reason and cancelled_by.
	cancel *cancelInfo
	// fields are extra raw_fields members (failure_class, failure_reason).
	fields map[string]any
}

// cancelInfo is a cancellation's reason and source.
type cancelInfo struct{ reason, by string }

// terminate moves execution id to terminal with outcome (outcomeSuccess,
// outcomeFailed, outcomeCancelled, outcomeExpired; flows will add skipped)
// and writes its completion event, in the caller's transaction. The public
// state is the outcome's (DerivePublicState: completed, failed, …),
// the deadline is cleared and raw_fields gets terminal_outcome, t.fields
// and no delay or blocking detail.
//
// Every terminal transition must go through terminate: Complete, a Fail
// without a retry, CancelExecution, the deadline and attempt-timeout
// reconcilers and the lease-expiry reclaim cap all do. It is the one place
// where the consequences of an execution ending belong (closing its
// streams, resolving the flow dependencies that wait on it, releasing its
// quota), so that no terminal path can miss them. The caller has already
// ended the running attempt, if any (endAttempt, fencedEnd) and written
// its lease event.
//
// It returns the execution's outbox columns as the update read them, for
// a lease event written after it (nil if the execution was already
// terminal: then nothing changes but the completion event is still
// written, as the engine always did; no caller reaches that case).
func (w *wtx) terminate(id ExecutionID, outcome string, t terminal) (*evTags, error) {
	part, key := id.key()
	var res, reason, by any
	if len(t.result) > 0 {
		res = t.result
	}
	if t.cancel != nil {
		reason, by = t.cancel.reason, t.cancel.by
	}
	state := DerivePublicState("terminal", "", outcome)
	var tags evTags
	err := w.queryRow(qTerminal, part, key, state, w.now, res, reason, by, terminalPatch(outcome, t.fields)).Scan(tags.dest()...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, w.completionEvent(id, outcome)
	case err != nil:
		return nil, err
	}
	return &tags, w.completionEventTagged(id, &tags, outcome)
}

// terminalPatch is the raw_fields merge patch of a terminal transition.
// Without extra fields it is built without a map (Complete's hot path);
// both forms patch to the same document.
func terminalPatch(outcome string, extra map[string]any) string {
	if len(extra) == 0 {
		return `{"terminal_outcome":"` + outcome + `","delay_until":null,"blocking_detail":null}`
	}
	m := map[string]any{"terminal_outcome": outcome, "delay_until": nil, "blocking_detail": nil}
	for k, v := range extra {
		m[k] = v
	}
	return jsonString(m)
}
