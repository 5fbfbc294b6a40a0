package backend

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"io"
)

// Recording a signal's progress on its suspension. Like a waitpoint's
// record (waitpoint_signals.go), the suspension's record
// (ff_suspension_current.member_map, suspensionRecord) is rebuilt in Go
// from the text the signal's target read returned and stored whole;
// a record not exactly of ffsqlite's shape is edited in SQL instead
// (qSuspensionProgress, qSatisfySuspension).

// suspensionRecordRaw is suspensionRecord with its resume policy and
// satisfiers kept as the JSON they are stored as.
type suspensionRecordRaw struct {
	State                       string             `json:"state"`
	AttemptIndex                int64              `json:"attempt_index"`
	RequestedBy                 string             `json:"requested_by"`
	ResumePolicy                json.RawMessage    `json:"resume_policy"`
	ContinuationMetadataPointer *string            `json:"continuation_metadata_pointer,omitempty"`
	Waitpoints                  []suspensionMember `json:"waitpoints"`
	TimeoutAtMS                 *int64             `json:"timeout_at_ms,omitempty"`
	ClosedAtMS                  *int64             `json:"closed_at_ms,omitempty"`
	CloseReason                 string             `json:"close_reason,omitempty"`
	SatisfiedAtMS               *int64             `json:"satisfied_at_ms,omitempty"`
	Satisfiers                  []json.RawMessage  `json:"satisfiers"`
}

// qStoreSuspensionRecord stores the evaluator state ?3 and a suspension
// record built by addSatisfier; with ?5 (satisfied) it also clears the
// timeout column (its index holds open timeouts only).
var qStoreSuspensionRecord = hotStmt(`UPDATE ff_suspension_current SET satisfied_set = ?3, member_map = ?4,
  timeout_at_ms = CASE WHEN ?5 THEN NULL ELSE timeout_at_ms END
WHERE partition_key = ?1 AND execution_id = ?2`)

// addSatisfier returns old, the record of an open suspension, with rec
// appended to its satisfiers and, when satisfied, closed (resumed,
// satisfied now), as qSuspensionProgress and qSatisfySuspension would
// make it. ok is false when old is not exactly an open suspensionRecord.
func addSatisfier(old sql.NullString, rec string, satisfied bool, now int64) (doc string, ok bool) {
	if !old.Valid {
		return "", false
	}
	var r suspensionRecordRaw
	d := json.NewDecoder(bytes.NewReader([]byte(old.String)))
	d.DisallowUnknownFields()
	if d.Decode(&r) != nil || d.Decode(&struct{}{}) != io.EOF || r.State != SuspensionOpen || r.Satisfiers == nil ||
		len(r.ResumePolicy) == 0 || r.Waitpoints == nil {
		return "", false
	}
	r.Satisfiers = append(r.Satisfiers, json.RawMessage(rec))
	if satisfied {
		r.State, r.ClosedAtMS, r.CloseReason, r.SatisfiedAtMS = SuspensionClosed, &now, CloseResumed, &now
	}
	b, err := json.Marshal(r)
	if err != nil {
		return "", false
	}
	return string(b), true
}
