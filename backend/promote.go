package backend

import "context"

var (
	// Every partition enumerated × every lane of ff_lane_registry: each
	// pair is one lookup on ff_exec_core_lane_phase_idx
	// (partition_key, lane_id, lifecycle_phase). CROSS JOIN pins that loop
	// order.
	qDueDelayed = `WITH RECURSIVE ` + partsCTE + `
SELECT e.partition_key, e.execution_id
FROM parts CROSS JOIN ff_lane_registry l CROSS JOIN ff_exec_core e
WHERE e.partition_key = parts.p AND e.lane_id = l.lane_id AND e.lifecycle_phase = 'runnable'
  AND e.eligibility_state = 'not_eligible_until_time'
  AND json_extract(e.raw_fields, '$.delay_until') <= ?1
LIMIT ?2`

	qPromote = `UPDATE ff_exec_core SET eligibility_state = 'eligible_now',
  blocking_reason = 'waiting_for_worker', public_state = 'waiting',
  raw_fields = json_remove(raw_fields, '$.delay_until', '$.blocking_detail')
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase = 'runnable'
  AND eligibility_state = 'not_eligible_until_time'
  AND json_extract(raw_fields, '$.delay_until') <= ?3`
)

// PromoteDelayed moves up to limit delayed executions whose delay_until
// <= nowMS to waiting (eligible_now / waiting_for_worker); attempt_state
// is kept (a retry stays pending_retry_attempt). Claims already treat due
// delayed executions as eligible; promotion makes the public state say so.
func (b *Backend) PromoteDelayed(ctx context.Context, nowMS int64, limit int) (SweepReport, error) {
	const op = "promote_delayed"
	return b.sweep(ctx, op, qDueDelayed, false, nowMS, limit, func(w *wtx, c sweepCandidate) (bool, error) {
		part, key := c.id.key()
		n, err := w.affected(qPromote, part, key, w.now)
		return n == 1, err
	})
}
