package backend

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/suspension"
)

// Waitpoints (docs/storage.md, ff_waitpoint_pending): one row per
// waitpoint, kept after it closes. state is pending (created ahead of a
// suspend, see CreateWaitpoint), active (bound to an open suspension) or
// closed; the condition column holds the waitpoint's own record
// (waitpointRecord): its attempt, counters, close reason and the signals
// delivered to it.

// Waitpoint states.
const (
	WaitpointPending = "pending"
	WaitpointActive  = "active"
	WaitpointClosed  = "closed"
)

// Close reasons of waitpoints and suspensions.
const (
	CloseResumed        = "resumed"
	CloseNeverCommitted = "never_committed"
	CloseCancelled      = "cancelled"
	CloseExpired        = "expired"
	CloseTerminal       = "execution_terminal"
	CloseProactive      = "proactive_close"
)

// DefaultSignalMaxlen is how many signal records a waitpoint keeps (the
// oldest go first), upstream's signal_maxlen default.
const DefaultSignalMaxlen = 1000

// maxWaitpointKeyBytes bounds a pending waitpoint's key.
const maxWaitpointKeyBytes = 1024

// waitpointRecord is the JSON of ff_waitpoint_pending.condition.
type waitpointRecord struct {
	AttemptIndex       int64          `json:"attempt_index"`
	SuspensionID       string         `json:"suspension_id,omitempty"`
	SignalCount        int64          `json:"signal_count"`
	MatchedSignalCount int64          `json:"matched_signal_count"`
	LastSignalAtMS     *int64         `json:"last_signal_at_ms,omitempty"`
	ClosedAtMS         *int64         `json:"closed_at_ms,omitempty"`
	CloseReason        string         `json:"close_reason,omitempty"`
	SatisfiedAtMS      *int64         `json:"satisfied_at_ms,omitempty"`
	ExpiresAtMS        *int64         `json:"expires_at_ms,omitempty"`
	Signals            []signalRecord `json:"signals"`
}

// signalRecord is one delivered signal as a waitpoint keeps it.
type signalRecord struct {
	SignalID        string `json:"signal_id"`
	SignalName      string `json:"signal_name"`
	SignalCategory  string `json:"signal_category"`
	SourceType      string `json:"source_type"`
	SourceIdentity  string `json:"source_identity"`
	CorrelationID   string `json:"correlation_id"`
	TargetScope     string `json:"target_scope"`
	IdempotencyKey  string `json:"idempotency_key,omitempty"`
	CreatedAtMS     int64  `json:"created_at"`
	AcceptedAtMS    int64  `json:"accepted_at"`
	PayloadEncoding string `json:"payload_encoding,omitempty"`
	PayloadHex      string `json:"payload_hex,omitempty"`
	Effect          string `json:"effect"`
}

// newWaitpointRecord is the record of a waitpoint created for attempt idx
// (suspensionID: the suspension's id, or empty), written out by hand, as
// encoding/json would write waitpointRecord, since every suspend writes
// one; suspensionID is a UUID's text, which needs no escaping.
func newWaitpointRecord(idx int64, suspensionID string) string {
	susp := ""
	if suspensionID != "" {
		susp = `"suspension_id":"` + suspensionID + `",`
	}
	return `{"attempt_index":` + strconv.FormatInt(idx, 10) + `,` + susp +
		`"signal_count":0,"matched_signal_count":0,"signals":[]}`
}

// waitpointRow is what the engine reads of a waitpoint.
type waitpointRow struct {
	id           uuid.UUID
	execKey      []byte
	kid, token   string
	key, state   string
	createdAt    int64
	expiresAt    sql.NullInt64
	attemptIndex sql.NullInt64
}

var qWaitpoint = hotStmt(`SELECT execution_id, token_kid, token, waitpoint_key, state, created_at_ms, expires_at_ms,
  json_extract(condition, '$.attempt_index')
FROM ff_waitpoint_pending WHERE partition_key = ?1 AND waitpoint_id = ?2`)

