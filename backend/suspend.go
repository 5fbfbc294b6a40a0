package backend

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/suspension"
)

// Suspensions (docs/storage.md, ff_suspension_current): one row per
// execution, replaced by the execution's next suspend and kept (closed)
// until then. timeout_at_ms is set only while the suspension is open and
// has a timeout, so its partial index holds exactly the pending timeouts;
// satisfied_set is the evaluator's state (suspension.State); member_map
// is the suspension's record (suspensionRecord).

// Suspension states in suspensionRecord.State.
const (
	SuspensionOpen   = "open"
	SuspensionClosed = "closed"
)

// suspensionRecord is the JSON of ff_suspension_current.member_map.
type suspensionRecord struct {
	State                       string                  `json:"state"`
	AttemptIndex                int64                   `json:"attempt_index"`
	RequestedBy                 string                  `json:"requested_by"`
	ResumePolicy                suspension.ResumePolicy `json:"resume_policy"`
	ContinuationMetadataPointer *string                 `json:"continuation_metadata_pointer,omitempty"`
	Waitpoints                  []suspensionMember      `json:"waitpoints"`
	TimeoutAtMS                 *int64                  `json:"timeout_at_ms,omitempty"`
	ClosedAtMS                  *int64                  `json:"closed_at_ms,omitempty"`
	CloseReason                 string                  `json:"close_reason,omitempty"`
	SatisfiedAtMS               *int64                  `json:"satisfied_at_ms,omitempty"`
	// Satisfiers are copies of the records of the signals that
	// contributed to the condition, in arrival order: what the resumed
	// worker observes, read with the suspension row.
	Satisfiers []signalRecord `json:"satisfiers"`
}

// suspensionMember is one waitpoint binding of a suspension.
type suspensionMember struct {
	WaitpointID  string `json:"waitpoint_id"`
	WaitpointKey string `json:"waitpoint_key"`
}

// AdditionalWaitpoint is a waitpoint of a suspension beyond the primary,
// with its own token.
type AdditionalWaitpoint struct {
	WaitpointID    string `json:"waitpoint_id"`
	WaitpointKey   string `json:"waitpoint_key"`
	WaitpointToken string `json:"waitpoint_token"`
}

// SuspendDetails names the suspension and its waitpoints (upstream's
// SuspendOutcomeDetails): the primary waitpoint's id, key and token, and
// the others'.
type SuspendDetails struct {
	SuspensionID         string                `json:"suspension_id"`
	WaitpointID          string                `json:"waitpoint_id"`
	WaitpointKey         string                `json:"waitpoint_key"`
	WaitpointToken       string                `json:"waitpoint_token"`
	AdditionalWaitpoints []AdditionalWaitpoint `json:"additional_waitpoints"`
}

// SuspendOutcome is Suspended{details, handle}: the execution is
// suspended, the lease released and Handle (kind Suspended) supersedes
// the worker's; or AlreadySatisfied{details}: signals buffered on the
// bound pending waitpoint already satisfy the condition, nothing was
// suspended and the worker keeps its lease and handle.
type SuspendOutcome struct {
	AlreadySatisfied bool
	Details          SuspendDetails
	Handle           Handle
}

// MarshalJSON renders {"Suspended":{"details","handle"}} or
// {"AlreadySatisfied":{"details"}}.
func (o SuspendOutcome) MarshalJSON() ([]byte, error) {
	if o.AlreadySatisfied {
		return json.Marshal(map[string]any{"AlreadySatisfied": map[string]any{"details": o.Details}})
	}
	type suspended struct {
		Details SuspendDetails `json:"details"`
		Handle  Handle         `json:"handle"`
	}
	return json.Marshal(map[string]suspended{"Suspended": {o.Details, o.Handle}})
}

