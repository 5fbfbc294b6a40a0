package backend

import "context"

// Complete ends the handle's attempt in success: the execution becomes
// terminal / success (completed), result is stored (empty = none), the
// attempt ends with outcome success, and completion event "success" and
// lease event "released" are written. The call is fenced like Renew.
func (b *Backend) Complete(ctx context.Context, h Handle, result []byte) error {
	return b.write(ctx, "complete", func(w *wtx) error { return w.complete("complete", h, result) })
}

// CompleteAndClaim is Complete followed, in the same write transaction,
// by a claim of one execution for next, as Claim would lease it: a worker
// loop then commits once per job instead of twice. next is validated
// before anything is written (a bad field changes nothing); a refused
// complete claims nothing, and any error leaves both undone, so the
// handle may be completed again. The lease is nil when nothing is
// claimable.
func (b *Backend) CompleteAndClaim(ctx context.Context, h Handle, result []byte, next ClaimArgs) (*Lease, error) {
	const op = "complete"
	p, err := prepareClaim("claim", next)
	if err != nil {
		return nil, err
	}
	var lease *Lease
	err = b.write(ctx, op, func(w *wtx) error {
		// A run that rolled back (a busy retry, a group transaction run
		// again) must not leave its lease behind for a run that claims
		// nothing.
		lease = nil
		if err := w.complete(op, h, result); err != nil {
			return err
		}
		leases, err := w.claimUpTo(next, p, 1)
		if err != nil {
			return err
		}
		if len(leases) > 0 {
			lease = leases[0]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return lease, nil
}

// complete is Complete's transaction body.
func (w *wtx) complete(op string, h Handle, result []byte) error {
	p, err := w.fencedEnd(op, h, outcomeSuccess, "{}")
	if err != nil {
		return err
	}
	tags, err := w.terminate(p.ExecutionID, outcomeSuccess, terminal{result: result, leased: true})
	if err != nil {
		return err
	}
	if tags == nil {
		return w.leaseEvent(p.ExecutionID, p.LeaseID, "released")
	}
	return w.leaseEventTagged(p.ExecutionID, tags, p.LeaseID, "released")
}
