package backend

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/suspension"
)

// Signal delivery defaults (upstream's DeliverSignalArgs defaults).
const (
	DefaultMaxSignalsPerExecution = 10_000
	DefaultSignalDedupTTLMS       = 86_400_000
	// MaxSignalPayloadBytes caps a signal's payload (the HTTP body limit
	// of route 9).
	MaxSignalPayloadBytes = 256 << 10
)

// DeliverSignalArgs is route 9's body (upstream's DeliverSignalArgs): the
// target execution and waitpoint, the caller-minted signal id, what the
// signal is, the waitpoint's token, and optional payload, correlation,
// idempotency and limits. Now is carried for compatibility; the engine's
// clock decides.
type DeliverSignalArgs struct {
	ExecutionID            ExecutionID `json:"execution_id"`
	WaitpointID            uuid.UUID   `json:"waitpoint_id"`
	SignalID               uuid.UUID   `json:"signal_id"`
	SignalName             string      `json:"signal_name"`
	SignalCategory         string      `json:"signal_category"`
	SourceType             string      `json:"source_type"`
	SourceIdentity         string      `json:"source_identity"`
	Payload                Bytes       `json:"payload,omitempty"`
	PayloadEncoding        *string     `json:"payload_encoding,omitempty"`
	CorrelationID          *string     `json:"correlation_id,omitempty"`
	IdempotencyKey         *string     `json:"idempotency_key,omitempty"`
	TargetScope            string      `json:"target_scope"`
	CreatedAt              *int64      `json:"created_at,omitempty"`
	DedupTTLMS             *uint64     `json:"dedup_ttl_ms,omitempty"`
	ResumeDelayMS          *uint64     `json:"resume_delay_ms,omitempty"`
	MaxSignalsPerExecution *uint64     `json:"max_signals_per_execution,omitempty"`
	SignalMaxlen           *uint64     `json:"signal_maxlen,omitempty"`
	WaitpointToken         string      `json:"waitpoint_token"`
	Now                    int64       `json:"now"`
}

// DeliverSignalResult is Accepted{signal_id, effect} or
// Duplicate{existing_signal_id} (the idempotency key was seen).
type DeliverSignalResult struct {
	Duplicate        bool
	SignalID         string
	Effect           string
	ExistingSignalID string
}

// MarshalJSON renders the externally tagged wire shape.
func (r DeliverSignalResult) MarshalJSON() ([]byte, error) {
	if r.Duplicate {
		return json.Marshal(map[string]map[string]string{"Duplicate": {"existing_signal_id": r.ExistingSignalID}})
	}
	type accepted struct {
		SignalID string `json:"signal_id"`
		Effect   string `json:"effect"`
	}
	return json.Marshal(map[string]accepted{"Accepted": {r.SignalID, r.Effect}})
}

