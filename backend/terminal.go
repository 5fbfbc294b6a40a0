package backend

import (
	"database/sql"
	"errors"
)

// The terminal transition and the end of an attempt: the two state changes
// every way out of a running execution is built from.

// qEndAttempt ends a running attempt: outcome, end time, no live lease
// (lease_expires_at_ms NULL), epoch bumped by ?6, raw_fields patched.
// The attempt's stream closes with reason ?8 (stream.go).
var qEndAttempt = hotStmt(`UPDATE ff_attempt SET outcome = ?4, terminal_at_ms = ?5,
  lease_expires_at_ms = NULL, lease_epoch = lease_epoch + ?6, raw_fields = ` + streamCloseSQL("?7", "?5", "?8") + `
WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = ?3 AND outcome IS NULL`)

// endAttempt ends running attempt idx with outcome (success, failed,
// cancelled, expired, interrupted), bumping its lease epoch by bump and
// merge-patching its raw_fields with patch, and closes its stream with
// the reason of C4 (streamCloseReason); it fails with stale_lease if
// the attempt already ended. It writes no lease event: the caller does,
// with the event type its path calls for.
func (w *wtx) endAttempt(part int64, key []byte, idx int64, outcome string, bump int64, patch string) error {
	n, err := w.affected(qEndAttempt, part, key, idx, outcome, w.now, bump, patch, streamCloseReason(outcome, patch))
	if err != nil {
		return err
	}
	if n != 1 {
		return newErr(KindContention, "", CodeStaleLease, "stale lease: attempt %d already ended", idx)
	}
	w.streamChanged(part, key, idx)
	return nil
}

// qTerminal moves a non-terminal execution to terminal with public state
// ?3; the attempt state becomes ?9 when given (a skip's), else
// attempt_terminal when the execution has any attempt. The deadline is
// cleared (the deadline index holds live deadlines only); raw_fields is
// merge-patched with ?8 (terminal_outcome and friends). It reads back the
// columns the outbox rows copy, then the wait state terminate must end:
// the current attempt index, whether that attempt is paused by a suspend
// or delay (no outcome, no lease) and whether a suspension or waitpoint
// is still open (primary-key and ff_waitpoint_pending_exec_idx probes
// inside the one statement, so a completion with nothing to close costs
// no extra statement).
var qTerminal = hotStmt(terminalSQL(`EXISTS (SELECT 1 FROM ff_attempt a WHERE a.partition_key = ?1 AND a.execution_id = ?2
    AND a.attempt_index = ff_exec_core.attempt_index AND a.outcome IS NULL AND a.lease_expires_at_ms IS NULL)`,
	` OR EXISTS (SELECT 1 FROM ff_suspension_current s WHERE s.partition_key = ?1 AND s.execution_id = ?2
    AND json_extract(s.member_map, '$.state') = 'open')`))

// qTerminalLeased is qTerminal for an execution whose running lease the
// transaction has just ended (terminal.leased): it was active, so it has
// no paused attempt and no open suspension (a suspend makes an execution
// suspended, and only a resume, which closes the suspension, makes it
// runnable again), and only its waitpoints are probed. It spares a
// completion after a durable wait the parse of the closed suspension's
// record.
var qTerminalLeased = hotStmt(terminalSQL(`0`, ``))

// terminalSQL is the terminal transition with paused as the probe for a
// paused attempt and moreOpen appended to the probe for open wait state.
func terminalSQL(paused, moreOpen string) string {
	return `UPDATE ff_exec_core SET lifecycle_phase = 'terminal', ownership_state = 'unowned',
  eligibility_state = 'not_applicable', blocking_reason = 'none',
  attempt_state = COALESCE(?9, CASE WHEN EXISTS (SELECT 1 FROM ff_attempt a
      WHERE a.partition_key = ?1 AND a.execution_id = ?2) THEN 'attempt_terminal' ELSE attempt_state END),
  public_state = ?3, terminal_at_ms = ?4, deadline_at_ms = NULL, result = ?5,
  cancellation_reason = ?6, cancelled_by = ?7, raw_fields = json_patch(raw_fields, ?8)
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase <> 'terminal'
RETURNING ` + evTagsReturning + `, attempt_index, ` + paused + `,
  EXISTS (SELECT 1 FROM ff_waitpoint_pending wp WHERE wp.partition_key = ?1 AND wp.execution_id = ?2
    AND wp.state IN ('pending', 'active'))` + moreOpen
}

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
	// pausedOutcome is the outcome of an attempt paused by a suspend or a
	// delay, which holds no lease and which terminate ends; empty: the
	// terminal outcome (the suspension timeout's expire ends it failed).
	pausedOutcome string
	// closeReason closes the suspension and the waitpoints still open;
	// empty: cancelled, expired or execution_terminal by outcome.
	closeReason string
	// attemptState, when set, is the attempt state to record (a skip
	// follows canonical's rule, flow_resolve.go).
	attemptState string
	// leased is set by a caller that has just ended the execution's
	// running lease in this transaction (fencedEnd): only its waitpoints
	// can still be open (qTerminalLeased).
	leased bool
}

