package server

import (
	"net/http"
	"strings"
	"testing"
)

// TestBodyShape: what serde_json refuses and encoding/json takes, and
// what both take.
func TestBodyShape(t *testing.T) {
	t.Parallel()
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	for _, c := range []struct {
		name, body string
		want       int
	}{
		{"plain", `{"a":1,"b":[true,null,"x"],"c":{"d":-1.5e3}}`, 0},
		{"128 deep", `{"a":` + nest(127) + `}`, 0},
		{"129 deep", `{"a":` + nest(128) + `}`, http.StatusBadRequest},
		{"a repeated key", `{"a":1,"b":2,"a":3}`, http.StatusUnprocessableEntity},
		{"a repeated key, escaped", `{"a":1,"\u0061":2}`, http.StatusUnprocessableEntity},
		{"a repeated key in a nested object", `{"p":{"q":1,"q":2}}`, http.StatusUnprocessableEntity},
		{"the same key in two objects", `[{"a":1},{"a":2}]`, 0},
		{"keys that differ in case", `{"a":1,"A":2}`, 0},
		{"quotes and braces inside strings", `{"a":"}\"{","b":"\\"}`, 0},
		{"a lone high surrogate", `{"a":"\ud800"}`, http.StatusBadRequest},
		{"a lone low surrogate", `{"a":"x\udc00y"}`, http.StatusBadRequest},
		{"a high surrogate before another escape", `{"a":"\ud800\n"}`, http.StatusBadRequest},
		{"two high surrogates", `{"a":"\ud800\ud800"}`, http.StatusBadRequest},
		{"a surrogate pair", `{"a":"\ud83d\ude00"}`, 0},
		{"a lone surrogate in a key", `{"\udfff":1}`, http.StatusBadRequest},
		{"the first problem decides", `{"a":1,"a":"\ud800"}`, http.StatusUnprocessableEntity},
		{"not JSON", `{"a":`, 0},
		{"empty", ``, 0},
	} {
		if got, _ := bodyShape([]byte(c.body)); got != c.want {
			t.Errorf("%s: bodyShape(%s) = %d, want %d", c.name, c.body, got, c.want)
		}
	}
}

// FuzzBodyShape: any input ends the walk, without a panic, with one of
// its three answers.
func FuzzBodyShape(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,{"b":"\u00e9"}]}`, `{"a":1,"a":2}`, `"\ud800"`, `[[[`, `{"a`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, _ := bodyShape(b)
		if got != 0 && got != http.StatusBadRequest && got != http.StatusUnprocessableEntity {
			t.Fatalf("bodyShape(%q) = %d", b, got)
		}
	})
}

// TestBodyShapeFoldable: only a key with an upper-case ASCII letter or a
// non-ASCII byte can case-fold to a field name.
func TestBodyShapeFoldable(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]bool{
		`{"lane_id":"X","tags":{"a":"B"}}`: false,
		`{"LANE_ID":"x"}`:                  true,
		`{"p":{"Lane":1}}`:                 true,
		`{"\u212aey":1}`:                   true, // the Kelvin sign, which encoding/json folds to k
		`["A",{"b":"C"}]`:                  false,
	} {
		if _, got := bodyShape([]byte(body)); got != want {
			t.Errorf("bodyShape(%s) foldable = %v, want %v", body, got, want)
		}
	}
}
