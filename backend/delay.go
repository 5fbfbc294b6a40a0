package backend

import (
	"context"
	"encoding/json"
	"strconv"
)

// DelayResult is Delayed{delay_until}.
type DelayResult struct {
	DelayUntilMS int64
}

// MarshalJSON renders {"Delayed":{"delay_until":ms}}.
func (r DelayResult) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]map[string]int64{"Delayed": {"delay_until": r.DelayUntilMS}})
}

var qDelayExec = hotStmt(`UPDATE ff_exec_core SET lifecycle_phase = 'runnable', ownership_state = 'unowned',
  eligibility_state = 'not_eligible_until_time', blocking_reason = 'waiting_for_delay',
  attempt_state = 'attempt_interrupted', public_state = 'delayed',
  raw_fields = json_set(raw_fields, '$.delay_until', ?3, '$.blocking_detail', ?4)
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase = 'active'
RETURNING ` + evTagsReturning)

// Delay puts the handle's execution back to sleep until delayUntilMS
// (upstream's delay_execution): it becomes delayed (runnable /
// not_eligible_until_time / waiting_for_delay / attempt_interrupted,
// blocking_detail "delayed until <ms>"), the lease is released (lease
// event "released") and the attempt pauses without ending, so the first
// claim after delayUntilMS resumes the same attempt. A delayUntilMS that
// is not a positive Unix ms time is a KindValidation error; one in the
// past makes the execution claimable at once. Fenced like Renew.
func (b *Backend) Delay(ctx context.Context, h Handle, delayUntilMS int64) (DelayResult, error) {
	const op = "delay_execution"
	if delayUntilMS <= 0 {
		return DelayResult{}, validation(op, "invalid_input", "delay_until: must be a positive Unix ms timestamp (got %d)", delayUntilMS)
	}
	err := b.write(ctx, op, func(w *wtx) error {
		f, err := w.fence(op, h)
		if err != nil {
			return err
		}
		var tags evTags
		detail := "delayed until " + strconv.FormatInt(delayUntilMS, 10)
		if err := w.queryRow(qDelayExec, f.part, f.key, delayUntilMS, detail).Scan(tags.dest()...); err != nil {
			return err
		}
		n, err := w.affected(qPauseAttempt, f.part, f.key, int64(f.h.AttemptIndex), pausedByDelay, w.now)
		if err != nil {
			return err
		}
		if n != 1 {
			return newErr(KindContention, op, CodeStaleLease, "stale lease: attempt changed")
		}
		return w.leaseEventTagged(f.id, &tags, f.h.LeaseID, "released")
	})
	if err != nil {
		return DelayResult{}, err
	}
	return DelayResult{DelayUntilMS: delayUntilMS}, nil
}
