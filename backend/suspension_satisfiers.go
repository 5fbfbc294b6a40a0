package backend

import (
	"database/sql"
	"strconv"
)

// Recording a signal's progress on its suspension. Like a waitpoint's
// record (waitpoint_signals.go), the suspension's record
// (ff_suspension_current.member_map, suspensionRecord) is edited in Go, in
// place, from the text the signal's target read returned and stored
// whole; a record without a satisfiers array is edited in SQL instead
// (qSuspensionProgress, qSatisfySuspension).

// qStoreSuspensionRecord stores the evaluator state ?3 and a suspension
// record built by addSatisfier; with ?5 (satisfied) it also clears the
// timeout column (its index holds open timeouts only).
var qStoreSuspensionRecord = hotStmt(`UPDATE ff_suspension_current SET satisfied_set = ?3, member_map = ?4,
  timeout_at_ms = CASE WHEN ?5 THEN NULL ELSE timeout_at_ms END
WHERE partition_key = ?1 AND execution_id = ?2`)

// addSatisfier returns old, the record of an open suspension, with rec
// appended to its satisfiers and, when satisfied, closed (resumed,
// satisfied now), as qSuspensionProgress and qSatisfySuspension would
// make it, edited in place (jsonEdit). ok is false when old is missing,
// is not an open suspension's record or has no satisfiers array.
func addSatisfier(old sql.NullString, rec string, satisfied bool, now int64) (doc string, ok bool) {
	if !old.Valid {
		return "", false
	}
	ms, ok := jsonTopMembers(old.String)
	if !ok {
		return "", false
	}
	sats, ok := jsonMemberOf(ms, "satisfiers")
	if st, open := jsonMemberOf(ms, "state"); !ok || !open || old.String[st.start:st.end] != `"`+SuspensionOpen+`"` {
		return "", false
	}
	satisfiers, ok := jsonArrayAppend(old.String[sats.start:sats.end], rec, 0)
	if !ok {
		return "", false
	}
	sets := []jsonSet{{key: "satisfiers", value: satisfiers}}
	if satisfied {
		at := strconv.FormatInt(now, 10)
		sets = append(sets, jsonSet{key: "state", value: `"` + SuspensionClosed + `"`}, jsonSet{key: "closed_at_ms", value: at},
			jsonSet{key: "close_reason", value: `"` + CloseResumed + `"`}, jsonSet{key: "satisfied_at_ms", value: at})
	}
	return jsonEdit(old.String, ms, sets...)
}
