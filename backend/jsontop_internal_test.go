package backend

import (
	"database/sql"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzJSONTopMembers: jsonTopMembers accepts only what encoding/json
// judges valid, and every JSON object without escapes; for any JSON object
// without repeated or escaped keys, the members it finds are the
// object's, each value span decoding to the member's value, and jsonEdit
// with a set and a removal makes the object encoding/json would make.
// `go test` runs the seeds; `go test -fuzz FuzzJSONTopMembers ./backend/`
// explores.
func FuzzJSONTopMembers(f *testing.F) {
	for _, s := range []string{
		`{}`, ` { } `, `{"a":1}`, `{"a":"}","b":[1,{"c":"]"}],"d":null}`, "{ \"a\" :\n[ ] , \"b\":{\"x\":\"\\\"\"} }",
		`{"a":true,"b":false,"c":-1.5e3}`, `[]`, `{"a\u0062":1}`, `{"a":1,"a":2}`, `{"a":1} x`, `"s"`, `{"a":"\\"}`,
		`{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`, `{"a":tru}`, `{"a":[1,]}`, `{"a":{"b" 1}}`, `{"a":"\x"}`, "{\"a\":\"\x01\"}",
		`{"a":[[[[[]]]]],"b":{"c":{"d":[]}}}`, `{,}`, `{"a":1,}`, ``, `{`, `{"":1e700}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		ms, ok := jsonTopMembers(doc)
		isObject := json.Valid([]byte(doc)) && strings.HasPrefix(strings.TrimLeft(doc, " \t\r\n"), "{")
		if ok && !isObject {
			t.Fatalf("jsonTopMembers accepted %q, which is not a valid JSON object", doc)
		}
		if !ok && isObject && !strings.Contains(doc, `\`) && jsonNesting(doc) <= jsonMaxDepth {
			t.Fatalf("jsonTopMembers refused %q, a JSON object without escapes", doc)
		}
		var want map[string]any
		if !ok || !utf8.ValidString(doc) || json.Unmarshal([]byte(doc), &want) != nil {
			// Refused (not an object, or an escaped key: the callers fall
			// back to SQL); or bytes encoding/json would replace with
			// U+FFFD where the spans, like SQLite, keep them; or a number
			// too large for a float64, which only the decoding refuses.
			return
		}
		got := map[string]any{}
		for _, m := range ms {
			var v any
			if err := json.Unmarshal([]byte(doc[m.start:m.end]), &v); err != nil {
				t.Fatalf("member %q of %q: span %q: %v", m.key, doc, doc[m.start:m.end], err)
			}
			got[m.key] = v
		}
		if !jsonUniqueKeys(ms) {
			if _, ok := jsonEdit(doc, ms); ok {
				t.Fatalf("jsonEdit edited %q, which repeats a key", doc)
			}
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("members of %q = %v, want %v", doc, got, want)
		}
		edited, ok := jsonEdit(doc, ms, jsonSet{key: "new", value: `[1,"x"]`}, jsonSet{key: "a", remove: true})
		if !ok {
			t.Fatalf("jsonEdit refused %q", doc)
		}
		want["new"] = []any{1.0, "x"}
		delete(want, "a")
		var after map[string]any
		if err := json.Unmarshal([]byte(edited), &after); err != nil || !reflect.DeepEqual(after, want) {
			t.Fatalf("jsonEdit(%q) = %q (%v), want %v", doc, edited, err, want)
		}
	})
}

// TestJSONArrayAppend: the element goes at the end, the oldest goes first
// when the array is full, and anything but an array is refused.
func TestJSONArrayAppend(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		arr  string
		max  int64
		want string
		ok   bool
	}{
		{`[]`, 0, `[9]`, true},
		{`[ ]`, 2, `[9]`, true},
		{`[1,"a,]",{"b":[2]}]`, 0, `[1,"a,]",{"b":[2]},9]`, true},
		{`[1, 2]`, 2, `[2,9]`, true},
		{`[1,2]`, 3, `[1,2,9]`, true},
		{`{}`, 0, ``, false},
		{`"[]"`, 0, ``, false},
	} {
		got, ok := jsonArrayAppend(c.arr, `9`, c.max)
		if got != c.want || ok != c.ok {
			t.Errorf("jsonArrayAppend(%s, 9, %d) = %s, %v; want %s, %v", c.arr, c.max, got, ok, c.want, c.ok)
		}
	}
}

// jsonNesting is the deepest nesting of arrays and objects in doc (a
// valid JSON text): 1 for {} or [], 2 for {"a":[]}.
func jsonNesting(doc string) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(doc); i++ {
		switch c := doc[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// TestJSONTopMembersDepthIsSQLites: the scan accepts exactly the nesting
// SQLite's JSON functions accept (JSON_MAX_DEPTH, 1000), so a document
// too deep for SQLite is left to the SQL edit, which then fails, instead
// of being edited in Go.
func TestJSONTopMembersDepthIsSQLites(t *testing.T) {
	t.Parallel()
	b := gcOpen(t, Options{})
	for _, inner := range []int{998, 999, 1000, 1001} {
		doc := `{"signals":[],"x":` + strings.Repeat("[", inner) + strings.Repeat("]", inner) + `}`
		var out sql.NullString
		sqlErr := b.write(gcCtx, "depth", func(w *wtx) error {
			return w.queryRow(`SELECT json_set(?1, '$.signal_count', 1)`, doc).Scan(&out)
		})
		_, goOK := jsonTopMembers(doc)
		if goOK != (sqlErr == nil) {
			t.Errorf("nesting %d: Go accepts %v, SQLite error %v", jsonNesting(doc), goOK, sqlErr)
		}
	}
}

// TestJSONUniqueKeys: duplicates are found with few members (compared
// pairwise) and with many (a set, so a large foreign record costs no
// len² compares).
func TestJSONUniqueKeys(t *testing.T) {
	t.Parallel()
	members := func(n int, dup bool) []jsonMember {
		ms := make([]jsonMember, n)
		for i := range ms {
			ms[i].key = "k" + strconv.Itoa(i)
		}
		if dup {
			ms[n-1].key = ms[0].key
		}
		return ms
	}
	for _, n := range []int{2, 16, 17, 5000} {
		if !jsonUniqueKeys(members(n, false)) {
			t.Errorf("%d distinct keys: reported a duplicate", n)
		}
		if jsonUniqueKeys(members(n, true)) {
			t.Errorf("%d keys, the first and last the same: no duplicate reported", n)
		}
	}
}

// TestSQLiteJSONString: every byte, as json_set writes a TEXT value into a
// document: the Go edits that store such values store SQLite's text.
func TestSQLiteJSONString(t *testing.T) {
	t.Parallel()
	b := gcOpen(t, Options{})
	inputs := []string{"", "plain", `q"uote`, `back\slash`, "a<b&c>", "line\u2028sep", "é", "bad\xff", "cut\xc3", "\x7f"}
	for c := 0; c < 0x20; c++ {
		inputs = append(inputs, "c"+string(rune(c))+"c")
	}
	for _, in := range inputs {
		var want string
		if err := b.write(gcCtx, "quote", func(w *wtx) error {
			return w.queryRow(`SELECT json_set('{}', '$.v', ?1)`, in).Scan(&want)
		}); err != nil {
			t.Fatal(err)
		}
		if got := `{"v":` + sqliteJSONString(in) + `}`; got != want {
			t.Errorf("%q: Go %s, SQLite %s", in, got, want)
		}
	}
}

// FuzzJSONEditMatchesSQLite: whatever document the span scan accepts,
// SQLite's json_set accepts too, and jsonEdit stores what json_set
// stores (compared after SQLite's json() of the Go text, so that key
// order, number text, escapes and values are what is compared, not
// whitespace kept from the input).
func FuzzJSONEditMatchesSQLite(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"b":1e2,"c":-0,"d":1.0,"e":"\u0022\/"}`,
		`{"signal_count":3,"delay_until":1}`, `{"x":[1, 2], "y" : {"z" : 1}}`, "{\"a\":\"\xff\"}",
		`{"x":` + strings.Repeat("[", 999) + strings.Repeat("]", 999) + `}`} {
		f.Add(s)
	}
	b, err := Open(gcCtx, filepath.Join(f.TempDir(), "fuzz.db"), Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { b.Close(gcCtx) })
	sqlText := func(q string, args ...any) (string, error) {
		var out string
		err := b.write(gcCtx, "fuzz", func(w *wtx) error { return w.queryRow(q, args...).Scan(&out) })
		return out, err
	}
	f.Fuzz(func(t *testing.T, doc string) {
		ms, ok := jsonTopMembers(doc)
		if !ok || !jsonUniqueKeys(ms) {
			return // left to SQL
		}
		got, ok := jsonEdit(doc, ms, jsonSet{key: "delay_until", value: "5"},
			jsonSet{key: "blocking_detail", value: `"x"`}, jsonSet{key: "signal_count", value: "7"})
		if !ok {
			t.Fatalf("jsonEdit refused %q, which the scan accepted", doc)
		}
		want, err := sqlText(`SELECT json_set(?1, '$.delay_until', 5, '$.blocking_detail', 'x', '$.signal_count', 7)`, doc)
		if err != nil {
			t.Fatalf("Go edited %q, which SQLite refuses: %v", doc, err)
		}
		if norm, err := sqlText(`SELECT json(?1)`, got); err != nil || norm != want {
			t.Fatalf("doc %q:\n Go  %q (%v)\n SQL %q", doc, norm, err, want)
		}
	})
}