var (
	// qSignalTarget reads, in one statement, what a delivery checks: the
	// execution, the waitpoint (its key row from the keystore) and the
	// execution's open suspension, with the records the signal edits in
	// Go (the waitpoint's, the suspension's, the execution's raw_fields)
	// and the execution's outbox columns (evTagsReturning) for its outbox
	// row.
	qSignalTarget = hotStmt(`SELECT e.lifecycle_phase, COALESCE(json_extract(e.raw_fields, '$.signal_count'), 0),
  w.execution_id, w.token_kid, w.token, w.waitpoint_key, w.state, w.expires_at_ms, w.condition,
  k.secret, k.active, k.rotated_at_ms,
  s.condition, s.satisfied_set, s.member_map, json_array_length(s.member_map, '$.waitpoints'),
  e.raw_fields, ` + evTagsReturning + `
FROM ff_exec_core e
LEFT JOIN ff_waitpoint_pending w ON w.partition_key = e.partition_key AND w.waitpoint_id = ?3
LEFT JOIN ff_waitpoint_hmac k ON k.kid = w.token_kid
LEFT JOIN ff_suspension_current s ON s.partition_key = e.partition_key AND s.execution_id = e.execution_id
  AND json_extract(s.member_map, '$.state') = 'open'
WHERE e.partition_key = ?1 AND e.execution_id = ?2`)

	qSignalCount = hotStmt(`UPDATE ff_exec_core SET raw_fields = json_set(raw_fields, '$.signal_count', ?3)
WHERE partition_key = ?1 AND execution_id = ?2`)

	// qSuspensionProgress stores the evaluator state and, when the signal
	// contributed (?5), appends its record to the satisfiers.
	qSuspensionProgress = hotStmt(`UPDATE ff_suspension_current SET satisfied_set = ?3,
  member_map = CASE WHEN ?5 THEN json_insert(member_map, '$.satisfiers[#]', json(?4)) ELSE member_map END
WHERE partition_key = ?1 AND execution_id = ?2`)

	// qSatisfySuspension is qSuspensionProgress for the signal that
	// satisfied the condition: it also closes the suspension (resumed,
	// satisfied) and clears its timeout.
	qSatisfySuspension = hotStmt(`UPDATE ff_suspension_current SET satisfied_set = ?3, timeout_at_ms = NULL,
  member_map = json_patch(jsonb_insert(member_map, '$.satisfiers[#]', json(?4)),
    jsonb_object('state', 'closed', 'closed_at_ms', ?5, 'close_reason', 'resumed', 'satisfied_at_ms', ?5))
WHERE partition_key = ?1 AND execution_id = ?2 AND json_extract(member_map, '$.state') = 'open'`)

	// qRecordSignal appends a signal record to its waitpoint (dropping the
	// oldest beyond ?3 records), counts it (?5: it contributed) and, with
	// ?7, closes the waitpoint as resumed.
	qRecordSignal = hotStmt(`UPDATE ff_waitpoint_pending SET
  state = CASE WHEN ?7 THEN 'closed' ELSE state END,
  expires_at_ms = CASE WHEN ?7 THEN NULL ELSE expires_at_ms END,
  condition = json_patch(jsonb_set(
    CASE WHEN json_array_length(COALESCE(condition, '{}'), '$.signals') >= ?3
         THEN jsonb_remove(condition, '$.signals[0]') ELSE COALESCE(condition, '{}') END,
    '$.signals[#]', json(?4),
    '$.signal_count', COALESCE(json_extract(condition, '$.signal_count'), 0) + 1,
    '$.matched_signal_count', COALESCE(json_extract(condition, '$.matched_signal_count'), 0) + ?5,
    '$.last_signal_at_ms', ?6),
    CASE WHEN ?7 THEN jsonb_object('closed_at_ms', ?6, 'close_reason', 'resumed', 'satisfied_at_ms', ?6,
      'expires_at_ms', expires_at_ms) ELSE '{}' END)
WHERE partition_key = ?1 AND waitpoint_id = ?2`)

	// qSuspensionSignals reads the satisfier records of the execution's
	// suspension of attempt ?3 (satisfiersOf; NULL: none).
	qSuspensionSignals = hotStmt(`SELECT ` + satisfiersOf("?3"))

	// qInsertSignalEvent writes the signal-delivery outbox row with the
	// namespace and cairn.instance_id tag the update of the execution row
	// read back (evTagsReturning), as INSERT … SELECT from the row would.
	qInsertSignalEvent = hotStmt(`INSERT INTO ff_signal_event
  (execution_id, signal_id, waitpoint_id, source_identity, delivered_at_ms, partition_key, namespace, instance_tag)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)`)
)

// satisfiersOf is the scalar subquery of the satisfier records of the
// suspension of attempt idx (an SQL expression) of execution (?1, ?2),
// NULL unless signals satisfied it (satisfied_at_ms). Canonical's
// observe_signals reads the signals of satisfied matchers (or
// all_satisfier_signals, which only the satisfying signal writes), so an
// operator or timeout resume leaves nothing to observe.
func satisfiersOf(idx string) string {
	return `(SELECT json_extract(s.member_map, '$.satisfiers') FROM ff_suspension_current s
  WHERE s.partition_key = ?1 AND s.execution_id = ?2 AND json_extract(s.member_map, '$.attempt_index') = ` + idx + `
    AND json_extract(s.member_map, '$.satisfied_at_ms') IS NOT NULL)`
}

