package backend

import (
	"database/sql"
	"errors"
)

// execHead is what a transition reads about an execution and its current
// attempt before deciding what to do (operator calls, reconcilers).
type execHead struct {
	lifecycle, ownership, eligibility, public string
	attemptIndex                              int64
	policy                                    *ExecutionPolicy
	replayCount                               int64
	retryCount                                int64
	reclaimCount                              int64
	deadline                                  sql.NullInt64
	priority                                  int64
	// Current attempt (valid only when hasAttempt).
	hasAttempt bool
	epoch      int64
	expires    sql.NullInt64
	outcome    sql.NullString
	leaseID    string
	workerInst string
	// attemptStart is when the attempt last started running: its start,
	// or its latest resume after a suspend or delay.
	attemptStart sql.NullInt64
}

// live reports whether the current attempt holds a lease slot (running,
// lease_expires_at_ms set).
func (h *execHead) live() bool { return h.hasAttempt && !h.outcome.Valid && h.expires.Valid }

// running reports whether the current attempt is still running: live, or
// its lease revoked or marked expired and waiting for a reclaim (out of the
// expiry index, not ended).
func (h *execHead) running() bool {
	return h.live() || (h.hasAttempt && !h.outcome.Valid &&
		(h.ownership == "lease_revoked" || h.ownership == "lease_expired_reclaimable"))
}

var qHead = hotStmt(`SELECT e.lifecycle_phase, e.ownership_state, e.eligibility_state, e.public_state,
  e.attempt_index, e.policy, COALESCE(json_extract(e.raw_fields, '$.replay_count'), 0),
  COALESCE(json_extract(e.raw_fields, '$.retry_count'), 0), e.lease_reclaim_count, e.deadline_at_ms, e.priority,
  a.lease_epoch, a.lease_expires_at_ms, a.outcome, COALESCE(json_extract(a.raw_fields, '$.lease_id'), ''),
  COALESCE(a.worker_instance_id, ''), COALESCE(json_extract(a.raw_fields, '$.resumed_at_ms'), a.started_at_ms)
FROM ff_exec_core e
LEFT JOIN ff_attempt a
  ON a.partition_key = e.partition_key AND a.execution_id = e.execution_id AND a.attempt_index = e.attempt_index
WHERE e.partition_key = ?1 AND e.execution_id = ?2`)

// head reads the execution and its current attempt in the transaction.
func (w *wtx) head(op string, id ExecutionID) (*execHead, error) {
	part, key := id.key()
	h := &execHead{}
	var (
		policy sql.NullString
		epoch  sql.NullInt64
	)
	err := w.queryRow(qHead, part, key).Scan(&h.lifecycle, &h.ownership, &h.eligibility, &h.public,
		&h.attemptIndex, &policy, &h.replayCount, &h.retryCount, &h.reclaimCount, &h.deadline, &h.priority, &epoch, &h.expires, &h.outcome,
		&h.leaseID, &h.workerInst, &h.attemptStart)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, execNotFound(op, id)
	}
	if err != nil {
		return nil, err
	}
	if policy.Valid {
		h.policy = policyFromColumn(&policy.String)
	}
	h.hasAttempt, h.epoch = epoch.Valid, epoch.Int64
	return h, nil
}
