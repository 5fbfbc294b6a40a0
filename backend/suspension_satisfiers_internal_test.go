package backend

import (
	"database/sql"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/ffsqlite/ffsqlite/suspension"
)

// TestAddSatisfierMatchesSQL: the suspension record addSatisfier builds in
// Go is, as JSON, the record qSuspensionProgress (a contributing signal)
// or qSatisfySuspension (the satisfying one) makes in SQL from the same
// row; any other shape is left to the SQL.
func TestAddSatisfierMatchesSQL(t *testing.T) {
	t.Parallel()
	b := gcOpen(t, Options{})
	if err := b.write(gcCtx, "setup", func(w *wtx) error {
		_, err := w.exec(`CREATE TABLE ff_suspension_current (partition_key INTEGER, execution_id BLOB,
  timeout_at_ms INTEGER, satisfied_set TEXT, member_map TEXT)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	rec := func(id string) string {
		return jsonString(signalRecord{SignalID: id, SignalName: "approve <&>", SourceType: "human", Effect: "appended"})
	}
	ptr := "s3://bucket/k"
	timeout := int64(7000)
	open := func(sats ...string) string {
		r := suspensionRecord{State: SuspensionOpen, AttemptIndex: 1, RequestedBy: "worker",
			ResumePolicy: suspension.DefaultResumePolicy(), ContinuationMetadataPointer: &ptr,
			Waitpoints: []suspensionMember{{WaitpointID: "w1", WaitpointKey: "k1"}}, TimeoutAtMS: &timeout,
			Satisfiers: []signalRecord{}}
		for _, s := range sats {
			r.Satisfiers = append(r.Satisfiers, signalRecord{SignalID: s, Effect: "appended"})
		}
		return jsonString(r)
	}
	const now = 1000
	base := `"attempt_index":0,"requested_by":"worker","resume_policy":{},"waitpoints":[]`
	for _, c := range []struct {
		name      string
		old       string
		satisfied bool
		refuse    bool
	}{
		{"first contributing signal", open(), false, false},
		{"a later one", open("a", "b"), false, false},
		{"the satisfying signal", open(), true, false},
		{"satisfying after others", open("a"), true, false},
		{"a member ffsqlite does not write", `{"state":"open",` + base + `,"satisfiers":[],"x":{"y":[1,"]"]}}`, true, false},
		{"members missing, of other types", `{"state":"open","attempt_index":"0","satisfiers":[]}`, true, false},
		{"written with spaces", "{ \"state\" : \"open\" ,\n \"satisfiers\" : [ {\"a\":1} ] }", true, false},
		{"closed", `{"state":"closed",` + base + `,"satisfiers":[]}`, true, true},
		{"no satisfiers", `{"state":"open",` + base + `}`, true, true},
		{"satisfiers not an array", `{"state":"open","satisfiers":{}}`, true, true},
		{"a key twice", `{"state":"open","satisfiers":[],"satisfiers":[]}`, true, true},
		{"an escaped key", `{"state":"open","s\u0061tisfiers":[]}`, true, true},
		{"not an object", `[]`, true, true},
		{"trailing data", `{"state":"open","satisfiers":[]} []`, true, true},
		{"not JSON", `not json`, true, true},
	} {
		r := rec("new")
		var viaSQL string
		err := b.write(gcCtx, "compare", func(w *wtx) error {
			if _, err := w.exec(`DELETE FROM ff_suspension_current`); err != nil {
				return err
			}
			if _, err := w.exec(`INSERT INTO ff_suspension_current VALUES (1, x'01', 7000, '{}', ?1)`, c.old); err != nil {
				return err
			}
			if c.refuse && !json.Valid([]byte(c.old)) {
				return nil
			}
			q, last := qSuspensionProgress, any(true)
			if c.satisfied {
				q, last = qSatisfySuspension, int64(now)
			}
			if _, err := w.exec(q, 1, []byte{1}, `{"s":1}`, r, last); err != nil {
				return err
			}
			return w.queryRow(`SELECT member_map FROM ff_suspension_current`).Scan(&viaSQL)
		})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		viaGo, ok := addSatisfier(sql.NullString{String: c.old, Valid: true}, r, c.satisfied, now)
		if c.refuse {
			if ok {
				t.Errorf("%s: addSatisfier(%s) = %s, want it left to SQL", c.name, c.old, viaGo)
			}
			continue
		}
		if !ok {
			t.Fatalf("%s: addSatisfier refused %s", c.name, c.old)
		}
		jsonSame(t, c.name, viaSQL, viaGo)
	}
	if _, ok := addSatisfier(sql.NullString{}, rec("x"), true, now); ok {
		t.Error("addSatisfier of no record succeeded")
	}
}

// jsonSame fails the test unless a and b are the same JSON value.
func jsonSame(t *testing.T, name, a, b string) {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal([]byte(a), &va); err != nil {
		t.Fatalf("%s: %v in %s", name, err, a)
	}
	if err := json.Unmarshal([]byte(b), &vb); err != nil {
		t.Fatalf("%s: %v in %s", name, err, b)
	}
	if !reflect.DeepEqual(va, vb) {
		t.Errorf("%s:\n  SQL %s\n  Go  %s", name, a, b)
	}
}

// TestResumedSignalsMatchesSQL: what a resumed claim decodes from its
// suspension's record in Go (resumedSignals) is what satisfiersOf reads in
// SQL (resumeSignals) from the same row, for satisfied, unsatisfied,
// other-attempt, foreign and missing records.
func TestResumedSignalsMatchesSQL(t *testing.T) {
	t.Parallel()
	b := gcOpen(t, Options{})
	if err := b.write(gcCtx, "setup", func(w *wtx) error {
		_, err := w.exec(`CREATE TABLE ff_suspension_current (partition_key INTEGER, execution_id BLOB, member_map TEXT)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	sat := jsonString(signalRecord{SignalID: "s1", SignalName: "approve", SourceIdentity: "alice", AcceptedAtMS: 5,
		PayloadHex: "7b7d", CorrelationID: "c"})
	sat2 := jsonString(signalRecord{SignalID: "s2", SignalName: "done"})
	deep := strings.Repeat("[", 1000) + strings.Repeat("]", 1000) // one level past SQLite's JSON depth
	// want is the number of signals observed (-1: whatever SQLite reads;
	// -2: SQLite refuses the record, and so must Go).
	for _, c := range []struct {
		name   string
		record *string
		want   int
	}{
		{"satisfied", ptrTo(`{"state":"closed","attempt_index":1,"satisfied_at_ms":9,"satisfiers":[` + sat + `,` + sat2 + `]}`), 2},
		{"closed by an operator", ptrTo(`{"state":"closed","attempt_index":1,"satisfiers":[` + sat + `]}`), 0},
		{"satisfied_at_ms null", ptrTo(`{"state":"closed","attempt_index":1,"satisfied_at_ms":null,"satisfiers":[]}`), 0},
		{"of another attempt", ptrTo(`{"state":"closed","attempt_index":0,"satisfied_at_ms":9,"satisfiers":[` + sat + `]}`), 0},
		{"no satisfiers member", ptrTo(`{"state":"closed","attempt_index":1,"satisfied_at_ms":9}`), 0},
		{"attempt index as text (foreign)", ptrTo(`{"attempt_index":"1","satisfied_at_ms":9,"satisfiers":[` + sat + `]}`), 0},
		{"no suspension row", nil, 0},
		{"written with spaces", ptrTo("{ \"attempt_index\" : 1 ,\n \"satisfied_at_ms\" : 9 , \"satisfiers\" : [ " + sat + " ] }"), 1},
		{"satisfiers null", ptrTo(`{"attempt_index":1,"satisfied_at_ms":9,"satisfiers":null}`), 0},
		{"attempt index as a float", ptrTo(`{"attempt_index":1.0,"satisfied_at_ms":9,"satisfiers":[` + sat + `]}`), 1},
		{"a key twice", ptrTo(`{"attempt_index":1,"attempt_index":0,"satisfied_at_ms":9,"satisfiers":[` + sat + `]}`), -1},
		{"not an object", ptrTo(`[]`), 0},
		{"satisfiers a string holding an array (json_extract unwraps it)",
			ptrTo(`{"attempt_index":1,"satisfied_at_ms":9,"satisfiers":` + jsonString("["+sat+"]") + `}`), 1},
		{"satisfiers the string null", ptrTo(`{"attempt_index":1,"satisfied_at_ms":9,"satisfiers":"null"}`), 0},
		{"nested past SQLite's depth", ptrTo(`{"attempt_index":1,"satisfied_at_ms":9,"satisfiers":[` + sat + `],"x":` + deep + `}`), -2},
	} {
		var viaSQL, viaGo []ResumeSignal
		var sqlErr, goErr error
		err := b.write(gcCtx, "compare", func(w *wtx) error {
			if _, err := w.exec(`DELETE FROM ff_suspension_current`); err != nil {
				return err
			}
			var rec sql.NullString
			if c.record != nil {
				rec = sql.NullString{String: *c.record, Valid: true}
				if _, err := w.exec(`INSERT INTO ff_suspension_current VALUES (1, x'01', ?1)`, *c.record); err != nil {
					return err
				}
			}
			viaSQL, sqlErr = w.resumeSignals(1, []byte{1}, 1)
			viaGo, goErr = w.resumedSignals(1, []byte{1}, 1, rec)
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if c.want == -2 {
			if sqlErr == nil || goErr == nil {
				t.Errorf("%s: SQL error %v, Go error %v; want both to refuse", c.name, sqlErr, goErr)
			}
			continue
		}
		if sqlErr != nil || goErr != nil {
			t.Fatalf("%s: SQL error %v, Go error %v", c.name, sqlErr, goErr)
		}
		if !reflect.DeepEqual(viaGo, viaSQL) || (c.want >= 0 && len(viaGo) != c.want) {
			t.Errorf("%s: Go %+v, SQL %+v, want %d signals", c.name, viaGo, viaSQL, c.want)
		}
	}
}

func ptrTo(s string) *string { return &s }
