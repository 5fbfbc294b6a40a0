package backend

import (
	"context"
	"strconv"
)

// attemptTimeoutSQL is execution e's policy.timeout_policy
// .attempt_timeout_ms, NULL when the policy is not JSON SQLite can read
// (another writer's, or nested past its depth): such a row then has no
// attempt timeout, instead of failing the whole reconciler pass.
const attemptTimeoutSQL = `CASE WHEN json_valid(e.policy, 6) THEN json_extract(e.policy, '$.timeout_policy.attempt_timeout_ms') END`

var (
	// Running attempts past their policy's
	// timeout_policy.attempt_timeout_ms: live leases (via
	// ff_attempt_lease_expiry_idx), then leases waiting for a reclaim
	// (revoked or marked lease_expired_reclaimable: the marking took them
	// out of that index, so they are found through the active executions of
	// each lane instead). The clock runs from the attempt's start, or its
	// latest resume.
	qTimedOutAttempts = `WITH RECURSIVE ` + attemptPartsCTE + `, ` + lanesCTE + `
SELECT a.partition_key, a.execution_id, a.attempt_index
FROM ap CROSS JOIN ff_attempt a
  ON a.partition_key = ap.p AND a.lease_expires_at_ms IS NOT NULL
JOIN ff_exec_core e
  ON e.partition_key = a.partition_key AND e.execution_id = a.execution_id AND e.attempt_index = a.attempt_index
WHERE a.outcome IS NULL AND e.lifecycle_phase = 'active'
  AND ` + attemptTimeoutSQL + ` > 0
  AND COALESCE(json_extract(a.raw_fields, '$.resumed_at_ms'), a.started_at_ms)
      + ` + attemptTimeoutSQL + ` <= ?1
UNION ALL
SELECT e.partition_key, e.execution_id, e.attempt_index
FROM lanes CROSS JOIN ff_exec_core e
  ON e.partition_key = lanes.p AND e.lane_id = lanes.l AND e.lifecycle_phase = 'active'
JOIN ff_attempt a
  ON a.partition_key = e.partition_key AND a.execution_id = e.execution_id AND a.attempt_index = e.attempt_index
WHERE e.ownership_state IN ('lease_revoked', 'lease_expired_reclaimable')
  AND a.outcome IS NULL AND a.lease_expires_at_ms IS NULL
  AND ` + attemptTimeoutSQL + ` > 0
  AND COALESCE(json_extract(a.raw_fields, '$.resumed_at_ms'), a.started_at_ms)
      + ` + attemptTimeoutSQL + ` <= ?1
LIMIT ?2`

	// Executions with a deadline, one seek per partition on
	// ff_exec_core_deadline_idx (partition_key, deadline_at_ms) WHERE
	// deadline_at_ms IS NOT NULL. Terminal transitions clear deadline_at_ms,
	// so the index holds live deadlines only.
	qPastDeadline = `WITH RECURSIVE ` + deadlinePartsCTE + `
SELECT e.partition_key, e.execution_id
FROM dp CROSS JOIN ff_exec_core e
  ON e.partition_key = dp.p AND e.deadline_at_ms IS NOT NULL AND e.deadline_at_ms <= ?1
ORDER BY e.deadline_at_ms
LIMIT ?2`
)

// TimeoutAttempts fails up to limit running attempts (a lease waiting for
// its reclaim included) that ran at least
// the policy's timeout_policy.attempt_timeout_ms since they started (or,
// for an attempt resumed after a suspend or delay, since it resumed:
// waiting does not count as running), with failure class
// timeout. The retry policy applies as for Fail (retry_count <
// max_retries → delayed retry, else terminal failed).
func (b *Backend) TimeoutAttempts(ctx context.Context, nowMS int64, limit int) (SweepReport, error) {
	const op = "timeout_attempts"
	return b.sweep(ctx, op, qTimedOutAttempts, true, nowMS, limit, func(w *wtx, c sweepCandidate) (bool, error) {
		h, err := w.head(op, c.id)
		if err != nil {
			return false, skipNotFound(err)
		}
		if h.lifecycle != "active" || h.attemptIndex != c.idx || !h.running() || !h.attemptStart.Valid {
			return false, nil
		}
		p := h.policy
		if p == nil || p.TimeoutPolicy == nil || p.TimeoutPolicy.AttemptTimeoutMS == nil || *p.TimeoutPolicy.AttemptTimeoutMS == 0 {
			return false, nil
		}
		timeout := clampI64(*p.TimeoutPolicy.AttemptTimeoutMS)
		if h.attemptStart.Int64+timeout > w.now {
			return false, nil
		}
		reason := "attempt timed out after " + strconv.FormatInt(timeout, 10) + " ms"
		// The stream closes "expired", the attempt timeout's reason (C4).
		_, err = w.failAttempt(c.id, c.idx, h.leaseID, p, h.retryCount, FailTimeout, reason, true, StreamClosedExpired)
		return err == nil, err
	})
}

// ExpireDeadlines moves up to limit non-terminal executions whose
// deadline_at_ms <= nowMS to terminal / expired: a held lease is released
// (attempt outcome expired, epoch bumped, lease event "released"), a
// paused attempt ends expired and an open suspension closes, and
// completion event "expired" is written.
func (b *Backend) ExpireDeadlines(ctx context.Context, nowMS int64, limit int) (SweepReport, error) {
	const op = "expire_deadlines"
	return b.sweep(ctx, op, qPastDeadline, false, nowMS, limit, func(w *wtx, c sweepCandidate) (bool, error) {
		h, err := w.head(op, c.id)
		if err != nil {
			return false, skipNotFound(err)
		}
		if h.lifecycle == "terminal" || !h.deadline.Valid || h.deadline.Int64 > w.now {
			return false, nil
		}
		if err := w.endRunning(c.id, h, "expired", "{}", "released"); err != nil {
			return false, err
		}
		_, err = w.terminate(c.id, outcomeExpired, terminal{fields: map[string]any{
			"failure_reason": "execution deadline " + strconv.FormatInt(h.deadline.Int64, 10) + " passed",
		}})
		return err == nil, err
	})
}