// DeliverSignal delivers a signal to one of an execution's waitpoints
// (route 9), in canonical check order, each failure changing nothing:
//  1. an unknown execution is KindNotFound "not found: execution";
//  2. the token is checked first (verifyWaitpointToken): an unknown
//     waitpoint or one of another execution is invalid_token like a bad
//     token, so callers cannot probe which waitpoints exist; an empty
//     token is missing_token, a retired key past its grace token_expired;
//  3. a terminal execution is KindState target_not_signalable;
//  4. a pending waitpoint buffers the signal (effect
//     buffered_for_pending_waitpoint; ffsqlite's improvement over
//     canonical's 409) for a later suspend that binds it, unless it has
//     expired (waitpoint_closed); a closed waitpoint is
//     target_not_signalable when the execution is not suspended, else
//     waitpoint_closed;
//  5. max_signals_per_execution (default 10000, 0 = no cap) reached is
//     KindValidation signal_limit_exceeded;
//  6. an idempotency key seen within dedup_ttl_ms (default 24 h) answers
//     Duplicate{existing_signal_id} and records nothing;
//  7. the signal is recorded on its waitpoint and evaluated against the
//     suspension's condition; when satisfied the suspension and its
//     waitpoints close (resumed / satisfied, kept) and the execution
//     becomes waiting, or delayed by the signal's resume_delay_ms;
//  8. a signal-delivery outbox row is written for every accepted signal.
func (b *Backend) DeliverSignal(ctx context.Context, args DeliverSignalArgs) (DeliverSignalResult, error) {
	const op = "deliver_signal"
	if args.ExecutionID.IsZero() {
		return DeliverSignalResult{}, validation(op, "invalid_input", "execution_id: required")
	}
	if len(args.Payload) > MaxSignalPayloadBytes {
		return DeliverSignalResult{}, validation(op, "payload_too_large", "signal payload exceeds %d bytes (got %d)",
			MaxSignalPayloadBytes, len(args.Payload))
	}
	var out DeliverSignalResult
	err := b.write(ctx, op, func(w *wtx) error {
		var err error
		out, err = w.deliverSignal(op, &args)
		return err
	})
	return out, err
}

