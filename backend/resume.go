package backend

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
)

// Resuming a suspended execution (signal, operator or auto-resume) and
// resuming its paused attempt on the next claim.

var (
	// qResumeExec: suspended → runnable, waiting (eligible now) or delayed
	// (?3 = delay_until, not null) with ?4 as blocking_detail (null:
	// none). attempt_state stays attempt_interrupted: the next claim
	// resumes the same attempt.
	qResumeExec = hotStmt(`UPDATE ff_exec_core SET lifecycle_phase = 'runnable', ownership_state = 'unowned',
  eligibility_state = CASE WHEN ?3 IS NULL THEN 'eligible_now' ELSE 'not_eligible_until_time' END,
  blocking_reason = CASE WHEN ?3 IS NULL THEN 'waiting_for_worker' ELSE 'waiting_for_resume_delay' END,
  public_state = CASE WHEN ?3 IS NULL THEN 'waiting' ELSE 'delayed' END,
  attempt_state = 'attempt_interrupted',
  raw_fields = json_patch(raw_fields, jsonb_object('delay_until', ?3, 'blocking_detail', ?4,
    'signal_count', COALESCE(?5, json_extract(raw_fields, '$.signal_count'))))
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase = 'suspended'
RETURNING public_state, ` + evTagsReturning)

	// qCloseSuspension closes the execution's open suspension with reason
	// ?3 (?4: satisfied), clearing the timeout column (its index holds open
	// timeouts only).
	qCloseSuspension = hotStmt(`UPDATE ff_suspension_current SET timeout_at_ms = NULL,
  member_map = json_patch(member_map, json_object('state', 'closed', 'closed_at_ms', ?5, 'close_reason', ?3,
    'satisfied_at_ms', CASE WHEN ?4 THEN ?5 END))
WHERE partition_key = ?1 AND execution_id = ?2 AND json_extract(member_map, '$.state') = 'open'`)
)

// closeWaitState closes the execution's open suspension and its active
// waitpoints with reason; satisfied marks them satisfied (a resume by
// signal). It is a no-op when nothing is open.
func (w *wtx) closeWaitState(id ExecutionID, reason string, satisfied bool) error {
	part, key := id.key()
	if _, err := w.exec(qCloseSuspension, part, key, reason, satisfied, w.now); err != nil {
		return err
	}
	return w.closeWaitpoints(id, WaitpointActive, reason, satisfied)
}

// closeWaits closes what an ending execution leaves open: its suspension
// and every pending or active waitpoint, with reason (terminate).
func (w *wtx) closeWaits(id ExecutionID, reason string) error {
	part, key := id.key()
	if _, err := w.exec(qCloseSuspension, part, key, reason, false, w.now); err != nil {
		return err
	}
	_, err := w.exec(qCloseOpenWaitpoints, part, key, reason, w.now)
	return err
}

// resumeSuspended moves a suspended execution back to the queue after
// its suspension closed: waiting, or delayed for delayMS > 0 (detail is
// the delayed blocking_detail). It returns the public state. No
// completion event is written (canonical has none; upstream's SQLite
// writes "resumable"): the signal outbox row and the resumed claim's lease
// event record the resume.
func (w *wtx) resumeSuspended(id ExecutionID, delayMS int64, detail string) (string, error) {
	return w.resumeSuspendedCounting(id, delayMS, detail, nil, nil)
}

