package backend

import (
	"context"
	"encoding/json"
	"strconv"
)

// FailureClass classifies a failed attempt (spec §4.6).
type FailureClass string

// Failure classes: Transient and InfraCrash are retried per the retry
// policy; Permanent, Timeout and Cancelled end the execution.
const (
	FailTransient  FailureClass = "transient"
	FailInfraCrash FailureClass = "infra_crash"
	FailPermanent  FailureClass = "permanent"
	FailTimeout    FailureClass = "timeout"
	FailCancelled  FailureClass = "cancelled"
)

func (c FailureClass) valid() bool {
	switch c {
	case FailTransient, FailInfraCrash, FailPermanent, FailTimeout, FailCancelled:
		return true
	}
	return false
}

// retryable reports whether the class may be retried.
func (c FailureClass) retryable() bool { return c == FailTransient || c == FailInfraCrash }

// FailArgs says why an attempt failed.
type FailArgs struct {
	Class  FailureClass `json:"class"`
	Reason string       `json:"reason"`
}

// FailResult is RetryScheduled{delay_until} or TerminalFailed.
type FailResult struct {
	RetryScheduled bool
	// DelayUntilMS is when the retry becomes eligible.
	DelayUntilMS int64
}

// MarshalJSON renders {"RetryScheduled":{"delay_until":ms}} or
// "TerminalFailed".
func (r FailResult) MarshalJSON() ([]byte, error) {
	if r.RetryScheduled {
		return json.Marshal(map[string]any{"RetryScheduled": map[string]int64{"delay_until": r.DelayUntilMS}})
	}
	return json.Marshal("TerminalFailed")
}

var qRetryExec = hotStmt(`UPDATE ff_exec_core SET lifecycle_phase = 'runnable', ownership_state = 'unowned',
  eligibility_state = 'not_eligible_until_time', blocking_reason = 'waiting_for_retry_backoff',
  attempt_state = 'pending_retry_attempt', public_state = 'delayed',
  raw_fields = json_patch(raw_fields, ?3)
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase = 'active'`)

// Fail ends the handle's attempt in failure. A Transient or InfraCrash
// failure with retries left (retry_count < max_retries of the policy's
// retry_policy) schedules a retry: the execution becomes delayed
// (not_eligible_until_time / waiting_for_retry_backoff /
// pending_retry_attempt) with retry_count+1 and delay_until = now +
// backoff. Otherwise the execution becomes terminal / failed and
// completion event "failed" is written. Either way the attempt ends with
// outcome failed and lease event "released" is written. Fenced like Renew.
func (b *Backend) Fail(ctx context.Context, h Handle, args FailArgs) (FailResult, error) {
	const op = "fail"
	if !args.Class.valid() {
		return FailResult{}, validation(op, "invalid_input", "unknown failure class %q", string(args.Class))
	}
	var out FailResult
	err := b.write(ctx, op, func(w *wtx) error {
		f, err := w.fence(op, h)
		if err != nil {
			return err
		}
		out, err = w.failAttempt(f.id, int64(f.h.AttemptIndex), f.h.LeaseID, f.policy, f.retryCount,
			args.Class, args.Reason, args.Class.retryable(), StreamClosedFailure)
		return err
	})
	return out, err
}

// failAttempt ends attempt idx of a live execution in failure and either
// schedules a retry (when retryable and the policy allows) or fails the
// execution. streamReason is the attempt's stream close reason (C4): a
// worker's fail attempt_failure, the attempt timeout's expired. It is
// always named, so that a worker's free-text reason is never read as
// another path's close reason (streamCloseReason).
func (w *wtx) failAttempt(id ExecutionID, idx int64, leaseID string, policy *ExecutionPolicy, retryCount int64,
	class FailureClass, reason string, retryable bool, streamReason string) (FailResult, error) {
	part, key := id.key()
	failure := map[string]any{"failure_class": string(class), "failure_reason": reason}
	attemptPatch := map[string]any{"failure_class": string(class), "failure_reason": reason,
		"stream_closed_reason": streamReason}
	if err := w.endAttempt(part, key, idx, "failed", 0, jsonString(attemptPatch)); err != nil {
		return FailResult{}, err
	}
	var out FailResult
	ok, delay := false, int64(0)
	if retryable {
		ok, delay = policy.retryDecision(retryCount)
	}
	if ok {
		until := w.now + delay
		patch := map[string]any{
			"retry_count": retryCount + 1, "delay_until": until,
			"blocking_detail": "retry backoff until " + strconv.FormatInt(until, 10),
			"failure_class":   string(class), "failure_reason": reason,
		}
		n, err := w.affected(qRetryExec, part, key, jsonString(patch))
		if err != nil {
			return out, err
		}
		if n != 1 {
			return out, newErr(KindContention, "", CodeStaleLease, "stale lease: execution is no longer active")
		}
		out = FailResult{RetryScheduled: true, DelayUntilMS: until}
	} else if _, err := w.terminate(id, outcomeFailed, terminal{fields: failure}); err != nil {
		return out, err
	}
	return out, w.leaseEvent(id, leaseID, "released")
}
