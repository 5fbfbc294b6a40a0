package backend

import (
	"database/sql"
	"testing"
)

// TestResumedFieldsMatchesSQL: the raw_fields a satisfying signal edits
// in Go (resumedFields) are, as JSON, what qResumeBySignal's own json_set
// makes of the same row, with and without a resume delay; what Go cannot
// edit is left to the SQL.
func TestResumedFieldsMatchesSQL(t *testing.T) {
	t.Parallel()
	b := gcOpen(t, Options{})
	if err := b.write(gcCtx, "setup", func(w *wtx) error {
		_, err := w.exec(`CREATE TABLE ff_exec_core (partition_key INTEGER, execution_id BLOB, lifecycle_phase TEXT,
  ownership_state TEXT, eligibility_state TEXT, blocking_reason TEXT, public_state TEXT, attempt_state TEXT, raw_fields TEXT)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	const detail = `resume delay 50ms after signal "<ok>"`
	for _, c := range []struct {
		name   string
		fields string
		until  any
		refuse bool
	}{
		{"no delay", `{"namespace":"ns","delay_until":5,"blocking_detail":"x","signal_count":0,"tags":{}}`, nil, false},
		{"no delay, nothing to remove", `{"namespace":"ns"}`, nil, false},
		{"delayed", `{"namespace":"ns","signal_count":3}`, int64(9000), false},
		{"delayed over an old delay", `{"delay_until":1,"blocking_detail":"old","signal_count":3}`, int64(9000), false},
		{"a key twice", `{"signal_count":1,"signal_count":2}`, nil, true},
		{"not an object", `[]`, nil, true},
	} {
		var viaSQL string
		err := b.write(gcCtx, "compare", func(w *wtx) error {
			if _, err := w.exec(`DELETE FROM ff_exec_core`); err != nil {
				return err
			}
			if _, err := w.exec(`INSERT INTO ff_exec_core VALUES (1, x'01', 'suspended', '', '', '', '', '', ?1)`, c.fields); err != nil {
				return err
			}
			if c.refuse {
				return nil
			}
			var bd any
			if c.until != nil {
				bd = detail
			}
			if _, err := w.exec(qResumeBySignal, 1, []byte{1}, c.until, bd, int64(7), nil); err != nil {
				return err
			}
			return w.queryRow(`SELECT raw_fields FROM ff_exec_core`).Scan(&viaSQL)
		})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		viaGo, ok := resumedFields(sql.NullString{String: c.fields, Valid: true}, c.until, detail, 7)
		if c.refuse {
			if ok {
				t.Errorf("%s: resumedFields(%s) = %s, want it left to SQL", c.name, c.fields, viaGo)
			}
			continue
		}
		if !ok {
			t.Fatalf("%s: resumedFields refused %s", c.name, c.fields)
		}
		jsonSame(t, c.name, viaSQL, viaGo)
	}
	if _, ok := resumedFields(sql.NullString{}, nil, "", 1); ok {
		t.Error("resumedFields of no fields succeeded")
	}
}

// TestResumedFieldsTextIsSQLites: a delayed resume's blocking_detail
// carries the signal's name, which nothing restricts; resumedFields must
// store the very text qResumeBySignal's json_set stores (escaping only
// what SQLite escapes, copying invalid UTF-8 as it is), not just the same
// JSON value.
func TestResumedFieldsTextIsSQLites(t *testing.T) {
	t.Parallel()
	b := gcOpen(t, Options{})
	const fields = `{"namespace":"ns","signal_count":3}`
	for _, name := range []string{"approve", "a<b&c>", "ok\xff", "tab\tquote\"", "ctl\x1b", "sep\u2028"} {
		detail := "resume delay 50ms after signal " + name
		var viaSQL string
		if err := b.write(gcCtx, "compare", func(w *wtx) error {
			return w.queryRow(`SELECT json_set(?1, '$.delay_until', 9000, '$.blocking_detail', ?2, '$.signal_count', 7)`,
				fields, detail).Scan(&viaSQL)
		}); err != nil {
			t.Fatal(err)
		}
		viaGo, ok := resumedFields(sql.NullString{String: fields, Valid: true}, int64(9000), detail, 7)
		if !ok || viaGo != viaSQL {
			t.Errorf("%q: Go %s (%v), SQL %s", name, viaGo, ok, viaSQL)
		}
	}
}
