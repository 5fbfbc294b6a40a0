package suspension

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestConditionCodecRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		c    Condition
		json string
	}{
		{"operator only", OperatorOnly(), `"OperatorOnly"`},
		{"timeout only", TimeoutOnly(), `"TimeoutOnly"`},
		{"single by name", Single("wpk:a", ByName("approve")),
			`{"Single":{"waitpoint_key":"wpk:a","matcher":{"ByName":"approve"}}}`},
		{"single wildcard", Single("wpk:a", Wildcard()), `{"Single":{"waitpoint_key":"wpk:a","matcher":"Wildcard"}}`},
		{"all of", AllOf(Single("a", Wildcard()), OperatorOnly()),
			`{"Composite":{"kind":"AllOf","members":[{"Single":{"waitpoint_key":"a","matcher":"Wildcard"}},"OperatorOnly"]}}`},
		{"count without matcher", Count(2, DistinctWaitpoints, nil, "a", "b"),
			`{"Composite":{"kind":"Count","n":2,"count_kind":"DistinctWaitpoints","waitpoints":["a","b"]}}`},
		{"count with matcher", Count(3, DistinctSources, ByName("vote"), "a"),
			`{"Composite":{"kind":"Count","n":3,"count_kind":"DistinctSources","matcher":{"ByName":"vote"},"waitpoints":["a"]}}`},
		{"nested", AllOf(Count(1, DistinctSignals, Wildcard(), "a"), AllOf(Single("b", ByName("x")))),
			`{"Composite":{"kind":"AllOf","members":[{"Composite":{"kind":"Count","n":1,"count_kind":"DistinctSignals","matcher":"Wildcard","waitpoints":["a"]}},{"Composite":{"kind":"AllOf","members":[{"Single":{"waitpoint_key":"b","matcher":{"ByName":"x"}}}]}}]}}`},
		{"html and unicode kept", Single("<k&é>", ByName("\"q\"")),
			`{"Single":{"waitpoint_key":"<k&é>","matcher":{"ByName":"\"q\""}}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.c.MarshalJSON()
			if err != nil || string(got) != c.json {
				t.Fatalf("MarshalJSON = %s, %v; want %s", got, err, c.json)
			}
			back, err := ParseCondition([]byte(c.json))
			if err != nil {
				t.Fatalf("ParseCondition: %v", err)
			}
			if !reflect.DeepEqual(back, c.c) {
				t.Fatalf("round trip = %#v, want %#v", back, c.c)
			}
			if clone := c.c.Clone(); !reflect.DeepEqual(clone, c.c) {
				t.Fatalf("Clone = %#v, want %#v", clone, c.c)
			}
		})
	}
}

// TestConditionCloneSharesNothing: changing a clone's matcher, members or
// waitpoints leaves the original as it was (the engine's condition memo
// keeps clones of its callers' conditions).
func TestConditionCloneSharesNothing(t *testing.T) {
	t.Parallel()
	orig := AllOf(Single("a", ByName("x")), Count(2, DistinctSignals, ByName("v"), "b", "c"))
	want, _ := orig.MarshalJSON()
	clone := orig.Clone()
	clone.Members[0].Matcher.Name = "changed"
	clone.Members[1].Matcher.Wildcard = true
	clone.Members[1].Waitpoints[0] = "changed"
	clone.Members[0] = OperatorOnly()
	if got, _ := orig.MarshalJSON(); string(got) != string(want) {
		t.Fatalf("original after changing its clone = %s, want %s", got, want)
	}
}

func TestParseConditionAccepts(t *testing.T) {
	t.Parallel()
	// What serde accepts beyond the canonical form: unknown fields, a null
	// optional matcher, whitespace.
	cases := map[string]Condition{
		` {"Single":{"matcher":"Wildcard","waitpoint_key":"k","extra":[1]}} `:                                Single("k", Wildcard()),
		`{"Composite":{"n":1,"kind":"Count","count_kind":"DistinctSignals","matcher":null,"waitpoints":[]}}`: Count(1, DistinctSignals, nil),
		`{"Composite":{"kind":"AllOf","members":[]}}`:                                                        AllOf(),
	}
	for in, want := range cases {
		got, err := ParseCondition([]byte(in))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseCondition(%s) = %#v, %v; want %#v", in, got, err, want)
		}
	}
}

func TestParseConditionRejectsShape(t *testing.T) {
	t.Parallel()
	cases := []string{
		``, `null`, `1`, `[]`, `"Single"`, `"operatoronly"`, `{}`,
		`{"Single":{"waitpoint_key":"k","matcher":"Wildcard"},"TimeoutOnly":null}`,
		`{"Single":{"matcher":"Wildcard"}}`,
		`{"Single":{"waitpoint_key":null,"matcher":"Wildcard"}}`,
		`{"Single":{"waitpoint_key":7,"matcher":"Wildcard"}}`,
		`{"Single":{"waitpoint_key":"k"}}`,
		`{"Single":{"waitpoint_key":"k","matcher":null}}`,
		`{"Single":{"waitpoint_key":"k","matcher":"wildcard"}}`,
		`{"Single":{"waitpoint_key":"k","matcher":{"ByName":3}}}`,
		`{"Single":{"waitpoint_key":"k","matcher":{"ByPattern":"x"}}}`,
		`{"Single":{"waitpoint_key":"k","matcher":{"ByName":"x","Wildcard":null}}}`,
		`{"Single":"k"}`,
		`{"Composite":{"members":[]}}`,
		`{"Composite":{"kind":"AnyOf","members":[]}}`,
		`{"Composite":{"kind":"AllOf"}}`,
		`{"Composite":{"kind":"AllOf","members":null}}`,
		`{"Composite":{"kind":"AllOf","members":[{"Bogus":{}}]}}`,
		`{"Composite":{"kind":"Count","count_kind":"DistinctSignals","waitpoints":[]}}`,
		`{"Composite":{"kind":"Count","n":-1,"count_kind":"DistinctSignals","waitpoints":[]}}`,
		`{"Composite":{"kind":"Count","n":1.5,"count_kind":"DistinctSignals","waitpoints":[]}}`,
		`{"Composite":{"kind":"Count","n":4294967296,"count_kind":"DistinctSignals","waitpoints":[]}}`,
		`{"Composite":{"kind":"Count","n":1,"count_kind":"Distinct","waitpoints":[]}}`,
		`{"Composite":{"kind":"Count","n":1,"count_kind":"DistinctSignals"}}`,
		`{"Composite":{"kind":"Count","n":1,"count_kind":"DistinctSignals","waitpoints":[1]}}`,
		`{"Composite":{"kind":"Count","n":1,"count_kind":"DistinctSignals","waitpoints":"a"}}`,
		`{"Single":{"waitpoint_key":"k","matcher":"Wildcard"}`,
	}
	for _, in := range cases {
		_, err := ParseCondition([]byte(in))
		var se *ShapeError
		if !errors.As(err, &se) {
			t.Errorf("ParseCondition(%s) = %v, want a *ShapeError", in, err)
		}
	}
}

func TestValidateComposite(t *testing.T) {
	t.Parallel()
	deep := Single("a", Wildcard())
	for range 5 {
		deep = AllOf(deep)
	}
	cases := []struct {
		name string
		c    Condition
		want string // "" = valid
	}{
		{"leaf", Single("a", Wildcard()), ""},
		{"operator only", OperatorOnly(), ""},
		{"empty all of at root", AllOf(), "allof_empty_members at path <root>"},
		{"empty nested all of", AllOf(Single("a", Wildcard()), AllOf()), "allof_empty_members at path members[1]"},
		{"count n zero", Count(0, DistinctSignals, nil, "a"), "count_n_zero at path <root>"},
		{"count waitpoints empty", Count(1, DistinctSignals, nil), "count_waitpoints_empty at path <root>"},
		{"count exceeds waitpoint set", Count(3, DistinctWaitpoints, nil, "a", "b"),
			"count_exceeds_waitpoint_set: n=3 > waitpoints.len()=2 at path <root>"},
		{"distinct signals may exceed", Count(3, DistinctSignals, nil, "a"), ""},
		{"nested count", AllOf(Single("a", Wildcard()), AllOf(Count(0, DistinctSources, nil, "a"))),
			"count_n_zero at path members[1].members[0]"},
		{"depth four is allowed", AllOf(AllOf(AllOf(AllOf(Single("a", Wildcard()))))), ""},
		{"depth five", AllOf(AllOf(AllOf(AllOf(AllOf(Single("a", Wildcard())))))),
			"depth 5 exceeds cap 4 at path members[0].members[0].members[0].members[0]"},
		{"depth six stops at five", deep, "depth 5 exceeds cap 4 at path members[0].members[0].members[0].members[0]"},
		{"count at depth five", AllOf(AllOf(AllOf(AllOf(Count(1, DistinctSignals, nil, "a"))))),
			"depth 5 exceeds cap 4 at path members[0].members[0].members[0].members[0]"},
	}
	for _, c := range cases {
		err := c.c.ValidateComposite()
		got := ""
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("%s: error %T is not a *ValidationError", c.name, err)
			}
			got = ve.Detail
		}
		if got != c.want {
			t.Errorf("%s: ValidateComposite = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestReferencedKeysAndRequiredNames(t *testing.T) {
	t.Parallel()
	c := AllOf(
		Single("a", ByName("approve")),
		Count(2, DistinctSources, ByName("vote"), "b", "a"),
		Single("a", ByName("approve")),
		Single("c", Wildcard()),
		OperatorOnly(),
	)
	if got, want := c.ReferencedKeys(), []string{"a", "b", "c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ReferencedKeys = %v, want %v", got, want)
	}
	for key, want := range map[string][]string{
		"a": {"approve", "vote", OperatorOnlySentinel},
		"b": {"vote", OperatorOnlySentinel},
		"c": {OperatorOnlySentinel},
		"z": {OperatorOnlySentinel},
	} {
		if got := c.RequiredSignalNames(key); !reflect.DeepEqual(got, want) {
			t.Errorf("RequiredSignalNames(%q) = %v, want %v", key, got, want)
		}
	}
	if got := Single("a", Wildcard()).RequiredSignalNames("a"); len(got) != 0 || got == nil {
		t.Errorf("wildcard RequiredSignalNames = %#v, want an empty list", got)
	}
	if got := TimeoutOnly().RequiredSignalNames("a"); !reflect.DeepEqual(got, []string{TimeoutOnlySentinel}) {
		t.Errorf("timeout-only RequiredSignalNames = %v", got)
	}
	if d := AllOf(AllOf(Single("a", Wildcard())), Count(1, DistinctSignals, nil, "a")).Depth(); d != 2 {
		t.Errorf("Depth = %d, want 2", d)
	}
}

func TestShapeAndValidationErrorText(t *testing.T) {
	t.Parallel()
	if got := invalid("waitpoints_empty").Error(); got != "invalid_input: waitpoints_empty" {
		t.Errorf("ValidationError = %q", got)
	}
	_, err := ParseCondition([]byte(`"Nope"`))
	if err == nil || !strings.HasPrefix(err.Error(), "invalid JSON shape: ") {
		t.Errorf("ShapeError = %v", err)
	}
}

// TestConditionValidUTF8 looks into every string a condition holds.
func TestConditionValidUTF8(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		c    Condition
		want bool
	}{
		{"single", Single("k", ByName("approve")), true},
		{"wildcard", Single("k", Wildcard()), true},
		{"operator only", OperatorOnly(), true},
		{"bad key", Single("k\xff", ByName("approve")), false},
		{"bad name", Single("k", ByName("go\xff")), false},
		{"bad member", AllOf(Single("a", ByName("x")), Single("b", ByName("\xc3"))), false},
		{"bad count waitpoint", Count(1, DistinctWaitpoints, nil, "a", "b\xfe"), false},
		{"good composite", AllOf(Single("a", ByName("é")), Count(1, DistinctSignals, nil, "a")), true},
	} {
		if got := c.c.ValidUTF8(); got != c.want {
			t.Errorf("%s: ValidUTF8 = %v, want %v", c.name, got, c.want)
		}
	}
}
