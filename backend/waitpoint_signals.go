package backend

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"io"
)

// Recording a signal on its waitpoint. The waitpoint's record
// (ff_waitpoint_pending.condition, waitpointRecord) keeps the signals
// delivered to it and their counts. DeliverSignal builds the new record
// in Go from the one its target read returned (recordSignal) and stores
// it whole, which costs a fraction of editing the document with SQLite's
// JSON functions; a record that is not exactly ffsqlite's own shape (no
// record, an unknown member, a value of another type) is edited in SQL
// instead (qRecordSignal), so nothing in it is lost.

// waitpointRecordRaw is waitpointRecord with its signals kept as the JSON
// they are stored as, for recordSignal.
type waitpointRecordRaw struct {
	AttemptIndex       int64             `json:"attempt_index"`
	SuspensionID       string            `json:"suspension_id,omitempty"`
	SignalCount        int64             `json:"signal_count"`
	MatchedSignalCount int64             `json:"matched_signal_count"`
	LastSignalAtMS     *int64            `json:"last_signal_at_ms,omitempty"`
	ClosedAtMS         *int64            `json:"closed_at_ms,omitempty"`
	CloseReason        string            `json:"close_reason,omitempty"`
	SatisfiedAtMS      *int64            `json:"satisfied_at_ms,omitempty"`
	ExpiresAtMS        *int64            `json:"expires_at_ms,omitempty"`
	Signals            []json.RawMessage `json:"signals"`
}

// qStoreWaitpointRecord stores a waitpoint record built by recordSignal
// and, with ?4, closes the waitpoint (its expiry moved into the record).
var qStoreWaitpointRecord = hotStmt(`UPDATE ff_waitpoint_pending SET
  state = CASE WHEN ?4 THEN 'closed' ELSE state END,
  expires_at_ms = CASE WHEN ?4 THEN NULL ELSE expires_at_ms END,
  condition = ?3
WHERE partition_key = ?1 AND waitpoint_id = ?2`)

// signalEntry is what recording one signal changes in its waitpoint's
// record: the signal's stored record, the most records kept, whether it
// contributed to the condition, and whether it closes the waitpoint
// (satisfied), with the waitpoint's expiry column, kept in the record.
type signalEntry struct {
	rec     string
	maxlen  int64
	matched bool
	close   bool
	expires sql.NullInt64
}

// recordSignal returns old, a waitpoint record, with e recorded as
// qRecordSignal would record it: the oldest records dropped beyond
// e.maxlen, e.rec appended, the counts and last signal time updated and,
// when e closes it, the close members set. ok is false when old is not
// exactly a waitpointRecord (then the caller edits it in SQL).
func recordSignal(old sql.NullString, e signalEntry, now int64) (doc string, ok bool) {
	if !old.Valid {
		return "", false
	}
	var r waitpointRecordRaw
	d := json.NewDecoder(bytes.NewReader([]byte(old.String)))
	d.DisallowUnknownFields()
	if d.Decode(&r) != nil || d.Decode(&struct{}{}) != io.EOF || r.Signals == nil {
		return "", false
	}
	if int64(len(r.Signals)) >= e.maxlen {
		r.Signals = r.Signals[1:]
	}
	r.Signals = append(r.Signals, json.RawMessage(e.rec))
	r.SignalCount++
	if e.matched {
		r.MatchedSignalCount++
	}
	r.LastSignalAtMS = &now
	if e.close {
		r.ClosedAtMS, r.CloseReason, r.SatisfiedAtMS = &now, CloseResumed, &now
		r.ExpiresAtMS = nil
		if e.expires.Valid {
			r.ExpiresAtMS = &e.expires.Int64
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return "", false
	}
	return string(b), true
}
