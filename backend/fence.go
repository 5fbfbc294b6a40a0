package backend

import (
	"database/sql"
	"errors"
)

// Contention codes of a failed fence check.
const (
	CodeStaleLease   = "stale_lease"
	CodeLeaseExpired = "lease_expired"
	CodeLeaseRevoked = "lease_revoked"
)

// fenced is the state a worker call checked its handle against.
type fenced struct {
	h          HandlePayload
	id         ExecutionID
	part       int64
	key        []byte
	policy     *ExecutionPolicy
	retryCount int64
	epoch      int64
	expires    int64
}

var qFence = hotStmt(`SELECT e.lifecycle_phase, e.ownership_state, e.attempt_index, e.policy,
  COALESCE(json_extract(e.raw_fields, '$.retry_count'), 0),
  a.lease_epoch, a.lease_expires_at_ms, a.outcome, json_extract(a.raw_fields, '$.lease_id')
FROM ff_exec_core e
LEFT JOIN ff_attempt a
  ON a.partition_key = e.partition_key AND a.execution_id = e.execution_id AND a.attempt_index = ?3
WHERE e.partition_key = ?1 AND e.execution_id = ?2`)

// fence decodes the handle and checks it against the current attempt, in
// the transaction: the handle must name the execution's current attempt
// and lease, the lease must not be revoked, its epoch must be the stored
// one, the execution must be active with the attempt still running, and
// the lease must not have expired (expires <= now is expired). Any
// mismatch is a KindContention error (stale_lease, lease_revoked,
// lease_expired) and the caller changes nothing.
func (w *wtx) fence(op string, h Handle) (*fenced, error) {
	p, err := DecodeHandle(h)
	if err != nil {
		return nil, engineOp(err, op)
	}
	f := &fenced{h: p, id: p.ExecutionID}
	f.part, f.key = p.ExecutionID.key()
	var (
		lifecycle, ownership string
		execIdx              int64
		policy               sql.NullString
		epoch, expires       sql.NullInt64
		outcome, leaseID     sql.NullString
	)
	err = w.queryRow(qFence, f.part, f.key, int64(p.AttemptIndex)).Scan(
		&lifecycle, &ownership, &execIdx, &policy, &f.retryCount, &epoch, &expires, &outcome, &leaseID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, execNotFound(op, p.ExecutionID)
	}
	if err != nil {
		return nil, err
	}
	stale := func(why string) error {
		return newErr(KindContention, op, CodeStaleLease, "stale lease: %s (execution %s, attempt %d, epoch %d)",
			why, p.ExecutionID, p.AttemptIndex, p.LeaseEpoch)
	}
	switch {
	case !epoch.Valid || execIdx != int64(p.AttemptIndex):
		return nil, stale("not the current attempt")
	case leaseID.String != p.LeaseID:
		return nil, stale("lease id does not match")
	case lifecycle == "active" && ownership == "lease_revoked":
		return nil, newErr(KindContention, op, CodeLeaseRevoked, "lease revoked (execution %s, attempt %d)",
			p.ExecutionID, p.AttemptIndex)
	case lifecycle == "active" && ownership == "lease_expired_reclaimable" && !outcome.Valid:
		// A marked lease (canonical lease-expiry marking, or a route-13
		// grant of an expired lease) is an expired one; the marking moved
		// its expiry out of lease_expires_at_ms.
		return nil, newErr(KindContention, op, CodeLeaseExpired, "lease expired, waiting for its reclaim (execution %s, attempt %d)",
			p.ExecutionID, p.AttemptIndex)
	case uint64(epoch.Int64) != p.LeaseEpoch:
		return nil, stale("lease epoch moved")
	case lifecycle != "active" || outcome.Valid || !expires.Valid:
		return nil, stale("execution is " + lifecycle)
	case expires.Int64 <= w.now:
		return nil, newErr(KindContention, op, CodeLeaseExpired, "lease expired at %d (execution %s, attempt %d)",
			expires.Int64, p.ExecutionID, p.AttemptIndex)
	}
	if policy.Valid {
		f.policy = policyFromColumn(&policy.String)
	}
	f.epoch, f.expires = epoch.Int64, expires.Int64
	return f, nil
}

// qFencedEnd ends the handle's attempt only when the fence holds: exactly
// the conditions fence checks, so the happy path needs no read first.
// The attempt's stream closes with reason ?9 (stream.go).
var qFencedEnd = hotStmt(`UPDATE ff_attempt SET outcome = ?6, terminal_at_ms = ?5, lease_expires_at_ms = NULL,
  raw_fields = ` + streamCloseSQL("?8", "?5", "?9") + `
WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = ?3 AND lease_epoch = ?4
  AND outcome IS NULL AND lease_expires_at_ms > ?5 AND json_extract(raw_fields, '$.lease_id') = ?7
  AND EXISTS (SELECT 1 FROM ff_exec_core e WHERE e.partition_key = ?1 AND e.execution_id = ?2
              AND e.attempt_index = ?3 AND e.lifecycle_phase = 'active' AND e.ownership_state <> 'lease_revoked')`)

// fencedEnd ends the handle's attempt with outcome if the fence holds;
// otherwise it returns the error fence reports, having changed nothing.
func (w *wtx) fencedEnd(op string, h Handle, outcome, patch string) (HandlePayload, error) {
	p, err := DecodeHandle(h)
	if err != nil {
		return p, engineOp(err, op)
	}
	part, key := p.ExecutionID.key()
	n, err := w.affected(qFencedEnd, part, key, int64(p.AttemptIndex), int64(p.LeaseEpoch), w.now, outcome, p.LeaseID, patch,
		streamCloseReason(outcome, patch))
	if err != nil {
		return p, err
	}
	if n == 1 {
		w.streamChanged(part, key, int64(p.AttemptIndex))
		return p, nil
	}
	if _, err := w.fence(op, h); err != nil {
		return p, err
	}
	return p, newErr(KindContention, op, CodeStaleLease, "stale lease: attempt changed")
}
