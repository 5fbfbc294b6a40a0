package inspect

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ffsqlite/ffsqlite/suspension"
)

// Durable waits as inspect shows them: an execution's suspension, its
// waitpoints (never the raw token: its kid and fingerprint) and the
// signals delivered to them, and `inspect waitpoints`, the open waitpoints
// of every execution. The storage is docs/storage.md's; rows written by
// upstream's own runner (no waitpoint record, member_map holding signal
// blobs) read with the fields ffsqlite's records add left null.

// Suspension is the execution's current or last suspension
// (ff_suspension_current).
type Suspension struct {
	SuspensionID  string `json:"suspension_id"`
	SuspendedAtMS int64  `json:"suspended_at_ms"`
	// State is "open" or "closed" (null for a row without ffsqlite's
	// record).
	State       *string `json:"state"`
	CloseReason *string `json:"close_reason"`
	ClosedAtMS  *int64  `json:"closed_at_ms"`
	// TimeoutAtMS is the pending timeout, or, once closed, the one it had.
	TimeoutAtMS     *int64          `json:"timeout_at_ms"`
	TimeoutBehavior *string         `json:"timeout_behavior"`
	ReasonCode      *string         `json:"reason_code"`
	RequestedBy     *string         `json:"requested_by"`
	Condition       json.RawMessage `json:"condition"`
	SatisfiedSet    json.RawMessage `json:"satisfied_set"`
	// SatisfierCount is how many signals contributed to the condition.
	SatisfierCount int64 `json:"satisfier_count"`
}

// Waitpoint is one ff_waitpoint_pending row. The token is never shown:
// TokenKid and TokenFingerprint (the first 16 hex characters of its
// digest) identify it.
type Waitpoint struct {
	WaitpointID         string          `json:"waitpoint_id"`
	WaitpointKey        *string         `json:"waitpoint_key"`
	State               *string         `json:"state"`
	TokenKid            string          `json:"token_kid"`
	TokenFingerprint    string          `json:"token_fingerprint"`
	RequiredSignalNames json.RawMessage `json:"required_signal_names"`
	CreatedAtMS         int64           `json:"created_at_ms"`
	ExpiresAtMS         *int64          `json:"expires_at_ms"`
	ActivatedAtMS       *int64          `json:"activated_at_ms"`
	CloseReason         *string         `json:"close_reason"`
	ClosedAtMS          *int64          `json:"closed_at_ms"`
	// SignalCount counts the signals delivered to it (records beyond
	// signal_maxlen are dropped, the count is not).
	SignalCount int64 `json:"signal_count"`
}

// Signal is one delivered signal as its waitpoint keeps it (the payload
// by size only).
type Signal struct {
	WaitpointID    string  `json:"waitpoint_id"`
	SignalID       string  `json:"signal_id"`
	SignalName     string  `json:"signal_name"`
	SignalCategory string  `json:"signal_category"`
	SourceType     string  `json:"source_type"`
	SourceIdentity string  `json:"source_identity"`
	CorrelationID  string  `json:"correlation_id"`
	IdempotencyKey *string `json:"idempotency_key"`
	AcceptedAtMS   int64   `json:"accepted_at_ms"`
	// Effect is what the signal did (resume_condition_satisfied, no_op,
	// buffered_for_pending_waitpoint, …).
	Effect       string `json:"effect"`
	PayloadBytes int64  `json:"payload_bytes"`
}

