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

// resumeExecSet is the state change of a resume: suspended → runnable,
// waiting (eligible now) or delayed (?3 = delay_until, not null).
// attempt_state stays attempt_interrupted: the next claim resumes the
// same attempt.
const resumeExecSet = `UPDATE ff_exec_core SET lifecycle_phase = 'runnable', ownership_state = 'unowned',
  eligibility_state = CASE WHEN ?3 IS NULL THEN 'eligible_now' ELSE 'not_eligible_until_time' END,
  blocking_reason = CASE WHEN ?3 IS NULL THEN 'waiting_for_worker' ELSE 'waiting_for_resume_delay' END,
  public_state = CASE WHEN ?3 IS NULL THEN 'waiting' ELSE 'delayed' END,
  attempt_state = 'attempt_interrupted',`

var (
	// qResumeExec resumes a suspended execution (resumeExecSet) with ?4
	// as blocking_detail (null: none).
	qResumeExec = hotStmt(resumeExecSet + `
  raw_fields = json_patch(raw_fields, jsonb_object('delay_until', ?3, 'blocking_detail', ?4))
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase = 'suspended'
RETURNING public_state`)

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
	part, key := id.key()
	until, bd := w.resumeDelay(delayMS, detail)
	var public string
	err := w.queryRow(qResumeExec, part, key, until, bd).Scan(&public)
	if errors.Is(err, sql.ErrNoRows) {
		return "", stateErr("", "execution_not_suspended", "ExecutionNotSuspended")
	}
	return public, err
}

// resumeDelay is the delay_until and blocking_detail of a resume delayed
// by delayMS (both nil: no delay).
func (w *wtx) resumeDelay(delayMS int64, detail string) (until, bd any) {
	if delayMS > 0 {
		return w.now + min(delayMS, maxTTLMS), detail
	}
	return nil, nil
}

// qResumeBySignal is qResumeExec for the signal that satisfied the
// suspension, which also stores the execution's signal count (?5) and
// has read the outbox columns already (qSignalTarget): nothing is read
// back, and raw_fields is ?6 when the signal edited it in Go
// (resumedFields), else a json_set of its own.
var qResumeBySignal = hotStmt(resumeExecSet + `
  raw_fields = COALESCE(?6, CASE WHEN ?3 IS NULL
    THEN json_set(json_remove(raw_fields, '$.delay_until', '$.blocking_detail'), '$.signal_count', ?5)
    ELSE json_set(raw_fields, '$.delay_until', ?3, '$.blocking_detail', ?4, '$.signal_count', ?5) END)
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase = 'suspended'`)

// resumeBySignal is resumeSuspended for the satisfying signal, storing the
// execution's signal count with it (qResumeBySignal); fields is the
// execution's raw_fields as the signal read them.
func (w *wtx) resumeBySignal(id ExecutionID, delayMS int64, detail string, signalCount int64, fields sql.NullString) error {
	part, key := id.key()
	until, bd := w.resumeDelay(delayMS, detail)
	var edited any
	if doc, ok := resumedFields(fields, until, detail, signalCount); ok {
		edited = doc
	}
	n, err := w.affected(qResumeBySignal, part, key, until, bd, signalCount, edited)
	if err == nil && n != 1 {
		return stateErr("", "execution_not_suspended", "ExecutionNotSuspended")
	}
	return err
}

