package backend

import (
	"encoding/json"
	"reflect"
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
		if !ok && isObject && !strings.Contains(doc, `\`) {
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
