package backend

import "context"

// CancelByHolder cancels the handle's execution on behalf of the worker
// holding its lease (upstream's ClaimedTask::cancel: cancel_execution
// with source lease_holder): the attempt ends with outcome cancelled
// (epoch bumped), the lease is released (lease event "released"), the
// execution becomes terminal / cancelled with cancellation_reason =
// reason and cancelled_by = lease_holder, and completion event
// "cancelled" is written. Fenced like Renew: a stale handle changes
// nothing.
func (b *Backend) CancelByHolder(ctx context.Context, h Handle, reason string) (CancelExecutionResult, error) {
	const op = "cancel_execution"
	var out CancelExecutionResult
	err := b.write(ctx, op, func(w *wtx) error {
		f, err := w.fence(op, h)
		if err != nil {
			return err
		}
		// The attempt records who cancelled it: a holder's cancel releases
		// the lease where an operator's revokes it, and the storage
		// invariants (docs/storage.md) tell the two apart by this field.
		patch := jsonString(map[string]any{"failure_reason": "cancelled: " + reason, "cancelled_by": SourceLeaseHolder})
		if err := w.endAttempt(f.part, f.key, int64(f.h.AttemptIndex), "cancelled", 1, patch); err != nil {
			return err
		}
		if err := w.leaseEvent(f.id, f.h.LeaseID, "released"); err != nil {
			return err
		}
		if _, err := w.terminate(f.id, outcomeCancelled, terminal{cancel: &cancelInfo{reason: reason, by: SourceLeaseHolder}}); err != nil {
			return err
		}
		out = CancelExecutionResult{ExecutionID: f.id, PublicState: StateCancelled}
		return nil
	})
	return out, err
}