// UnmarshalJSON reads what MarshalJSON writes (the suspend dedup cache).
func (o *SuspendOutcome) UnmarshalJSON(data []byte) error {
	var v struct {
		Suspended *struct {
			Details SuspendDetails `json:"details"`
			Handle  Handle         `json:"handle"`
		} `json:"Suspended"`
		AlreadySatisfied *struct {
			Details SuspendDetails `json:"details"`
		} `json:"AlreadySatisfied"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	switch {
	case v.Suspended != nil:
		*o = SuspendOutcome{Details: v.Suspended.Details, Handle: v.Suspended.Handle}
	case v.AlreadySatisfied != nil:
		*o = SuspendOutcome{AlreadySatisfied: true, Details: v.AlreadySatisfied.Details}
	default:
		return errors.New("suspend outcome: no variant")
	}
	return nil
}

// Attempt pause markers (ff_attempt.raw_fields.paused): the attempt is
// not over, it holds no lease, and the next claim of the execution
// resumes it (same attempt_index and attempt_id, epoch + 1).
const (
	pausedBySuspend = "suspend"
	pausedByDelay   = "delay"
)

var (
	qSuspendExec = hotStmt(`UPDATE ff_exec_core SET lifecycle_phase = 'suspended', ownership_state = 'unowned',
  eligibility_state = 'not_applicable', blocking_reason = ?3, attempt_state = 'attempt_interrupted',
  public_state = 'suspended', raw_fields = json_set(jsonb_remove(raw_fields, '$.delay_until'), '$.blocking_detail', ?4)
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase = 'active'
RETURNING ` + evTagsReturning)

	// qPauseAttempt releases the running attempt's lease without ending it.
	qPauseAttempt = hotStmt(`UPDATE ff_attempt SET lease_expires_at_ms = NULL,
  raw_fields = json_set(raw_fields, '$.paused', ?4, '$.paused_at_ms', ?5)
WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = ?3 AND outcome IS NULL
  AND lease_expires_at_ms IS NOT NULL`)

	// qPauseAttemptFenced is qPauseAttempt only when the fence holds (the
	// conditions fence checks: the handle's epoch and lease id, a live
	// lease, an active execution whose lease is not revoked).
	qPauseAttemptFenced = hotStmt(`UPDATE ff_attempt SET lease_expires_at_ms = NULL,
  raw_fields = json_set(raw_fields, '$.paused', ?4, '$.paused_at_ms', ?5)
WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = ?3 AND lease_epoch = ?6
  AND outcome IS NULL AND lease_expires_at_ms > ?5 AND json_extract(raw_fields, '$.lease_id') = ?7
  AND EXISTS (SELECT 1 FROM ff_exec_core e WHERE e.partition_key = ?1 AND e.execution_id = ?2
              AND e.attempt_index = ?3 AND e.lifecycle_phase = 'active' AND e.ownership_state <> 'lease_revoked')`)

	// qUpsertSuspension writes the execution's new suspension over a
	// closed one; an open one stays (0 rows: already suspended).
	qUpsertSuspension = hotStmt(`INSERT INTO ff_suspension_current
  (partition_key, execution_id, suspension_id, suspended_at_ms, timeout_at_ms, reason_code, condition,
   satisfied_set, member_map, timeout_behavior)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
ON CONFLICT (partition_key, execution_id) DO UPDATE SET
  suspension_id = excluded.suspension_id, suspended_at_ms = excluded.suspended_at_ms,
  timeout_at_ms = excluded.timeout_at_ms, reason_code = excluded.reason_code, condition = excluded.condition,
  satisfied_set = excluded.satisfied_set, member_map = excluded.member_map,
  timeout_behavior = excluded.timeout_behavior
WHERE json_extract(ff_suspension_current.member_map, '$.state') IS NOT 'open'`)

	qActivateWaitpoint = hotStmt(`UPDATE ff_waitpoint_pending SET state = 'active', activated_at_ms = ?3,
  expires_at_ms = ?4, required_signal_names = ?5, condition = json_set(COALESCE(condition, '{}'), '$.suspension_id', ?6)
WHERE partition_key = ?1 AND waitpoint_id = ?2 AND state = 'pending'`)

	qReadDedup = hotStmt(`SELECT outcome_json FROM ff_suspend_dedup WHERE partition_key = ?1 AND idempotency_key = ?2`)

	qWriteDedup = hotStmt(`INSERT INTO ff_suspend_dedup (partition_key, idempotency_key, outcome_json, created_at_ms)
VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (partition_key, idempotency_key) DO UPDATE SET outcome_json = excluded.outcome_json,
  created_at_ms = excluded.created_at_ms`)
)

// dedupEntry is the JSON of an ff_suspend_dedup row: the cached value and
// when it stops counting.
type dedupEntry struct {
	ExpiresAtMS int64           `json:"expires_at_ms"`
	Value       json.RawMessage `json:"value"`
}

// Keys of ff_suspend_dedup: suspend outcomes per execution, signal
// idempotency keys per waitpoint.
func suspendDedupKey(id ExecutionID, key string) string {
	return "suspend:" + id.UUID.String() + ":" + key
}
func signalDedupKey(wp uuid.UUID, key string) string { return "signal:" + wp.String() + ":" + key }

// dedupGet returns the live cached value under key, if any. An expired or
// unreadable entry counts as absent (the next write replaces it).
func (w *wtx) dedupGet(part int64, key string) (json.RawMessage, bool, error) {
	var text string
	err := w.queryRow(qReadDedup, part, key).Scan(&text)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var e dedupEntry
	// Live through its expiry millisecond, as canonical's key with a PX
	// expiry is (expired only once now > expiry).
	if json.Unmarshal([]byte(text), &e) != nil || e.ExpiresAtMS < w.now || len(e.Value) == 0 {
		return nil, false, nil
	}
	return e.Value, true, nil
}

// dedupPut caches value under key for ttlMS.
func (w *wtx) dedupPut(part int64, key string, value any, ttlMS int64) error {
	raw, err := json.Marshal(value)
	if err != nil {
		return err
	}
	_, err = w.exec(qWriteDedup, part, key, jsonString(dedupEntry{ExpiresAtMS: w.now + ttlMS, Value: raw}), w.now)
	return err
}

// Suspend suspends the handle's execution on one or more waitpoints
// (upstream's suspend). args is validated first (suspension.Validate:
// every failure a KindValidation "invalid_input: <detail>", nothing
// written). Then, in one transaction: a repeated idempotency_key replays
// the stored outcome; the handle is fenced; Fresh bindings get a
// waitpoint with a token minted by the active key, a UsePending binding
// activates the pending waitpoint (keeping its token) after upstream's
// checks; if the signals buffered on it already satisfy the condition the
// outcome is AlreadySatisfied and nothing else changes. Otherwise the
// execution becomes suspended (blocking_reason from the reason code,
// attempt_interrupted), the attempt pauses without ending (its lease is
// released: lease event "released"), and the suspension row is written.
func (b *Backend) Suspend(ctx context.Context, h Handle, args suspension.SuspendArgs) (SuspendOutcome, error) {
	const op = "suspend"
	p, err := DecodeHandle(h)
	if err != nil {
		return SuspendOutcome{}, engineOp(err, op)
	}
	if err := args.Validate(b.Now()); err != nil {
		var ve *suspension.ValidationError
		if errors.As(err, &ve) {
			return SuspendOutcome{}, validation(op, "invalid_input", "%s", ve.Detail)
		}
		return SuspendOutcome{}, err
	}
	condJSON, err := args.ResumeCondition.MarshalJSON()
	if err != nil {
		return SuspendOutcome{}, validation(op, "invalid_input", "resume_condition: %v", err)
	}
	var out SuspendOutcome
	err = b.write(ctx, op, func(w *wtx) error {
		var err error
		out, err = w.suspend(op, h, p, &args, string(condJSON))
		return err
	})
	if err == nil && !out.AlreadySatisfied && args.ResumeCondition.ValidUTF8() {
		// The signals that evaluate the condition find it here instead of
		// parsing the text just stored (condition_memo.go). A condition
		// with invalid UTF-8 is not the one its text encodes (the text
		// has U+FFFD there), so the signals parse the text instead.
		b.in.conditions.remember(string(condJSON), args.ResumeCondition.Clone())
	}
	return out, err
}

func (w *wtx) suspend(op string, h Handle, p HandlePayload, args *suspension.SuspendArgs, condJSON string) (SuspendOutcome, error) {
	id := p.ExecutionID
	part, key := id.key()
	dedupKey := ""
	if args.IdempotencyKey != nil && *args.IdempotencyKey != "" {
		dedupKey = suspendDedupKey(id, *args.IdempotencyKey)
		raw, hit, err := w.dedupGet(part, dedupKey)
		if err != nil {
			return SuspendOutcome{}, err
		}
		if hit {
			var cached SuspendOutcome
			if err := json.Unmarshal(raw, &cached); err == nil {
				return cached, nil
			}
		}
	}
	// A UsePending binding is checked against the fenced attempt, so the
	// fence is read first. Fresh bindings only: the writes go ahead and
	// the attempt's pause at the end is the fence (qPauseAttemptFenced);
	// any refusal reports a failed fence first, as the canonical order
	// checks the lease before anything else.
	optimistic := !args.Waitpoints[0].UsePending
	f := &fenced{h: p, id: id, part: part, key: key}
	if !optimistic {
		var err error
		if f, err = w.fence(op, h); err != nil {
			return SuspendOutcome{}, err
		}
	}
	refuse := func(err error) (SuspendOutcome, error) {
		if optimistic {
			if _, ferr := w.fence(op, h); ferr != nil {
				return SuspendOutcome{}, ferr
			}
		}
		return SuspendOutcome{}, err
	}
	idx := int64(f.h.AttemptIndex)
	suspID := args.SuspensionID.String()
	cond := args.ResumeCondition
	var timeoutAt any
	if args.TimeoutAt != nil {
		timeoutAt = *args.TimeoutAt
	}
	details := SuspendDetails{SuspensionID: suspID, AdditionalWaitpoints: []AdditionalWaitpoint{}}
	members := make([]suspensionMember, 0, len(args.Waitpoints))
	state := suspension.NewState()
	var satisfiers []signalRecord
	var signer *signingKey
	for i, bnd := range args.Waitpoints {
		wpID := bnd.WaitpointID.String()
		var wpKey, token string
		if bnd.UsePending {
			wp, err := w.usePending(op, f, bnd.WaitpointID, cond)
			if err != nil {
				return SuspendOutcome{}, err
			}
			wpKey, token = wp.key, wp.token
			names := jsonString(cond.RequiredSignalNames(wpKey))
			if _, err := w.exec(qActivateWaitpoint, part, bnd.WaitpointID[:], w.now, timeoutAt, names, suspID); err != nil {
				return SuspendOutcome{}, err
			}
			sigs, err := w.waitpointSignals(part, bnd.WaitpointID)
			if err != nil {
				return SuspendOutcome{}, err
			}
			for _, r := range sigs {
				sig := suspension.Signal{ID: r.SignalID, Name: r.SignalName, SourceType: r.SourceType,
					SourceIdentity: r.SourceIdentity, WaitpointKey: wpKey}
				if o := suspension.Apply(cond, state, sig); o.Contributed {
					satisfiers = append(satisfiers, r)
				}
			}
			details.WaitpointID, details.WaitpointKey, details.WaitpointToken = wpID, wpKey, token
			if suspension.Satisfied(cond, state) {
				if _, err := w.exec(qCloseWaitpoint, part, bnd.WaitpointID[:], CloseResumed, true, w.now); err != nil {
					return SuspendOutcome{}, err
				}
				out := SuspendOutcome{AlreadySatisfied: true, Details: details}
				if dedupKey != "" {
					if err := w.dedupPut(part, dedupKey, out, args.DedupTTLMS(w.now)); err != nil {
						return SuspendOutcome{}, err
					}
				}
				return out, nil
			}
		} else {
			if signer == nil {
				k, err := w.activeKey(op)
				if err != nil {
					return refuse(err)
				}
				signer = &k
			}
			wpKey, token = bnd.WaitpointKey, signer.mint(id, wpID)
			names := jsonString(cond.RequiredSignalNames(wpKey))
			n, err := w.affected(qInsertWaitpoint, part, bnd.WaitpointID[:], key, signer.kid, token, w.now, timeoutAt,
				newWaitpointRecord(idx, suspID), wpKey, WaitpointActive, names, w.now)
			if err != nil {
				return SuspendOutcome{}, err
			}
			if n != 1 {
				return refuse(&Error{Kind: KindConflict, Op: op, Code: "waitpoint_already_exists", Msg: "WaitpointAlreadyExists"})
			}
			if i == 0 {
				details.WaitpointID, details.WaitpointKey, details.WaitpointToken = wpID, wpKey, token
			} else {
				details.AdditionalWaitpoints = append(details.AdditionalWaitpoints,
					AdditionalWaitpoint{WaitpointID: wpID, WaitpointKey: wpKey, WaitpointToken: token})
			}
		}
		members = append(members, suspensionMember{WaitpointID: wpID, WaitpointKey: wpKey})
	}
	if satisfiers == nil {
		satisfiers = []signalRecord{}
	}
	rec := suspensionRecord{
		State: SuspensionOpen, AttemptIndex: idx, RequestedBy: args.RequestedBy.Wire(),
		ResumePolicy: args.ResumePolicy, ContinuationMetadataPointer: args.ContinuationMetadataPointer,
		Waitpoints: members, TimeoutAtMS: args.TimeoutAt, Satisfiers: satisfiers,
	}
	stateJSON, err := json.Marshal(state)
	if err != nil {
		return SuspendOutcome{}, err
	}
	reason := args.ReasonCode.Wire()
	n, err := w.affected(qUpsertSuspension, part, key, args.SuspensionID[:], w.now, timeoutAt, reason, condJSON,
		string(stateJSON), jsonString(rec), args.TimeoutBehavior.Wire())
	if err != nil {
		return SuspendOutcome{}, err
	}
	if n != 1 {
		return refuse(stateErr(op, "already_suspended", "AlreadySuspended"))
	}
	if n, err := w.affected(qPauseAttemptFenced, part, key, idx, pausedBySuspend, w.now, int64(p.LeaseEpoch), p.LeaseID); err != nil {
		return SuspendOutcome{}, err
	} else if n != 1 {
		return refuse(newErr(KindContention, op, CodeStaleLease, "stale lease: attempt changed"))
	}
	detail := "suspended: waitpoint " + details.WaitpointID + " awaiting " + reason
	var tags evTags
	if err := w.queryRow(qSuspendExec, part, key, suspension.BlockingReasonFor(reason), detail).Scan(tags.dest()...); err != nil {
		return SuspendOutcome{}, err
	}
	if err := w.leaseEventTagged(id, &tags, f.h.LeaseID, "released"); err != nil {
		return SuspendOutcome{}, err
	}
	out := SuspendOutcome{Details: details, Handle: EncodeHandle(HandleSuspended, p)}
	if dedupKey != "" {
		if err := w.dedupPut(part, dedupKey, out, args.DedupTTLMS(w.now)); err != nil {
			return SuspendOutcome{}, err
		}
	}
	return out, nil
}

// usePending checks a UsePending binding in upstream's order: the
// waitpoint exists (409 contention waitpoint_not_found), is pending (409
// waitpoint_not_pending), belongs to the execution and attempt (400
// invalid_waitpoint_for_execution), has not expired (409
// pending_waitpoint_expired) and carries a token (400
// waitpoint_not_token_bound). ffsqlite also refuses a Single condition on
// another key than the waitpoint's (400 waitpoint_key_mismatch): it could
// never be satisfied.
func (w *wtx) usePending(op string, f *fenced, wpID uuid.UUID, cond suspension.Condition) (waitpointRow, error) {
	wp, ok, err := w.waitpoint(f.part, wpID)
	switch {
	case err != nil:
		return wp, err
	case !ok:
		return wp, newErr(KindContention, op, "waitpoint_not_found", "WaitpointNotFound")
	case wp.state != WaitpointPending:
		return wp, stateErr(op, "waitpoint_not_pending", "WaitpointNotPending")
	case !wp.belongsTo(f.id) || !wp.attemptIndex.Valid || wp.attemptIndex.Int64 != int64(f.h.AttemptIndex):
		return wp, validation(op, "invalid_waitpoint_for_execution", "")
	case wp.expiresAt.Valid && wp.expiresAt.Int64 <= w.now:
		return wp, stateErr(op, "pending_waitpoint_expired", "PendingWaitpointExpired")
	case wp.token == "":
		return wp, validation(op, "waitpoint_not_token_bound", "")
	case cond.Kind == suspension.KindSingle && cond.WaitpointKey != wp.key:
		return wp, validation(op, "invalid_input", "waitpoint_key_mismatch")
	}
	return wp, nil
}

// waitpointSignals returns the signal records kept on a waitpoint, oldest
// first.
func (w *wtx) waitpointSignals(part int64, wpID uuid.UUID) ([]signalRecord, error) {
	var text sql.NullString
	err := w.queryRow(`SELECT json_extract(condition, '$.signals') FROM ff_waitpoint_pending
WHERE partition_key = ?1 AND waitpoint_id = ?2`, part, wpID[:]).Scan(&text)
	if err != nil || !text.Valid {
		return nil, err
	}
	var recs []signalRecord
	if err := json.Unmarshal([]byte(text.String), &recs); err != nil {
		return nil, corrupt("suspend", "ff_waitpoint_pending.condition signals: "+err.Error())
	}
	return recs, nil
}