func (w *wtx) deliverSignal(op string, a *DeliverSignalArgs) (DeliverSignalResult, error) {
	id := a.ExecutionID
	part, key := id.key()
	var (
		lifecycle             string
		count                 int64
		wpExec                []byte
		kid, token, wpKey, st sql.NullString
		expires               sql.NullInt64
		secret                []byte
		active                sql.NullBool
		rotatedAt             sql.NullInt64
		condText, stateText   sql.NullString
		wpRecord, memberMap   sql.NullString
		execFields            sql.NullString
		members               sql.NullInt64
	)
	var tags evTags
	err := w.queryRow(qSignalTarget, part, key, a.WaitpointID[:]).Scan(append([]any{&lifecycle, &count, &wpExec, &kid,
		&token, &wpKey, &st, &expires, &wpRecord, &secret, &active, &rotatedAt, &condText, &stateText, &memberMap,
		&members, &execFields}, tags.dest()...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return DeliverSignalResult{}, notFound(op, "execution")
	}
	if err != nil {
		return DeliverSignalResult{}, err
	}
	wpID := a.WaitpointID.String()
	if !st.Valid || string(wpExec) != string(key) {
		return DeliverSignalResult{}, validation(op, "invalid_token", "")
	}
	var signer *signingKey
	if active.Valid {
		signer = &signingKey{kid: kid.String, secret: secret, active: active.Bool, rotatedAt: rotatedAt.Int64}
	}
	if err := w.checkToken(op, id, wpID, kid.String, token.String, a.WaitpointToken, signer); err != nil {
		return DeliverSignalResult{}, err
	}
	if lifecycle == "terminal" {
		return DeliverSignalResult{}, stateErr(op, "target_not_signalable", "TargetNotSignalable")
	}
	var (
		cond  suspension.Condition
		state = suspension.NewState()
	)
	buffered := false
	switch st.String {
	case WaitpointPending:
		if expires.Valid && expires.Int64 <= w.now {
			return DeliverSignalResult{}, stateErr(op, "waitpoint_closed", "WaitpointClosed")
		}
		buffered = true
	case WaitpointActive:
		if !condText.Valid {
			return DeliverSignalResult{}, stateErr(op, "waitpoint_closed", "WaitpointClosed")
		}
		if cond, err = w.b.in.conditions.parse(condText.String); err != nil {
			return DeliverSignalResult{}, corrupt(op, "ff_suspension_current.condition: "+err.Error())
		}
		if err := json.Unmarshal([]byte(stateText.String), state); err != nil {
			return DeliverSignalResult{}, corrupt(op, "ff_suspension_current.satisfied_set: "+err.Error())
		}
	default:
		if lifecycle != "suspended" {
			return DeliverSignalResult{}, stateErr(op, "target_not_signalable", "TargetNotSignalable")
		}
		return DeliverSignalResult{}, stateErr(op, "waitpoint_closed", "WaitpointClosed")
	}
	maxSignals := int64(DefaultMaxSignalsPerExecution)
	if a.MaxSignalsPerExecution != nil {
		maxSignals = clampI64(*a.MaxSignalsPerExecution)
	}
	if maxSignals > 0 && count >= maxSignals {
		return DeliverSignalResult{}, validation(op, "signal_limit_exceeded", "")
	}
	signalID := a.SignalID.String()
	idem := ""
	if a.IdempotencyKey != nil {
		idem = *a.IdempotencyKey
	}
	dedupTTL := int64(DefaultSignalDedupTTLMS)
	if a.DedupTTLMS != nil {
		dedupTTL = min(clampI64(*a.DedupTTLMS), maxTTLMS)
	}
	if idem != "" && dedupTTL > 0 {
		raw, hit, err := w.dedupGet(part, signalDedupKey(a.WaitpointID, idem))
		if err != nil {
			return DeliverSignalResult{}, err
		}
		var existing string
		if hit && json.Unmarshal(raw, &existing) == nil {
			return DeliverSignalResult{Duplicate: true, ExistingSignalID: existing}, nil
		}
		if err := w.dedupPut(part, signalDedupKey(a.WaitpointID, idem), signalID, dedupTTL); err != nil {
			return DeliverSignalResult{}, err
		}
	}

	rec := newSignalRecord(a, signalID, idem, w.now)
	var o suspension.Outcome
	if buffered {
		o.Effect = suspension.EffectBuffered
	} else {
		o = suspension.Apply(cond, state, suspension.Signal{ID: signalID, Name: a.SignalName,
			SourceType: a.SourceType, SourceIdentity: a.SourceIdentity, WaitpointKey: wpKey.String})
	}
	rec.Effect = o.Effect
	recJSON := jsonString(rec)
	if !buffered {
		stateJSON, err := json.Marshal(state)
		if err != nil {
			return DeliverSignalResult{}, err
		}
		doc, built := "", false
		if o.Contributed || o.Satisfied {
			doc, built = addSatisfier(memberMap, recJSON, o.Satisfied, w.now)
		}
		q, args := qStoreSuspensionRecord, []any{part, key, string(stateJSON), doc, o.Satisfied}
		switch {
		case built:
		case o.Satisfied:
			q, args = qSatisfySuspension, []any{part, key, string(stateJSON), recJSON, w.now}
		default:
			q, args = qSuspensionProgress, []any{part, key, string(stateJSON), recJSON, o.Contributed}
		}
		if _, err := w.exec(q, args...); err != nil {
			return DeliverSignalResult{}, err
		}
	}
	maxlen := int64(DefaultSignalMaxlen)
	if a.SignalMaxlen != nil && *a.SignalMaxlen > 0 {
		maxlen = clampI64(*a.SignalMaxlen)
	}
	matched := 0
	if o.Contributed {
		matched = 1
	}
	entry := signalEntry{rec: recJSON, maxlen: maxlen, matched: o.Contributed, close: o.Satisfied, expires: expires}
	if doc, ok := recordSignal(wpRecord, entry, w.now); ok {
		if _, err := w.exec(qStoreWaitpointRecord, part, a.WaitpointID[:], doc, o.Satisfied); err != nil {
			return DeliverSignalResult{}, err
		}
	} else if _, err := w.exec(qRecordSignal, part, a.WaitpointID[:], maxlen, recJSON, matched, w.now, o.Satisfied); err != nil {
		return DeliverSignalResult{}, err
	}
	if o.Satisfied {
		if members.Int64 > 1 {
			if err := w.closeWaitpoints(id, WaitpointActive, CloseResumed, true); err != nil {
				return DeliverSignalResult{}, err
			}
		}
		var delay int64
		if a.ResumeDelayMS != nil {
			delay = clampI64(*a.ResumeDelayMS)
		}
		detail := "resume delay " + strconv.FormatInt(delay, 10) + "ms after signal " + a.SignalName
		if err := w.resumeBySignal(id, delay, detail, count+1, execFields); err != nil {
			return DeliverSignalResult{}, err
		}
	} else if _, err := w.exec(qSignalCount, part, key, count+1); err != nil {
		return DeliverSignalResult{}, err
	}
	if _, err := w.exec(qInsertSignalEvent, id.String(), signalID, wpID, a.SourceIdentity, w.now, part,
		tags.namespace, tags.instanceTag); err != nil {
		return DeliverSignalResult{}, err
	}
	w.wake(OutboxSignal)
	return DeliverSignalResult{SignalID: signalID, Effect: o.Effect}, nil
}

// newSignalRecord is the stored record of a delivered signal.
func newSignalRecord(a *DeliverSignalArgs, signalID, idem string, now int64) signalRecord {
	rec := signalRecord{
		SignalID: signalID, SignalName: a.SignalName, SignalCategory: a.SignalCategory,
		SourceType: a.SourceType, SourceIdentity: a.SourceIdentity, TargetScope: a.TargetScope,
		IdempotencyKey: idem, CreatedAtMS: now, AcceptedAtMS: now,
	}
	if a.CorrelationID != nil {
		rec.CorrelationID = *a.CorrelationID
	}
	if a.CreatedAt != nil {
		rec.CreatedAtMS = *a.CreatedAt
	}
	if a.PayloadEncoding != nil {
		rec.PayloadEncoding = *a.PayloadEncoding
	}
	if len(a.Payload) > 0 {
		rec.PayloadHex = hex.EncodeToString(a.Payload)
	}
	return rec
}

// ResumeSignal is a signal a resumed worker observes (upstream's
// ResumeSignal): what arrived, from whom, when, and its payload.
type ResumeSignal struct {
	SignalID       string `json:"signal_id"`
	SignalName     string `json:"signal_name"`
	SignalCategory string `json:"signal_category"`
	SourceType     string `json:"source_type"`
	SourceIdentity string `json:"source_identity"`
	CorrelationID  string `json:"correlation_id"`
	AcceptedAt     int64  `json:"accepted_at"`
	Payload        Bytes  `json:"payload,omitempty"`
}

// resumeSignals returns the signals that satisfied the execution's last
// suspension of attempt idx, in arrival order (empty when the attempt
// did not suspend, or an operator or timeout resumed it, even when some
// signals had arrived: the condition was not satisfied by them). The suspension
// keeps copies of its satisfiers' records, so this is one row read.
func (w *wtx) resumeSignals(part int64, key []byte, idx int64) ([]ResumeSignal, error) {
	var text sql.NullString
	err := w.queryRow(qSuspensionSignals, part, key, idx).Scan(&text)
	if errors.Is(err, sql.ErrNoRows) {
		return []ResumeSignal{}, nil
	}
	if err != nil {
		return nil, err
	}
	return resumeSignalsFrom(text)
}

// resumeSignalsFrom converts the satisfier records qSuspensionSignals
// reads (NULL: none) to what a worker observes.
func resumeSignalsFrom(text sql.NullString) ([]ResumeSignal, error) {
	out := []ResumeSignal{}
	if !text.Valid {
		return out, nil
	}
	var recs []signalRecord
	if err := json.Unmarshal([]byte(text.String), &recs); err != nil {
		return nil, corrupt("observe_signals", "ff_suspension_current.member_map satisfiers: "+err.Error())
	}
	for _, r := range recs {
		s, err := r.resumeSignal()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// resumeSignal converts a stored record to what a worker observes.
func (r signalRecord) resumeSignal() (ResumeSignal, error) {
	s := ResumeSignal{SignalID: r.SignalID, SignalName: r.SignalName, SignalCategory: r.SignalCategory,
		SourceType: r.SourceType, SourceIdentity: r.SourceIdentity, CorrelationID: r.CorrelationID,
		AcceptedAt: r.AcceptedAtMS}
	if r.PayloadHex != "" {
		p, err := hex.DecodeString(r.PayloadHex)
		if err != nil {
			return s, corrupt("observe_signals", "signal payload is not hex")
		}
		s.Payload = p
	}
	return s, nil
}

// ObserveSignals returns the signals that resumed the handle's attempt
// (upstream's observe_signals / resume_signals): after a resumed claim,
// the satisfiers of its suspension; otherwise none. It writes nothing but
// is fenced like Renew, so a stale handle learns it is stale.
func (b *Backend) ObserveSignals(ctx context.Context, h Handle) ([]ResumeSignal, error) {
	const op = "observe_signals"
	var out []ResumeSignal
	err := b.write(ctx, op, func(w *wtx) error {
		f, err := w.fence(op, h)
		if err != nil {
			return err
		}
		out, err = w.resumeSignals(f.part, f.key, int64(f.h.AttemptIndex))
		return err
	})
	return out, err
}
