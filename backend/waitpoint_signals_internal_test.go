package backend

import (
	"database/sql"
	"testing"
)

// TestRecordSignalMatchesSQL: the record recordSignal builds in Go is, as
// JSON, the record qRecordSignal makes in SQL from the same row, for
// every shape ffsqlite writes; any other shape is left to the SQL.
func TestRecordSignalMatchesSQL(t *testing.T) {
	t.Parallel()
	b := gcOpen(t, Options{})
	if err := b.write(gcCtx, "setup", func(w *wtx) error {
		_, err := w.exec(`CREATE TABLE ff_waitpoint_pending (partition_key INTEGER, waitpoint_id BLOB, state TEXT,
  expires_at_ms INTEGER, condition TEXT)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	rec := func(id string) string {
		return jsonString(signalRecord{SignalID: id, SignalName: "approve <&>", SourceType: "human", Effect: "appended"})
	}
	fresh := newWaitpointRecord(0, "s-1")
	two := `{"attempt_index":1,"suspension_id":"s","signal_count":2,"matched_signal_count":1,"last_signal_at_ms":5,"signals":[` +
		rec("a") + `,` + rec("b") + `]}`
	const now = 1000
	expires := sql.NullInt64{Int64: 9000, Valid: true}
	for _, c := range []struct {
		name   string
		old    string
		e      signalEntry
		refuse bool
	}{
		{"fresh, contributes", fresh, signalEntry{maxlen: 1000, matched: true}, false},
		{"fresh, no match", fresh, signalEntry{maxlen: 1000}, false},
		{"fresh, closes with an expiry", fresh, signalEntry{maxlen: 1000, matched: true, close: true, expires: expires}, false},
		{"fresh, closes without expiry", fresh, signalEntry{maxlen: 1000, matched: true, close: true}, false},
		{"full: the oldest goes", two, signalEntry{maxlen: 2, matched: true}, false},
		{"room left", two, signalEntry{maxlen: 3}, false},
		{"pending record without suspension", newWaitpointRecord(2, ""), signalEntry{maxlen: 1000}, false},
		{"closing one that kept an expiry", `{"signals":[],"expires_at_ms":5}`, signalEntry{maxlen: 10, close: true}, false},
		{"a member ffsqlite does not write", `{"attempt_index":0,"signals":[],"extra":{"a":"}"}}`, signalEntry{maxlen: 10}, false},
		{"written with spaces", "{ \"signal_count\" : 4 , \"signals\" : [ 1 , 2 ] }", signalEntry{maxlen: 2, matched: true}, false},
		{"no signals", `{"attempt_index":0}`, signalEntry{maxlen: 10}, true},
		{"signals not an array", `{"signals":{}}`, signalEntry{maxlen: 10}, true},
		{"a count not an integer", `{"signal_count":1.5,"signals":[]}`, signalEntry{maxlen: 10}, true},
		{"a count as text", `{"signal_count":"1","signals":[]}`, signalEntry{maxlen: 10}, true},
		{"a key twice", `{"signals":[],"signals":[]}`, signalEntry{maxlen: 10}, true},
		{"not an object", `[]`, signalEntry{maxlen: 10}, true},
		{"trailing data", `{"signals":[]} {}`, signalEntry{maxlen: 10}, true},
		{"not JSON", `not json`, signalEntry{maxlen: 10}, true},
	} {
		c.e.rec = rec("new")
		var viaSQL string
		err := b.write(gcCtx, "compare", func(w *wtx) error {
			if _, err := w.exec(`DELETE FROM ff_waitpoint_pending`); err != nil {
				return err
			}
			if _, err := w.exec(`INSERT INTO ff_waitpoint_pending VALUES (1, x'01', 'active', ?1, ?2)`, c.e.expires, c.old); err != nil {
				return err
			}
			if c.refuse {
				return nil
			}
			if _, err := w.exec(qRecordSignal, 1, []byte{1}, c.e.maxlen, c.e.rec, c.e.matched, int64(now), c.e.close); err != nil {
				return err
			}
			return w.queryRow(`SELECT condition FROM ff_waitpoint_pending`).Scan(&viaSQL)
		})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		viaGo, ok := recordSignal(sql.NullString{String: c.old, Valid: true}, c.e, now)
		if c.refuse {
			if ok {
				t.Errorf("%s: recordSignal(%s) = %s, want it left to SQL", c.name, c.old, viaGo)
			}
			continue
		}
		if !ok {
			t.Fatalf("%s: recordSignal refused %s", c.name, c.old)
		}
		jsonSame(t, c.name, viaSQL, viaGo)
	}
	if _, ok := recordSignal(sql.NullString{}, signalEntry{rec: rec("x"), maxlen: 10}, now); ok {
		t.Error("recordSignal of no record succeeded")
	}
}

// TestNewWaitpointRecord: the hand-written record is what encoding/json
// writes for waitpointRecord.
func TestNewWaitpointRecord(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		idx  int64
		susp string
	}{{0, ""}, {3, "6f1c3a52-1d1e-4c55-9a7e-2b1f0c9d8e7a"}, {1 << 40, "x"}} {
		want := jsonString(waitpointRecord{AttemptIndex: c.idx, SuspensionID: c.susp, Signals: []signalRecord{}})
		if got := newWaitpointRecord(c.idx, c.susp); got != want {
			t.Errorf("newWaitpointRecord(%d, %q) = %s, want %s", c.idx, c.susp, got, want)
		}
	}
}