func readSuspension(ctx context.Context, db queryer, cat *catalog, part int64, uid []byte) (*Suspension, error) {
	if !cat.has("ff_suspension_current") {
		return nil, nil
	}
	t := "ff_suspension_current"
	var s Suspension
	var sid []byte
	var timeout, closedAt sql.NullInt64
	var behavior, reason, cond, sat, state, closeReason, requested sql.NullString
	var satisfiers sql.NullInt64
	err := db.QueryRowContext(ctx, fmt.Sprintf(`SELECT suspension_id, suspended_at_ms,
		COALESCE(timeout_at_ms, json_extract(%[2]s, '$.timeout_at_ms')), %[1]s, reason_code, condition, satisfied_set,
		json_extract(%[2]s, '$.state'), json_extract(%[2]s, '$.close_reason'), json_extract(%[2]s, '$.closed_at_ms'),
		json_extract(%[2]s, '$.requested_by'), json_array_length(%[2]s, '$.satisfiers')
		FROM ff_suspension_current WHERE partition_key = ? AND execution_id = ?`,
		cat.col(t, "timeout_behavior"), jsonCol(cat, t, "member_map")), part, uid).
		Scan(&sid, &s.SuspendedAtMS, &timeout, &behavior, &reason, &cond, &sat, &state, &closeReason, &closedAt, &requested, &satisfiers)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read suspension: %w", err)
	}
	s.SuspensionID = UUIDString(sid)
	s.TimeoutAtMS, s.TimeoutBehavior, s.ReasonCode = nullInt(timeout), nullStr(behavior), nullStr(reason)
	s.Condition, s.SatisfiedSet = rawJSON(cond), rawJSON(sat)
	s.State, s.CloseReason, s.ClosedAtMS, s.RequestedBy = nullStr(state), nullStr(closeReason), nullInt(closedAt), nullStr(requested)
	s.SatisfierCount = satisfiers.Int64
	return &s, nil
}

// jsonCol is column c of table t when the file has it and it holds a JSON
// object, else an empty object, so json_extract never fails on a column
// of another shape.
func jsonCol(cat *catalog, t, c string) string {
	if !cat.hasCol(t, c) {
		return "'{}'"
	}
	return fmt.Sprintf("(CASE WHEN json_valid(%[1]s) AND json_type(%[1]s) = 'object' THEN %[1]s ELSE '{}' END)", c)
}

// waitpoints reads the execution's waitpoints, oldest first, and the
// signals delivered to them in the order they were accepted.
func waitpoints(ctx context.Context, db queryer, cat *catalog, part int64, uid []byte) ([]Waitpoint, []Signal, error) {
	wps, sigs := []Waitpoint{}, []Signal{}
	if !cat.has("ff_waitpoint_pending") {
		return wps, sigs, nil
	}
	t := "ff_waitpoint_pending"
	rec := jsonCol(cat, t, "condition")
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT waitpoint_id, %s, %s, token, %s, created_at_ms, expires_at_ms, %s,
		json_extract(%[5]s, '$.close_reason'), json_extract(%[5]s, '$.closed_at_ms'), COALESCE(json_extract(%[5]s, '$.signal_count'), 0),
		COALESCE(json_extract(%[5]s, '$.expires_at_ms'), expires_at_ms)
		FROM ff_waitpoint_pending WHERE partition_key = ? AND execution_id = ? ORDER BY created_at_ms, waitpoint_id`,
		cat.col(t, "waitpoint_key"), cat.col(t, "state"), cat.col(t, "required_signal_names"), cat.col(t, "activated_at_ms"), rec), part, uid)
	if err != nil {
		return nil, nil, fmt.Errorf("read waitpoints: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var w Waitpoint
		var wid []byte
		var key, state, names, token, closeReason sql.NullString
		var exp, act, closedAt, origExp sql.NullInt64
		if err := rows.Scan(&wid, &key, &state, &token, &names, &w.CreatedAtMS, &exp, &act, &closeReason, &closedAt,
			&w.SignalCount, &origExp); err != nil {
			return nil, nil, err
		}
		w.WaitpointID = UUIDString(wid)
		w.WaitpointKey, w.State, w.RequiredSignalNames = nullStr(key), nullStr(state), rawJSON(names)
		w.ExpiresAtMS, w.ActivatedAtMS = nullInt(origExp), nullInt(act)
		w.CloseReason, w.ClosedAtMS = nullStr(closeReason), nullInt(closedAt)
		w.TokenKid, w.TokenFingerprint = suspension.Fingerprint(token.String)
		wps = append(wps, w)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	srows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT w.waitpoint_id,
		COALESCE(json_extract(j.value, '$.signal_id'), ''), COALESCE(json_extract(j.value, '$.signal_name'), ''),
		COALESCE(json_extract(j.value, '$.signal_category'), ''), COALESCE(json_extract(j.value, '$.source_type'), ''),
		COALESCE(json_extract(j.value, '$.source_identity'), ''), COALESCE(json_extract(j.value, '$.correlation_id'), ''),
		json_extract(j.value, '$.idempotency_key'), COALESCE(json_extract(j.value, '$.accepted_at'), 0),
		COALESCE(json_extract(j.value, '$.effect'), ''), length(COALESCE(json_extract(j.value, '$.payload_hex'), '')) / 2
		FROM ff_waitpoint_pending w, json_each(%s, '$.signals') j
		WHERE w.partition_key = ? AND w.execution_id = ? AND j.type = 'object'
		ORDER BY 9, w.waitpoint_id, j.key`, rec), part, uid)
	if err != nil {
		return nil, nil, fmt.Errorf("read signals: %w", err)
	}
	defer srows.Close()
	for srows.Next() {
		var s Signal
		var wid []byte
		var idem sql.NullString
		if err := srows.Scan(&wid, &s.SignalID, &s.SignalName, &s.SignalCategory, &s.SourceType, &s.SourceIdentity,
			&s.CorrelationID, &idem, &s.AcceptedAtMS, &s.Effect, &s.PayloadBytes); err != nil {
			return nil, nil, err
		}
		s.WaitpointID, s.IdempotencyKey = UUIDString(wid), nullStr(idem)
		sigs = append(sigs, s)
	}
	return wps, sigs, srows.Err()
}