// cancelInfo is a cancellation's reason and source.
type cancelInfo struct{ reason, by string }

// terminate moves execution id to terminal with outcome (outcomeSuccess,
// outcomeFailed, outcomeCancelled, outcomeExpired, outcomeSkipped)
// and writes its completion event, in the caller's transaction. The public
// state is the outcome's (DerivePublicState: completed, failed, …),
// the deadline is cleared and raw_fields gets terminal_outcome, t.fields
// and no delay or blocking detail.
//
// Every terminal transition must go through terminate: Complete, a Fail
// without a retry, CancelExecution, the deadline and attempt-timeout
// reconcilers, the lease-expiry reclaim cap, the suspension timeout and a
// worker's cancel all do. It is the one place where the consequences of
// an execution ending belong (closing its streams, resolving the flow
// dependencies that wait on it, releasing its quota), so that no terminal
// path can miss them. The caller has already ended the running attempt,
// if any (endAttempt, fencedEnd) and written its lease event. What a
// durable wait left open terminate ends itself: an attempt paused by a
// suspend or delay (no lease, so no lease event) ends with t.pausedOutcome
// and ended_paused, and the open suspension and every pending or active
// waitpoint close with t.closeReason (kept, not deleted). A flow member's
// applied edges then resolve, in this transaction (memberEnded,
// flow_resolve.go): its children become eligible or are skipped, and so
// on down the DAG.
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
	var attempt any
	if t.attemptState != "" {
		attempt = t.attemptState
	}
	state := DerivePublicState("terminal", "", outcome)
	var (
		tags            evTags
		idx             int64
		paused, waiting bool
	)
	q := qTerminal
	if t.leased {
		q = qTerminalLeased
	}
	err := w.queryRow(q, part, key, state, w.now, res, reason, by, terminalPatch(outcome, t.fields), attempt).
		Scan(append(tags.dest(), &idx, &paused, &waiting)...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, w.completionEvent(id, outcome)
	case err != nil:
		return nil, err
	}
	if paused {
		if err := w.endPaused(part, key, idx, outcome, t); err != nil {
			return nil, err
		}
	}
	if waiting {
		if err := w.closeWaits(id, t.waitCloseReason(outcome)); err != nil {
			return nil, err
		}
	}
	if err := w.completionEventTagged(id, &tags, outcome); err != nil {
		return nil, err
	}
	// A flow member's edges resolve now (flow_resolve.go), except after a
	// cancel whose source is flow_cascade, which canonical publishes no
	// outcome for (the dependency reconciler resolves those edges).
	if flow, ok := tags.flowID.([]byte); ok && len(flow) == 16 && (t.cancel == nil || t.cancel.by != SourceFlowCascade) {
		if err := w.memberEnded(id, flow, outcome); err != nil {
			return nil, err
		}
	}
	return &tags, nil
}

// endRunning ends the running attempt of an execution about to end (head
// h, before terminate) with outcome and patch. A live lease's end is
// recorded with lease event ev; a lease waiting for its reclaim had its
// end recorded already (expired or revoked) and gets none. Without a
// running attempt it does nothing: terminate ends a paused one.
func (w *wtx) endRunning(id ExecutionID, h *execHead, outcome, patch, ev string) error {
	if !h.running() {
		return nil
	}
	part, key := id.key()
	if err := w.endAttempt(part, key, h.attemptIndex, outcome, 1, patch); err != nil {
		return err
	}
	if !h.live() {
		return nil
	}
	return w.leaseEvent(id, h.leaseID, ev)
}

// endPaused ends attempt idx, paused by a suspend or a delay, as its
// execution ends with outcome: ended_paused marks that it ended without
// a lease; its failure_reason is t.fields' or the cancellation's.
func (w *wtx) endPaused(part int64, key []byte, idx int64, outcome string, t terminal) error {
	if t.pausedOutcome != "" {
		outcome = t.pausedOutcome
	}
	patch := map[string]any{"paused": nil, "paused_at_ms": nil, "ended_paused": true}
	if r, ok := t.fields["failure_reason"]; ok {
		patch["failure_reason"] = r
	} else if t.cancel != nil {
		patch["failure_reason"] = "cancelled: " + t.cancel.reason
	}
	return w.endAttempt(part, key, idx, outcome, 1, jsonString(patch))
}

// waitCloseReason is the close reason of what a terminal transition with
// outcome leaves open.
func (t terminal) waitCloseReason(outcome string) string {
	switch {
	case t.closeReason != "":
		return t.closeReason
	case outcome == outcomeCancelled:
		return CloseCancelled
	case outcome == outcomeExpired:
		return CloseExpired
	}
	return CloseTerminal
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
