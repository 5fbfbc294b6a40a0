package backend

import (
	"database/sql"
	"log/slog"
	"path/filepath"
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
		// SQLite's + turns the sum into a REAL past the integer range.
		{"a count at the integer limit", `{"signal_count":9223372036854775807,"signals":[]}`, signalEntry{maxlen: 10}, true},
		{"a matched count at the integer limit", `{"matched_signal_count":9223372036854775807,"signals":[]}`,
			signalEntry{maxlen: 10, matched: true}, true},
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

// FuzzRecordEditsMatchSQL: for any record the Go edits accept,
// recordSignal stores what qRecordSignal stores, and addSatisfier what
// qSatisfySuspension (closing) or qSuspensionProgress stores (texts
// compared after SQLite's json() of the Go text).
func FuzzRecordEditsMatchSQL(f *testing.F) {
	rec := jsonString(signalRecord{SignalID: "a", SignalName: "n <&>", Effect: "appended"})
	for _, s := range []string{newWaitpointRecord(0, "s-1"),
		`{"attempt_index":1,"suspension_id":"s","signal_count":2,"matched_signal_count":1,"last_signal_at_ms":5,"signals":[` + rec + `,` + rec + `]}`,
		`{"signals":[],"expires_at_ms":5,"closed_at_ms":1}`, `{"state":"open","satisfiers":[],"x":{"y":[1,"]"]}}`,
		`{"state":"open","attempt_index":1,"satisfiers":[1],"close_reason":null,"satisfied_at_ms":1e2}`,
		`{"signal_count":-0,"matched_signal_count":7,"signals":[1.0,"\u0022"]}`} {
		f.Add(s, uint8(2), true, false)
	}
	b, err := Open(gcCtx, filepath.Join(f.TempDir(), "fuzz.db"), Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { b.Close(gcCtx) })
	if err := b.write(gcCtx, "setup", func(w *wtx) error {
		if _, err := w.exec(`CREATE TABLE ff_waitpoint_pending (partition_key INTEGER, waitpoint_id BLOB, state TEXT,
  expires_at_ms INTEGER, condition TEXT)`); err != nil {
			return err
		}
		_, err := w.exec(`CREATE TABLE ff_suspension_current (partition_key INTEGER, execution_id BLOB,
  timeout_at_ms INTEGER, satisfied_set TEXT, member_map TEXT)`)
		return err
	}); err != nil {
		f.Fatal(err)
	}
	norm := func(t *testing.T, s string) string {
		var out string
		if err := b.write(gcCtx, "norm", func(w *wtx) error { return w.queryRow(`SELECT json(?1)`, s).Scan(&out) }); err != nil {
			t.Fatalf("json(%q): %v", s, err)
		}
		return out
	}
	f.Fuzz(func(t *testing.T, doc string, maxlen uint8, matched, close bool) {
		const now = 1000
		e := signalEntry{rec: rec, maxlen: int64(maxlen%5) + 1, matched: matched, close: close,
			expires: sql.NullInt64{Int64: 77, Valid: matched}}
		if got, ok := recordSignal(sql.NullString{String: doc, Valid: true}, e, now); ok {
			var want string
			err := b.write(gcCtx, "compare", func(w *wtx) error {
				if _, err := w.exec(`DELETE FROM ff_waitpoint_pending`); err != nil {
					return err
				}
				if _, err := w.exec(`INSERT INTO ff_waitpoint_pending VALUES (1, x'01', 'active', ?1, ?2)`, e.expires, doc); err != nil {
					return err
				}
				if _, err := w.exec(qRecordSignal, 1, []byte{1}, e.maxlen, e.rec, e.matched, int64(now), e.close); err != nil {
					return err
				}
				return w.queryRow(`SELECT condition FROM ff_waitpoint_pending`).Scan(&want)
			})
			if err != nil {
				t.Fatalf("recordSignal edited %q, the SQL fails: %v", doc, err)
			}
			if g := norm(t, got); g != want {
				t.Fatalf("recordSignal(%q, %+v):\n Go  %s\n SQL %s", doc, e, g, want)
			}
		}
		if got, ok := addSatisfier(sql.NullString{String: doc, Valid: true}, rec, close, now); ok {
			var want string
			err := b.write(gcCtx, "compare", func(w *wtx) error {
				if _, err := w.exec(`DELETE FROM ff_suspension_current`); err != nil {
					return err
				}
				if _, err := w.exec(`INSERT INTO ff_suspension_current VALUES (1, x'01', 7000, '{}', ?1)`, doc); err != nil {
					return err
				}
				q, last := qSuspensionProgress, any(true)
				if close {
					q, last = qSatisfySuspension, int64(now)
				}
				if _, err := w.exec(q, 1, []byte{1}, `{}`, rec, last); err != nil {
					return err
				}
				return w.queryRow(`SELECT member_map FROM ff_suspension_current`).Scan(&want)
			})
			if err != nil {
				t.Fatalf("addSatisfier edited %q, the SQL fails: %v", doc, err)
			}
			if g := norm(t, got); g != want {
				t.Fatalf("addSatisfier(%q, close %v):\n Go  %s\n SQL %s", doc, close, g, want)
			}
		}
	})
}
