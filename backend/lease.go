package backend

import "context"

// LeaseRenewal is the outcome of a renew: the new expiry and the
// (unchanged) epoch.
type LeaseRenewal struct {
	ExpiresAtMS int64  `json:"expires_at_ms"`
	LeaseEpoch  uint64 `json:"lease_epoch"`
}

// qRenew extends the lease only when the fence holds (the conditions
// fence checks), so the happy path needs no read first.
var qRenew = hotStmt(`UPDATE ff_attempt SET lease_expires_at_ms = ?6
WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = ?3 AND lease_epoch = ?4
  AND outcome IS NULL AND lease_expires_at_ms > ?5 AND json_extract(raw_fields, '$.lease_id') = ?7
  AND EXISTS (SELECT 1 FROM ff_exec_core e WHERE e.partition_key = ?1 AND e.execution_id = ?2
              AND e.attempt_index = ?3 AND e.lifecycle_phase = 'active' AND e.ownership_state <> 'lease_revoked')`)

// Renew extends the handle's lease to now + ttlMS (0: the TTL the lease
// was granted with) and writes lease event "renewed"; a negative ttlMS is
// refused, as a claim refuses it. The call is fenced: a stale, revoked or
// expired lease is a KindContention error and nothing changes.
func (b *Backend) Renew(ctx context.Context, h Handle, ttlMS int64) (LeaseRenewal, error) {
	const op = "renew"
	if ttlMS < 0 {
		return LeaseRenewal{}, validation(op, "invalid_input", "lease_ttl_ms must be positive (got %d)", ttlMS)
	}
	p, err := DecodeHandle(h)
	if err != nil {
		return LeaseRenewal{}, engineOp(err, op)
	}
	ttl := ttlMS
	if ttl == 0 {
		ttl = clampI64(p.LeaseTTLMS)
	}
	ttl = min(ttl, maxTTLMS)
	part, key := p.ExecutionID.key()
	var out LeaseRenewal
	err = b.write(ctx, op, func(w *wtx) error {
		expires := w.now + ttl
		n, err := w.affected(qRenew, part, key, int64(p.AttemptIndex), int64(p.LeaseEpoch), w.now, expires, p.LeaseID)
		if err != nil {
			return err
		}
		if n != 1 {
			if _, err := w.fence(op, h); err != nil {
				return err
			}
			return newErr(KindContention, op, CodeStaleLease, "stale lease: attempt changed")
		}
		if err := w.leaseEvent(p.ExecutionID, p.LeaseID, "renewed"); err != nil {
			return err
		}
		out = LeaseRenewal{ExpiresAtMS: expires, LeaseEpoch: p.LeaseEpoch}
		return nil
	})
	return out, err
}