// resumeSuspendedCounting is resumeSuspended that also stores the
// execution's signal count (nil: unchanged), saving DeliverSignal a
// second update of the row, and, when tags is not nil, reads the row's
// outbox columns into it (for DeliverSignal's outbox row).
func (w *wtx) resumeSuspendedCounting(id ExecutionID, delayMS int64, detail string, signalCount any, tags *evTags) (string, error) {
	part, key := id.key()
	var until, bd any
	if delayMS > 0 {
		until, bd = w.now+min(delayMS, maxTTLMS), detail
	}
	var public string
	if tags == nil {
		tags = &evTags{}
	}
	err := w.queryRow(qResumeExec, part, key, until, bd, signalCount).Scan(append([]any{&public}, tags.dest()...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return "", stateErr("", "execution_not_suspended", "ExecutionNotSuspended")
	}
	return public, err
}

// ResumeExecutionArgs is an operator resume (upstream's
// resume_execution): the execution, an optional delay before it becomes
// eligible, and what triggered it ("operator" by default).
type ResumeExecutionArgs struct {
	ExecutionID   ExecutionID `json:"execution_id"`
	TriggerType   string      `json:"trigger_type,omitempty"`
	ResumeDelayMS uint64      `json:"resume_delay_ms,omitempty"`
}

// ResumeExecutionResult is Resumed{public_state}.
type ResumeExecutionResult struct {
	PublicState string `json:"public_state"`
}

// MarshalJSON renders {"Resumed":{"public_state":…}}.
func (r ResumeExecutionResult) MarshalJSON() ([]byte, error) {
	type plain ResumeExecutionResult
	return json.Marshal(map[string]plain{"Resumed": plain(r)})
}

// ResumeExecution resumes a suspended execution whatever its condition
// (the way out of an OperatorOnly wait): its suspension and waitpoints
// close with reason "resumed" and it becomes waiting, or delayed by
// resume_delay_ms; the next claim resumes the same attempt. An execution
// that is not suspended is a KindState error execution_not_suspended.
func (b *Backend) ResumeExecution(ctx context.Context, args ResumeExecutionArgs) (ResumeExecutionResult, error) {
	const op = "resume_execution"
	if args.ExecutionID.IsZero() {
		return ResumeExecutionResult{}, validation(op, "invalid_input", "execution_id: required")
	}
	switch args.TriggerType {
	case "", "operator", "signal", "auto_resume":
	default:
		return ResumeExecutionResult{}, validation(op, "invalid_input",
			"trigger_type: expected operator, signal or auto_resume (got %q)", args.TriggerType)
	}
	var out ResumeExecutionResult
	err := b.write(ctx, op, func(w *wtx) error {
		h, err := w.head(op, args.ExecutionID)
		if err != nil {
			return err
		}
		if h.lifecycle != "suspended" {
			return stateErr(op, "execution_not_suspended", "ExecutionNotSuspended")
		}
		if err := w.closeWaitState(args.ExecutionID, CloseResumed, false); err != nil {
			return err
		}
		delay := clampI64(args.ResumeDelayMS)
		out.PublicState, err = w.resumeSuspended(args.ExecutionID, delay, "resume delay "+strconv.FormatInt(delay, 10)+"ms")
		return err
	})
	return out, err
}

// qResumeAttempt gives the execution's paused current attempt a new
// lease: epoch + 1, the claiming worker, a new lease id. It matches only
// an attempt that did not end (outcome NULL) and holds no lease: one
// paused by suspend or delay. An attempt interrupted by lease expiry has
// outcome "interrupted" and is reclaimed instead. It also reads back the
// satisfier records of the attempt's suspension (satisfiersOf), so the
// resumed claim needs no second statement for them.
var qResumeAttempt = hotStmt(`UPDATE ff_attempt SET lease_epoch = lease_epoch + 1, lease_expires_at_ms = ?3,
  worker_id = ?4, worker_instance_id = ?5,
  raw_fields = json_set(jsonb_remove(raw_fields, '$.paused', '$.paused_at_ms'), '$.lease_id', ?6,
    '$.resumed_at_ms', ?7, '$.resume_count', COALESCE(json_extract(raw_fields, '$.resume_count'), 0) + 1)
WHERE partition_key = ?1 AND execution_id = ?2 AND outcome IS NULL AND lease_expires_at_ms IS NULL
  AND attempt_index = (SELECT attempt_index FROM ff_exec_core WHERE partition_key = ?1 AND execution_id = ?2)
RETURNING attempt_index, lease_epoch, COALESCE(json_extract(raw_fields, '$.attempt_id'), ''),
  COALESCE(json_extract(raw_fields, '$.attempt_type'), 'initial'),
  ` + satisfiersOf("ff_attempt.attempt_index"))

// resumedAttempt is the attempt a claim resumed.
type resumedAttempt struct {
	idx, epoch int64
	attemptID  string
	atype      string
	// satisfiers is the JSON array of the satisfier records of the
	// attempt's suspension (NULL: it has none; resumeSignalsFrom).
	satisfiers sql.NullString
}

// resumeAttempt resumes the execution's paused attempt for the claim, if
// it has one (ok false: reclaim with a new attempt instead).
func (w *wtx) resumeAttempt(part int64, key []byte, expires int64, args ClaimArgs, leaseID string) (resumedAttempt, bool, error) {
	var r resumedAttempt
	err := w.queryRow(qResumeAttempt, part, key, expires, args.WorkerID, args.WorkerInstanceID, leaseID, w.now).
		Scan(&r.idx, &r.epoch, &r.attemptID, &r.atype, &r.satisfiers)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}
