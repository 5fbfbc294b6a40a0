package backend

import (
	"context"
	"strconv"
)

var (
	qExpiredLeases = `WITH RECURSIVE ` + attemptPartsCTE + `
SELECT a.partition_key, a.execution_id, a.attempt_index
FROM ap CROSS JOIN ff_attempt a
  ON a.partition_key = ap.p AND a.lease_expires_at_ms IS NOT NULL AND a.lease_expires_at_ms <= ?1
ORDER BY a.lease_expires_at_ms
LIMIT ?2`

	qReclaimable = `UPDATE ff_exec_core SET lifecycle_phase = 'runnable', ownership_state = 'unowned',
  eligibility_state = 'eligible_now', blocking_reason = 'waiting_for_worker',
  attempt_state = 'attempt_interrupted', public_state = 'waiting',
  lease_reclaim_count = lease_reclaim_count + 1
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase = 'active'`
)

// ExpireLeases handles up to limit attempts whose lease expired
// (lease_expires_at_ms <= nowMS, including revoked leases): the attempt
// ends with outcome interrupted and lease event "expired" is written.
// While lease_reclaim_count < max_reclaim_count (policy
// timeout_policy.max_reclaim_count or max_reclaim_count, default 100) the
// execution goes back to waiting (runnable / eligible_now /
// attempt_interrupted, lease_reclaim_count+1) and the next claim creates a
// reclaim attempt; otherwise it becomes terminal / failed with completion
// event "failed". With Options.LeaseExpiry LeaseExpiryReclaimable it
// marks the lease instead (canonical; reclaim.go).
func (b *Backend) ExpireLeases(ctx context.Context, nowMS int64, limit int) (SweepReport, error) {
	const op = "expire_leases"
	return b.sweep(ctx, op, qExpiredLeases, true, nowMS, limit, func(w *wtx, c sweepCandidate) (bool, error) {
		h, err := w.head(op, c.id)
		if err != nil {
			return false, skipNotFound(err)
		}
		if h.lifecycle != "active" || h.attemptIndex != c.idx || !h.live() || h.expires.Int64 > w.now {
			return false, nil
		}
		if w.b.in.opts.LeaseExpiry == LeaseExpiryReclaimable {
			return true, w.markReclaimable(c.id, h) // canonical marking (reclaim.go)
		}
		part, key := c.id.key()
		if err := w.endAttempt(part, key, c.idx, "interrupted", 0, "{}"); err != nil {
			return false, err
		}
		if err := w.leaseEvent(c.id, h.leaseID, "expired"); err != nil {
			return false, err
		}
		if max := h.policy.maxReclaimCount(); h.reclaimCount >= max {
			_, err := w.terminate(c.id, outcomeFailed, terminal{fields: map[string]any{
				"failure_class":  "lease_expired",
				"failure_reason": "lease expired and max_reclaim_count " + strconv.FormatInt(max, 10) + " is used up",
			}})
			return err == nil, err
		}
		_, err = w.exec(qReclaimable, part, key)
		return err == nil, err
	})
}