// WaitpointList is `inspect waitpoints`: open (pending or active)
// waitpoints, oldest first.
type WaitpointList struct {
	Waitpoints []OpenWaitpoint `json:"waitpoints"`
}

// OpenWaitpoint is an open waitpoint with the execution it belongs to.
type OpenWaitpoint struct {
	ExecutionID string `json:"execution_id"`
	Waitpoint
}

// Waitpoints lists up to limit (0 = all) pending and active waitpoints of
// every execution, oldest first. ff_waitpoint_pending has no index on
// state, so this reads the table (an inspect command, never the engine).
func Waitpoints(ctx context.Context, db *sql.DB, limit int) (*WaitpointList, error) {
	cat, err := loadCatalog(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := cat.need("ff_waitpoint_pending"); err != nil {
		return nil, err
	}
	t := "ff_waitpoint_pending"
	state := "state"
	if !cat.hasCol(t, "state") {
		state = "'pending'" // before 0011 every waitpoint was pending
	}
	lim := ""
	if limit > 0 {
		lim = fmt.Sprintf(" LIMIT %d", limit)
	}
	rec := jsonCol(cat, t, "condition")
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT partition_key, execution_id, waitpoint_id, %s, %s, token, %s,
		created_at_ms, expires_at_ms, %s, COALESCE(json_extract(%s, '$.signal_count'), 0)
		FROM ff_waitpoint_pending WHERE %[2]s IN ('pending', 'active')
		ORDER BY created_at_ms, waitpoint_id%[6]s`,
		cat.col(t, "waitpoint_key"), state, cat.col(t, "required_signal_names"), cat.col(t, "activated_at_ms"), rec, lim))
	if err != nil {
		return nil, fmt.Errorf("list waitpoints: %w", err)
	}
	defer rows.Close()
	out := &WaitpointList{Waitpoints: []OpenWaitpoint{}}
	for rows.Next() {
		var (
			w              OpenWaitpoint
			part           int64
			eid, wid       []byte
			key, st, names sql.NullString
			token          sql.NullString
			exp, act       sql.NullInt64
		)
		if err := rows.Scan(&part, &eid, &wid, &key, &st, &token, &names, &w.CreatedAtMS, &exp, &act, &w.SignalCount); err != nil {
			return nil, err
		}
		w.ExecutionID = ExecID(part, eid)
		w.WaitpointID = UUIDString(wid)
		w.WaitpointKey, w.State, w.RequiredSignalNames = nullStr(key), nullStr(st), rawJSON(names)
		w.ExpiresAtMS, w.ActivatedAtMS = nullInt(exp), nullInt(act)
		w.TokenKid, w.TokenFingerprint = suspension.Fingerprint(token.String)
		out.Waitpoints = append(out.Waitpoints, w)
	}
	return out, rows.Err()
}
