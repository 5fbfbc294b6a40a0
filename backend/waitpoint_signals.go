package backend

import (
	"database/sql"
	"math"
	"strconv"
)

// Recording a signal on its waitpoint. The waitpoint's record
// (ff_waitpoint_pending.condition, waitpointRecord) keeps the signals
// delivered to it and their counts. DeliverSignal edits the record its
// target read returned in Go, in place (recordSignal, jsontop.go), and
// stores it whole, which costs a fraction of editing it with SQLite's
// JSON functions; a record it cannot edit so (none, no signals array,
// counts that are not integers) is edited in SQL instead (qRecordSignal).

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
// qRecordSignal would record it: the oldest record dropped when e.maxlen
// are kept, e.rec appended, the counts and last signal time set and, when
// e closes the waitpoint, the close members set (its expiry kept in the
// record, or dropped when it has none). The record is edited in place
// (jsonEdit): members the engine does not know are kept. ok is false when
// old is missing, is not an object with a signals array, or holds counts
// that are not integers; the caller then edits it in SQL.
func recordSignal(old sql.NullString, e signalEntry, now int64) (doc string, ok bool) {
	if !old.Valid {
		return "", false
	}
	ms, ok := jsonTopMembers(old.String)
	if !ok {
		return "", false
	}
	sigs, ok := jsonMemberOf(ms, "signals")
	if !ok {
		return "", false
	}
	signals, ok := jsonArrayAppend(old.String[sigs.start:sigs.end], e.rec, e.maxlen)
	if !ok {
		return "", false
	}
	count := func(key string, add int64) (string, bool) {
		m, ok := jsonMemberOf(ms, key)
		if !ok {
			return strconv.FormatInt(add, 10), true
		}
		n, err := strconv.ParseInt(old.String[m.start:m.end], 10, 64)
		if err != nil || n > math.MaxInt64-add {
			return "", false // not an integer, or one SQLite's + would turn into a REAL: left to SQL
		}
		return strconv.FormatInt(n+add, 10), true
	}
	var matched int64
	if e.matched {
		matched = 1
	}
	signalCount, ok1 := count("signal_count", 1)
	matchedCount, ok2 := count("matched_signal_count", matched)
	if !ok1 || !ok2 {
		return "", false
	}
	at := strconv.FormatInt(now, 10)
	sets := []jsonSet{{key: "signals", value: signals}, {key: "signal_count", value: signalCount},
		{key: "matched_signal_count", value: matchedCount}, {key: "last_signal_at_ms", value: at}}
	if e.close {
		sets = append(sets, jsonSet{key: "closed_at_ms", value: at}, jsonSet{key: "close_reason", value: `"` + CloseResumed + `"`},
			jsonSet{key: "satisfied_at_ms", value: at},
			jsonSet{key: "expires_at_ms", value: strconv.FormatInt(e.expires.Int64, 10), remove: !e.expires.Valid})
	}
	return jsonEdit(old.String, ms, sets...)
}
