package backend

import "context"

// Complete ends the handle's attempt in success: the execution becomes
// terminal / success (completed), result is stored (empty = none), the
// attempt ends with outcome success, and completion event "success" and
// lease event "released" are written. The call is fenced like Renew.
func (b *Backend) Complete(ctx context.Context, h Handle, result []byte) error {
	const op = "complete"
	return b.write(ctx, op, func(w *wtx) error {
		p, err := w.fencedEnd(op, h, outcomeSuccess, "{}")
		if err != nil {
			return err
		}
		tags, err := w.terminate(p.ExecutionID, outcomeSuccess, terminal{result: result})
		if err != nil {
			return err
		}
		if tags == nil {
			return w.leaseEvent(p.ExecutionID, p.LeaseID, "released")
		}
		return w.leaseEventTagged(p.ExecutionID, tags, p.LeaseID, "released")
	})
}
