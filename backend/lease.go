package backend

import "context"

// LeaseRenewal is the outcome of a renew: the new expiry and the
// (unchanged) epoch.
type LeaseRenewal struct {
	ExpiresAtMS int64  `json:"expires_at_ms"`
	LeaseEpoch  uint64 `json:"lease_epoch"`
}

var qRenew = hot(`UPDATE ff_attempt SET lease_expires_at_ms = ?5
WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = ?3 AND lease_epoch = ?4
  AND outcome IS NULL`)

// Renew extends the handle's lease to now + ttlMS (ttlMS <= 0: the TTL
// the lease was granted with) and writes lease event "renewed". The call
// is fenced: a stale, revoked or expired lease is a KindContention error
// and nothing changes.
func (b *Backend) Renew(ctx context.Context, h Handle, ttlMS int64) (LeaseRenewal, error) {
	const op = "renew"
	var out LeaseRenewal
	err := b.write(ctx, op, func(w *wtx) error {
		f, err := w.fence(op, h)
		if err != nil {
			return err
		}
		ttl := ttlMS
		if ttl <= 0 {
			ttl = clampI64(f.h.LeaseTTLMS)
		}
		expires := w.now + ttl
		n, err := w.affected(qRenew, f.part, f.key, int64(f.h.AttemptIndex), f.epoch, expires)
		if err != nil {
			return err
		}
		if n != 1 {
			return newErr(KindContention, op, CodeStaleLease, "stale lease: attempt changed")
		}
		if err := w.leaseEvent(f.id, f.h.LeaseID, "renewed"); err != nil {
			return err
		}
		out = LeaseRenewal{ExpiresAtMS: expires, LeaseEpoch: uint64(f.epoch)}
		return nil
	})
	return out, err
}
