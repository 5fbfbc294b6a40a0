package backend

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
)

// The two reconcilers of durable waits: suspension timeouts and the
// expiry of pending waitpoints that no suspend bound.

var (
	// Open suspensions whose timeout is due, one seek per partition on
	// ff_suspension_current_timeout_idx (partition_key, timeout_at_ms)
	// WHERE timeout_at_ms IS NOT NULL; closing or escalating a suspension
	// clears the column, so the index holds pending timeouts only.
	qDueSuspensions = `WITH RECURSIVE sp(p) AS (
  SELECT (SELECT min(partition_key) FROM ff_suspension_current WHERE timeout_at_ms IS NOT NULL)
  UNION ALL
  SELECT (SELECT min(partition_key) FROM ff_suspension_current
          WHERE timeout_at_ms IS NOT NULL AND partition_key > sp.p)
  FROM sp WHERE sp.p IS NOT NULL)
SELECT s.partition_key, s.execution_id
FROM sp CROSS JOIN ff_suspension_current s
  ON s.partition_key = sp.p AND s.timeout_at_ms IS NOT NULL AND s.timeout_at_ms <= ?1
ORDER BY s.timeout_at_ms
LIMIT ?2`

	// Pending waitpoints past their expiry, one seek per partition on
	// ff_waitpoint_pending_expires_idx (partition_key, expires_at_ms)
	// WHERE expires_at_ms IS NOT NULL (closing clears the column); the
	// third column is the waitpoint's rowid.
	qDueWaitpoints = `WITH RECURSIVE wpp(p) AS (
  SELECT (SELECT min(partition_key) FROM ff_waitpoint_pending WHERE expires_at_ms IS NOT NULL)
  UNION ALL
  SELECT (SELECT min(partition_key) FROM ff_waitpoint_pending
          WHERE expires_at_ms IS NOT NULL AND partition_key > wpp.p)
  FROM wpp WHERE wpp.p IS NOT NULL)
SELECT w.partition_key, w.execution_id, w.rowid
FROM wpp CROSS JOIN ff_waitpoint_pending w
  ON w.partition_key = wpp.p AND w.expires_at_ms IS NOT NULL AND w.expires_at_ms <= ?1
WHERE w.state = 'pending'
ORDER BY w.expires_at_ms
LIMIT ?2`

	qSuspensionTimeout = `SELECT timeout_at_ms, COALESCE(timeout_behavior, 'fail') FROM ff_suspension_current
WHERE partition_key = ?1 AND execution_id = ?2 AND json_extract(member_map, '$.state') = 'open'`

	qEscalateExec = `UPDATE ff_exec_core SET blocking_reason = 'paused_by_operator',
  raw_fields = json_set(raw_fields, '$.blocking_detail', ?3)
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase = 'suspended'`

	qEscalateSuspension = `UPDATE ff_suspension_current SET reason_code = 'waiting_for_operator_review',
  timeout_at_ms = NULL, timeout_behavior = NULL,
  member_map = json_set(json_remove(member_map, '$.timeout_at_ms'), '$.escalated_at_ms', ?3)
WHERE partition_key = ?1 AND execution_id = ?2`

	qExpireWaitpoint = `UPDATE ff_waitpoint_pending SET state = 'closed', expires_at_ms = NULL,
  condition = json_patch(COALESCE(condition, '{}'), json_object('closed_at_ms', ?2, 'close_reason', 'never_committed',
    'expires_at_ms', expires_at_ms))
WHERE rowid = ?1 AND state = 'pending' AND expires_at_ms IS NOT NULL AND expires_at_ms <= ?2`
)

// ExpireSuspensions applies the timeout behaviour of up to limit open
// suspensions whose timeout_at <= nowMS (upstream's ff_expire_suspension),
// re-checked in the transaction (still suspended, still open, still due):
//   - fail, cancel, expire: the execution becomes terminal failed /
//     cancelled / expired with failure_reason
//     "suspension_timeout:<behaviour>"; the paused attempt ends (outcome
//     cancelled for cancel, else failed); the suspension and its
//     waitpoints close with timed_out_<behaviour>; completion event
//     failed / cancelled / expired;
//   - auto_resume_with_timeout_signal: everything closes with
//     timed_out_auto_resume and the execution becomes waiting (no
//     synthetic signal is recorded);
//   - escalate: the execution stays suspended with blocking_reason
//     paused_by_operator and detail "suspension escalated: timeout at
//     <ms>", the suspension's reason becomes waiting_for_operator_review
//     and its timeout is cleared.
func (b *Backend) ExpireSuspensions(ctx context.Context, nowMS int64, limit int) (SweepReport, error) {
	const op = "expire_suspensions"
	return b.sweep(ctx, op, qDueSuspensions, false, nowMS, limit, func(w *wtx, c sweepCandidate) (bool, error) {
		h, err := w.head(op, c.id)
		if err != nil {
			return false, skipNotFound(err)
		}
		if h.lifecycle != "suspended" {
			return false, nil
		}
		part, key := c.id.key()
		var (
			timeoutAt sql.NullInt64
			behavior  string
		)
		err = w.queryRow(qSuspensionTimeout, part, key).Scan(&timeoutAt, &behavior)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if !timeoutAt.Valid || timeoutAt.Int64 > w.now {
			return false, nil
		}
		return true, w.applySuspensionTimeout(c.id, h, behavior, timeoutAt.Int64)
	})
}

func (w *wtx) applySuspensionTimeout(id ExecutionID, h *execHead, behavior string, timeoutAt int64) error {
	part, key := id.key()
	switch behavior {
	case "auto_resume", "auto_resume_with_timeout_signal":
		if err := w.closeWaitState(id, "timed_out_auto_resume", false); err != nil {
			return err
		}
		_, err := w.resumeSuspended(id, 0, "")
		return err
	case "escalate":
		detail := "suspension escalated: timeout at " + strconv.FormatInt(timeoutAt, 10)
		if _, err := w.exec(qEscalateExec, part, key, detail); err != nil {
			return err
		}
		_, err := w.exec(qEscalateSuspension, part, key, w.now)
		return err
	}
	t := terminal{pausedOutcome: outcomeFailed}
	outcome := outcomeFailed
	switch behavior {
	case "cancel":
		outcome, t.pausedOutcome = outcomeCancelled, outcomeCancelled
		t.cancel = &cancelInfo{reason: "suspension_timeout", by: SourceSystemTimeout}
	case "expire":
		outcome = outcomeExpired
	default:
		behavior = "fail"
	}
	t.closeReason = "timed_out_" + behavior
	t.fields = map[string]any{"failure_reason": "suspension_timeout:" + behavior}
	_, err := w.terminate(id, outcome, t)
	return err
}

// ExpirePendingWaitpoints closes up to limit pending waitpoints whose
// expiry has passed (no suspend bound them in time) with close reason
// never_committed (upstream's pending_wp_expiry scanner). Signals
// buffered on them stay recorded; later deliveries answer
// target_not_signalable or waitpoint_closed.
func (b *Backend) ExpirePendingWaitpoints(ctx context.Context, nowMS int64, limit int) (SweepReport, error) {
	const op = "expire_pending_waitpoints"
	return b.sweep(ctx, op, qDueWaitpoints, true, nowMS, limit, func(w *wtx, c sweepCandidate) (bool, error) {
		n, err := w.affected(qExpireWaitpoint, c.idx, w.now)
		return n == 1, err
	})
}
