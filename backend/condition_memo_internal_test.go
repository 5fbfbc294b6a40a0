package backend

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/ffsqlite/ffsqlite/suspension"
)

// TestConditionMemo: the memo answers what ParseCondition answers,
// remembers only what parsed, and never holds more than conditionMemoMax
// conditions.
func TestConditionMemo(t *testing.T) {
	t.Parallel()
	var m conditionMemo
	for _, text := range []string{
		`"OperatorOnly"`,
		`{"Single":{"waitpoint_key":"a","matcher":{"ByName":"approve"}}}`,
		`{"Composite":{"kind":"Count","n":2,"count_kind":"DistinctSources","matcher":"Wildcard","waitpoints":["a","b"]}}`,
	} {
		want, err := suspension.ParseCondition([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // a miss, then a hit
			got, err := m.parse(text)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("parse(%s) = %#v, %v; want %#v", text, got, err, want)
			}
		}
	}
	if _, err := m.parse(`{"Bogus":1}`); err == nil {
		t.Fatal("parse of a bad condition succeeded")
	}
	if _, ok := m.m[`{"Bogus":1}`]; ok || len(m.m) != 3 {
		t.Fatalf("memo holds %d conditions (a bad one: %v), want the 3 good ones", len(m.m), ok)
	}
	for i := range conditionMemoMax + 10 {
		m.remember(strconv.Itoa(i), suspension.OperatorOnly())
		if len(m.m) > conditionMemoMax {
			t.Fatalf("memo holds %d conditions, more than %d", len(m.m), conditionMemoMax)
		}
	}
}