// resumedFields returns the execution's raw_fields as qResumeBySignal's
// json_set makes them, edited in place (jsonEdit): without a delay (until
// nil) no delay_until or blocking_detail, else both set; signal_count set
// either way. ok is false when fields is not an object jsonEdit can edit.
func resumedFields(fields sql.NullString, until any, detail string, signalCount int64) (string, bool) {
	if !fields.Valid {
		return "", false
	}
	ms, ok := jsonTopMembers(fields.String)
	if !ok {
		return "", false
	}
	count := jsonSet{key: "signal_count", value: strconv.FormatInt(signalCount, 10)}
	if at, delayed := until.(int64); delayed {
		return jsonEdit(fields.String, ms, jsonSet{key: "delay_until", value: strconv.FormatInt(at, 10)},
			jsonSet{key: "blocking_detail", value: sqliteJSONString(detail)}, count)
	}
	return jsonEdit(fields.String, ms, jsonSet{key: "delay_until", remove: true},
		jsonSet{key: "blocking_detail", remove: true}, count)
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
// record of the execution's suspension (resumedSignals finds the
// satisfiers in it), so the resumed claim needs no second statement for
// them.
var qResumeAttempt = hotStmt(`UPDATE ff_attempt SET lease_epoch = lease_epoch + 1, lease_expires_at_ms = ?3,
  worker_id = ?4, worker_instance_id = ?5,
  raw_fields = json_set(jsonb_remove(raw_fields, '$.paused', '$.paused_at_ms'), '$.lease_id', ?6,
    '$.resumed_at_ms', ?7, '$.resume_count', COALESCE(json_extract(raw_fields, '$.resume_count'), 0) + 1)
WHERE partition_key = ?1 AND execution_id = ?2 AND outcome IS NULL AND lease_expires_at_ms IS NULL
  AND attempt_index = (SELECT attempt_index FROM ff_exec_core WHERE partition_key = ?1 AND execution_id = ?2)
RETURNING attempt_index, lease_epoch, COALESCE(json_extract(raw_fields, '$.attempt_id'), ''),
  COALESCE(json_extract(raw_fields, '$.attempt_type'), 'initial'),
  (SELECT s.member_map FROM ff_suspension_current s WHERE s.partition_key = ?1 AND s.execution_id = ?2)`)

// resumedAttempt is the attempt a claim resumed.
type resumedAttempt struct {
	idx, epoch int64
	attemptID  string
	atype      string
	// suspension is the record of the execution's suspension (NULL: it
	// has none; resumedSignals).
	suspension sql.NullString
}

// resumeAttempt resumes the execution's paused attempt for the claim, if
// it has one (ok false: reclaim with a new attempt instead).
func (w *wtx) resumeAttempt(part int64, key []byte, expires int64, args ClaimArgs, leaseID string) (resumedAttempt, bool, error) {
	var r resumedAttempt
	err := w.queryRow(qResumeAttempt, part, key, expires, args.WorkerID, args.WorkerInstanceID, leaseID, w.now).
		Scan(&r.idx, &r.epoch, &r.attemptID, &r.atype, &r.suspension)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// resumedSignals returns what the resumed attempt idx observes, as
// resumeSignals would read it, from its suspension's record (NULL:
// none): the satisfiers when the record is of attempt idx and was
// satisfied, else none. Finding them in Go (jsonTopMembers) spares the
// claim the JSON functions of satisfiersOf; a record that is not a JSON
// object with distinct keys, or whose attempt index is not written as an
// integer, is read through satisfiersOf instead, so that SQLite reads it
// as it always did.
func (w *wtx) resumedSignals(part int64, key []byte, idx int64, record sql.NullString) ([]ResumeSignal, error) {
	if !record.Valid {
		return []ResumeSignal{}, nil
	}
	doc := record.String
	ms, ok := jsonTopMembers(doc)
	if !ok || !jsonUniqueKeys(ms) {
		return w.resumeSignals(part, key, idx)
	}
	value := func(key string) (string, bool) {
		m, ok := jsonMemberOf(ms, key)
		if !ok || doc[m.start:m.end] == "null" {
			return "", false
		}
		return doc[m.start:m.end], true
	}
	if text, ok := value("attempt_index"); !ok {
		return []ResumeSignal{}, nil
	} else if n, err := strconv.ParseInt(text, 10, 64); err != nil {
		return w.resumeSignals(part, key, idx)
	} else if n != idx {
		return []ResumeSignal{}, nil
	}
	if _, ok := value("satisfied_at_ms"); !ok {
		return []ResumeSignal{}, nil
	}
	sats, ok := value("satisfiers")
	if ok && sats[0] != '[' {
		// Not an array (a string, say, whose text json_extract would
		// unwrap): read as SQLite reads it.
		return w.resumeSignals(part, key, idx)
	}
	return resumeSignalsFrom(sql.NullString{String: sats, Valid: ok})
}
