package backend

import (
	"context"
	"database/sql"
	"errors"
)

var (
	// qEndAttempt ends a running attempt: outcome, end time, no live lease
	// (lease_expires_at_ms NULL), epoch bumped by ?6, raw_fields patched.
	qEndAttempt = hotStmt(`UPDATE ff_attempt SET outcome = ?4, terminal_at_ms = ?5,
  lease_expires_at_ms = NULL, lease_epoch = lease_epoch + ?6, raw_fields = json_patch(raw_fields, ?7)
WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = ?3 AND outcome IS NULL`)

	// qTerminal moves a non-terminal execution to terminal with public
	// state ?3; the attempt state becomes attempt_terminal when the
	// execution has any attempt. The deadline is cleared (the deadline
	// index holds live deadlines only); raw_fields is merge-patched with ?8
	// (terminal_outcome and friends).
	qTerminal = hotStmt(`UPDATE ff_exec_core SET lifecycle_phase = 'terminal', ownership_state = 'unowned',
  eligibility_state = 'not_applicable', blocking_reason = 'none',
  attempt_state = CASE WHEN EXISTS (SELECT 1 FROM ff_attempt a
      WHERE a.partition_key = ?1 AND a.execution_id = ?2) THEN 'attempt_terminal' ELSE attempt_state END,
  public_state = ?3, terminal_at_ms = ?4, deadline_at_ms = NULL, result = ?5,
  cancellation_reason = ?6, cancelled_by = ?7, raw_fields = json_patch(raw_fields, ?8)
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase <> 'terminal'`)

	// qTerminalTagged is qTerminal that also reads back the columns the
	// outbox rows copy.
	qTerminalTagged = hotStmt(qTerminal + "\nRETURNING " + evTagsReturning)
)

// terminalPatch is the raw_fields merge patch of a terminal transition.
func terminalPatch(outcome string, extra map[string]any) string {
	m := map[string]any{"terminal_outcome": outcome, "delay_until": nil, "blocking_detail": nil}
	for k, v := range extra {
		m[k] = v
	}
	return jsonString(m)
}

const completePatch = `{"terminal_outcome":"success","delay_until":null,"blocking_detail":null}`

// Complete ends the handle's attempt in success: the execution becomes
// terminal / success (completed), result is stored (empty = none), the
// attempt ends with outcome success, and completion event "success" and
// lease event "released" are written. The call is fenced like Renew.
func (b *Backend) Complete(ctx context.Context, h Handle, result []byte) error {
	const op = "complete"
	var res any
	if len(result) > 0 {
		res = result
	}
	return b.write(ctx, op, func(w *wtx) error {
		p, err := w.fencedEnd(op, h, "success", "{}")
		if err != nil {
			return err
		}
		part, key := p.ExecutionID.key()
		var tags evTags
		switch err := w.queryRow(qTerminalTagged, part, key, StateCompleted, w.now, res, nil, nil, completePatch).Scan(tags.dest()...); {
		case errors.Is(err, sql.ErrNoRows):
			// Not reached after a successful fencedEnd (the execution is
			// active); kept equivalent to the untagged path regardless.
			if err := w.completionEvent(p.ExecutionID, "success"); err != nil {
				return err
			}
			return w.leaseEvent(p.ExecutionID, p.LeaseID, "released")
		case err != nil:
			return err
		}
		if err := w.completionEventTagged(p.ExecutionID, &tags, "success"); err != nil {
			return err
		}
		return w.leaseEventTagged(p.ExecutionID, &tags, p.LeaseID, "released")
	})
}

// endAttempt ends a running attempt; it fails if the attempt already
// ended.
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