// waitpoint reads a waitpoint of partition part; ok is false when there
// is none.
func (w *wtx) waitpoint(part int64, id uuid.UUID) (waitpointRow, bool, error) {
	r := waitpointRow{id: id}
	err := w.queryRow(qWaitpoint, part, id[:]).Scan(&r.execKey, &r.kid, &r.token, &r.key, &r.state,
		&r.createdAt, &r.expiresAt, &r.attemptIndex)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// belongsTo reports whether the waitpoint is the execution's.
func (r waitpointRow) belongsTo(id ExecutionID) bool {
	_, key := id.key()
	return string(r.execKey) == string(key)
}

var (
	// qInsertWaitpoint creates a waitpoint, or reuses the id of a closed
	// waitpoint of the same execution (upstream overwrites closed ones).
	qInsertWaitpoint = hotStmt(`INSERT INTO ff_waitpoint_pending
  (partition_key, waitpoint_id, execution_id, token_kid, token, created_at_ms, expires_at_ms, condition,
   waitpoint_key, state, required_signal_names, activated_at_ms)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
ON CONFLICT (partition_key, waitpoint_id) DO UPDATE SET
  token_kid = excluded.token_kid, token = excluded.token, created_at_ms = excluded.created_at_ms,
  expires_at_ms = excluded.expires_at_ms, condition = excluded.condition, waitpoint_key = excluded.waitpoint_key,
  state = excluded.state, required_signal_names = excluded.required_signal_names,
  activated_at_ms = excluded.activated_at_ms
WHERE ff_waitpoint_pending.state = 'closed' AND ff_waitpoint_pending.execution_id = excluded.execution_id`)

	// qCloseWaitpoints closes the execution's waitpoints in state ?3 with
	// reason ?4 (?5 = also mark satisfied): the expiry moves from the
	// column (whose index holds open waitpoints only) into the record.
	qCloseWaitpoints = hotStmt(`UPDATE ff_waitpoint_pending SET state = 'closed', expires_at_ms = NULL,
  condition = json_patch(COALESCE(condition, '{}'), json_object('closed_at_ms', ?6, 'close_reason', ?4,
    'satisfied_at_ms', CASE WHEN ?5 THEN ?6 END, 'expires_at_ms', expires_at_ms))
WHERE partition_key = ?1 AND execution_id = ?2 AND state = ?3`)

	// qCloseOpenWaitpoints closes every pending or active waitpoint of
	// the execution with reason ?3 (its terminal transition).
	qCloseOpenWaitpoints = hotStmt(`UPDATE ff_waitpoint_pending SET state = 'closed', expires_at_ms = NULL,
  condition = json_patch(COALESCE(condition, '{}'), json_object('closed_at_ms', ?4, 'close_reason', ?3,
    'expires_at_ms', expires_at_ms))
WHERE partition_key = ?1 AND execution_id = ?2 AND state IN ('pending', 'active')`)

	// qCloseWaitpoint closes one open waitpoint.
	qCloseWaitpoint = hotStmt(`UPDATE ff_waitpoint_pending SET state = 'closed', expires_at_ms = NULL,
  condition = json_patch(COALESCE(condition, '{}'), json_object('closed_at_ms', ?5, 'close_reason', ?3,
    'satisfied_at_ms', CASE WHEN ?4 THEN ?5 END, 'expires_at_ms', expires_at_ms))
WHERE partition_key = ?1 AND waitpoint_id = ?2 AND state <> 'closed'`)
)

// closeWaitpoints closes the execution's waitpoints in state.
func (w *wtx) closeWaitpoints(id ExecutionID, state, reason string, satisfied bool) error {
	part, key := id.key()
	_, err := w.exec(qCloseWaitpoints, part, key, state, reason, satisfied, w.now)
	return err
}

// PendingWaitpoint is a waitpoint created ahead of a suspend: its id,
// key, token (give it to whoever will signal) and expiry.
type PendingWaitpoint struct {
	WaitpointID    string `json:"waitpoint_id"`
	WaitpointKey   string `json:"waitpoint_key"`
	WaitpointToken string `json:"waitpoint_token"`
	ExpiresAtMS    int64  `json:"expires_at_ms"`
}

// CreateWaitpointArgs asks for a pending waitpoint: its key (signals are
// matched by it once a suspend binds the waitpoint with UsePending) and
// how long it may stay pending.
type CreateWaitpointArgs struct {
	WaitpointKey string `json:"waitpoint_key"`
	ExpiresInMS  int64  `json:"expires_in_ms"`
}

// CreateWaitpoint creates a pending waitpoint for the handle's attempt
// (upstream's create_waitpoint): a fresh id, a token minted now with the
// active key, state pending, expiry now + expires_in_ms. The lease is
// kept. Signals delivered to it before a suspend binds it are buffered
// (DeliverSignal); the pending-waitpoint-expiry reconciler closes it
// (never_committed) if no suspend binds it in time. Fenced like Renew.
func (b *Backend) CreateWaitpoint(ctx context.Context, h Handle, args CreateWaitpointArgs) (PendingWaitpoint, error) {
	const op = "create_waitpoint"
	switch {
	case args.WaitpointKey == "":
		return PendingWaitpoint{}, validation(op, "invalid_input", "waitpoint_key: must not be empty")
	case len(args.WaitpointKey) > maxWaitpointKeyBytes:
		return PendingWaitpoint{}, validation(op, "invalid_input", "waitpoint_key: exceeds %d bytes (got %d)",
			maxWaitpointKeyBytes, len(args.WaitpointKey))
	case args.ExpiresInMS <= 0:
		return PendingWaitpoint{}, validation(op, "invalid_input", "expires_in_ms: must be positive (got %d)", args.ExpiresInMS)
	}
	var out PendingWaitpoint
	err := b.write(ctx, op, func(w *wtx) error {
		f, err := w.fence(op, h)
		if err != nil {
			return err
		}
		k, err := w.activeKey(op)
		if err != nil {
			return err
		}
		wpID := uuid.New()
		token := k.mint(f.id, wpID.String())
		expires := w.now + min(args.ExpiresInMS, maxTTLMS)
		n, err := w.affected(qInsertWaitpoint, f.part, wpID[:], f.key, k.kid, token, w.now, expires,
			newWaitpointRecord(int64(f.h.AttemptIndex), ""), args.WaitpointKey, WaitpointPending, "[]", nil)
		if err != nil {
			return err
		}
		if n != 1 {
			return &Error{Kind: KindConflict, Op: op, Code: "waitpoint_already_exists", Msg: "WaitpointAlreadyExists"}
		}
		out = PendingWaitpoint{WaitpointID: wpID.String(), WaitpointKey: args.WaitpointKey, WaitpointToken: token, ExpiresAtMS: expires}
		return nil
	})
	return out, err
}

// CloseWaitpointResult is "Closed" or "AlreadyClosed".
type CloseWaitpointResult string

// CloseWaitpoint outcomes.
const (
	WaitpointClosedNow     CloseWaitpointResult = "Closed"
	WaitpointAlreadyClosed CloseWaitpointResult = "AlreadyClosed"
)

// CloseWaitpoint closes one of the handle's execution's pending waitpoints
// ahead of its expiry (upstream's close_waitpoint, for a worker that
// decided not to suspend): state closed with reason (default
// proactive_close). A closed waitpoint answers AlreadyClosed. An active
// waitpoint belongs to the open suspension and cannot be closed this way
// (KindState waitpoint_not_pending); an unknown one is a KindNotFound
// error. Fenced like Renew.
func (b *Backend) CloseWaitpoint(ctx context.Context, h Handle, waitpointID uuid.UUID, reason string) (CloseWaitpointResult, error) {
	const op = "close_waitpoint"
	if reason == "" {
		reason = CloseProactive
	}
	if len(reason) > 256 || strings.ContainsFunc(reason, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", validation(op, "invalid_input", "reason: at most 256 bytes without control characters")
	}
	var out CloseWaitpointResult
	err := b.write(ctx, op, func(w *wtx) error {
		f, err := w.fence(op, h)
		if err != nil {
			return err
		}
		wp, ok, err := w.waitpoint(f.part, waitpointID)
		if err != nil {
			return err
		}
		if !ok || !wp.belongsTo(f.id) {
			return notFound(op, "waitpoint")
		}
		switch wp.state {
		case WaitpointClosed:
			out = WaitpointAlreadyClosed
			return nil
		case WaitpointActive:
			return stateErr(op, "waitpoint_not_pending", "WaitpointNotPending")
		}
		if _, err := w.exec(qCloseWaitpoint, f.part, waitpointID[:], reason, false, w.now); err != nil {
			return err
		}
		out = WaitpointClosedNow
		return nil
	})
	return out, err
}

// stateErr is a KindState error whose Msg is upstream's Debug name of the
// state kind (the HTTP layer renders "state_conflict: <Debug>").
func stateErr(op, code, debug string) *Error {
	return &Error{Kind: KindState, Op: op, Code: code, Msg: debug}
}

// PendingWaitpointInfo is one waitpoint of route 5: no raw token, only its
// kid and a 16-hex-char fingerprint. Empty RequiredSignalNames means any
// signal.
type PendingWaitpointInfo struct {
	WaitpointID         string   `json:"waitpoint_id"`
	WaitpointKey        string   `json:"waitpoint_key"`
	State               string   `json:"state"`
	RequiredSignalNames []string `json:"required_signal_names"`
	CreatedAt           int64    `json:"created_at"`
	ActivatedAt         *int64   `json:"activated_at,omitempty"`
	ExpiresAt           *int64   `json:"expires_at,omitempty"`
	ExecutionID         string   `json:"execution_id"`
	TokenKid            string   `json:"token_kid"`
	TokenFingerprint    string   `json:"token_fingerprint"`
}

// Pending-waitpoint page sizes (upstream's list_pending_waitpoints).
const (
	DefaultWaitpointPage = 100
	MaxWaitpointPage     = 1000
)

// PendingWaitpointsPage is one page of an execution's open waitpoints;
// NextCursor is the last waitpoint id when another page exists.
type PendingWaitpointsPage struct {
	Waitpoints []PendingWaitpointInfo `json:"waitpoints"`
	NextCursor *string                `json:"next_cursor,omitempty"`
}

// ListPendingWaitpoints pages through the execution's pending and active
// waitpoints in waitpoint-id order, after the id after (nil = from the
// start); limit <= 0 is 100, capped at 1000. Closed waitpoints are not
// listed. A missing execution is KindNotFound "not found: execution".
func (b *Backend) ListPendingWaitpoints(ctx context.Context, id ExecutionID, after *uuid.UUID, limit int) (PendingWaitpointsPage, error) {
	const op = "list_pending_waitpoints"
	if limit <= 0 {
		limit = DefaultWaitpointPage
	}
	limit = min(limit, MaxWaitpointPage)
	part, key := id.key()
	tx, err := b.in.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return PendingWaitpointsPage{}, transport(op, err)
	}
	defer tx.Rollback()
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM ff_exec_core WHERE partition_key = ?1 AND execution_id = ?2`, part, key).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return PendingWaitpointsPage{}, notFound(op, "execution")
	}
	if err != nil {
		return PendingWaitpointsPage{}, transport(op, err)
	}
	from := []byte{}
	if after != nil {
		from = after[:]
	}
	rows, err := tx.QueryContext(ctx, `SELECT waitpoint_id, waitpoint_key, state, required_signal_names, created_at_ms,
  activated_at_ms, expires_at_ms, token
FROM ff_waitpoint_pending
WHERE partition_key = ?1 AND execution_id = ?2 AND state IN ('pending', 'active') AND waitpoint_id > ?3
ORDER BY waitpoint_id LIMIT ?4`, part, key, from, limit+1)
	if err != nil {
		return PendingWaitpointsPage{}, transport(op, err)
	}
	defer rows.Close()
	page := PendingWaitpointsPage{Waitpoints: []PendingWaitpointInfo{}}
	for rows.Next() {
		var (
			raw                []byte
			names, token       string
			activated, expires sql.NullInt64
			info               = PendingWaitpointInfo{ExecutionID: id.String()}
		)
		if err := rows.Scan(&raw, &info.WaitpointKey, &info.State, &names, &info.CreatedAt, &activated, &expires, &token); err != nil {
			return PendingWaitpointsPage{}, transport(op, err)
		}
		u, err := uuid.FromBytes(raw)
		if err != nil {
			return PendingWaitpointsPage{}, corrupt(op, "waitpoint_id is not 16 bytes")
		}
		info.WaitpointID = u.String()
		if err := json.Unmarshal([]byte(names), &info.RequiredSignalNames); err != nil || info.RequiredSignalNames == nil {
			return PendingWaitpointsPage{}, corrupt(op, "required_signal_names is not a JSON array of strings")
		}
		if activated.Valid {
			info.ActivatedAt = &activated.Int64
		}
		if expires.Valid {
			info.ExpiresAt = &expires.Int64
		}
		info.TokenKid, info.TokenFingerprint = suspension.Fingerprint(token)
		page.Waitpoints = append(page.Waitpoints, info)
	}
	if err := rows.Err(); err != nil {
		return PendingWaitpointsPage{}, transport(op, err)
	}
	if len(page.Waitpoints) > limit {
		page.Waitpoints = page.Waitpoints[:limit]
		last := page.Waitpoints[limit-1].WaitpointID
		page.NextCursor = &last
	}
	return page, nil
}

// corrupt is the KindValidation "corruption" error of a stored value that
// does not decode (upstream's Validation{Corruption}).
func corrupt(op, detail string) *Error {
	return validation(op, "corruption", "%s", detail)
}

// ReadWaitpointToken returns a waitpoint's raw token (route 6, for
// operators). Closed waitpoints keep theirs (they are kept, as canonical
// Valkey keeps them), so the token of a resumed wait still reads; an
// unknown waitpoint, or one of another execution, is KindNotFound
// "waitpoint token not found (consumed, expired, or unknown id)".
func (b *Backend) ReadWaitpointToken(ctx context.Context, id ExecutionID, waitpointID uuid.UUID) (string, error) {
	const op = "read_waitpoint_token"
	part, key := id.key()
	var token string
	err := b.in.reader.QueryRowContext(ctx, `SELECT token FROM ff_waitpoint_pending
WHERE partition_key = ?1 AND waitpoint_id = ?2 AND execution_id = ?3`, part, waitpointID[:], key).Scan(&token)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && token == "") {
		return "", &Error{Kind: KindNotFound, Op: op, Code: "waitpoint_token",
			Msg: "waitpoint token not found (consumed, expired, or unknown id)"}
	}
	if err != nil {
		return "", transport(op, err)
	}
	return token, nil
}
