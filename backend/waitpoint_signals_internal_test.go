package backend

import (
	"database/sql"
	"encoding/json"
	"reflect"
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
		name string
		old  string
		e    signalEntry
	}{
		{"fresh, contributes", fresh, signalEntry{maxlen: 1000, matched: true}},
		{"fresh, no match", fresh, signalEntry{maxlen: 1000}},
		{"fresh, closes with an expiry", fresh, signalEntry{maxlen: 1000, matched: true, close: true, expires: expires}},
		{"fresh, closes without expiry", fresh, signalEntry{maxlen: 1000, matched: true, close: true}},
		{"full: the oldest goes", two, signalEntry{maxlen: 2, matched: true}},
		{"room left", two, signalEntry{maxlen: 3}},
		{"pending record without suspension", newWaitpointRecord(2, ""), signalEntry{maxlen: 1000}},
	} {
		c.e.rec = rec("new")
		var viaSQL, viaGo string
		err := b.write(gcCtx, "compare", func(w *wtx) error {
			if _, err := w.exec(`DELETE FROM ff_waitpoint_pending`); err != nil {
				return err
			}
			if _, err := w.exec(`INSERT INTO ff_waitpoint_pending VALUES (1, x'01', 'active', ?1, ?2)`, c.e.expires, c.old); err != nil {
				return err
			}
			if _, err := w.exec(qRecordSignal, 1, []byte{1}, c.e.maxlen, c.e.rec, c.e.matched, int64(now), c.e.close); err != nil {
				return err
			}
			return w.queryRow(`SELECT condition FROM ff_waitpoint_pending`).Scan(&viaSQL)
		})
		if err != nil {
			t.Fatal(err)
		}
		viaGo, ok := recordSignal(sql.NullString{String: c.old, Valid: true}, c.e, now)
		if !ok {
			t.Fatalf("%s: recordSignal refused %s", c.name, c.old)
		}
		var a, g any
		if err := json.Unmarshal([]byte(viaSQL), &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(viaGo), &g); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !reflect.DeepEqual(a, g) {
			t.Errorf("%s:\n  SQL %s\n  Go  %s", c.name, viaSQL, viaGo)
		}
	}
	for _, old := range []sql.NullString{
		{},
		{String: `{"attempt_index":0,"signals":[],"extra":1}`, Valid: true},
		{String: `{"attempt_index":0,"signal_count":1.5,"signals":[]}`, Valid: true},
		{String: `{"attempt_index":0}`, Valid: true},
		{String: `{"attempt_index":0,"signals":[]} {}`, Valid: true},
		{String: `[]`, Valid: true},
		{String: `not json`, Valid: true},
	} {
		if doc, ok := recordSignal(old, signalEntry{rec: rec("x"), maxlen: 10}, now); ok {
			t.Errorf("recordSignal(%q) = %s, want it left to SQL", old.String, doc)
		}
	}
}
