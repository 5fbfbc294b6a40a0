package suspension

import (
	"encoding/json"
	"reflect"
	"testing"
)

// sig builds a signal on waitpoint key wp.
func sig(id, wp, name, srcType, srcID string) Signal {
	return Signal{ID: id, WaitpointKey: wp, Name: name, SourceType: srcType, SourceIdentity: srcID}
}

func TestApplyEffects(t *testing.T) {
	t.Parallel()
	type step struct {
		s      Signal
		effect string
	}
	cases := []struct {
		name  string
		c     Condition
		steps []step
	}{
		{"single by name: other name is a no_op, then the name resumes", Single("a", ByName("approve")), []step{
			{sig("1", "a", "reject", "human", "u"), EffectNoOp},
			{sig("2", "a", "approve", "human", "u"), EffectResumed},
		}},
		{"single on another key is a no_op", Single("a", Wildcard()), []step{
			{sig("1", "b", "x", "", ""), EffectNoOp},
			{sig("2", "a", "x", "", ""), EffectResumed},
		}},
		{"operator only never resumes", OperatorOnly(), []step{
			{sig("1", "a", "x", "", ""), EffectNoOp},
			{sig("2", "a", OperatorOnlySentinel, "", ""), EffectNoOp},
		}},
		{"timeout only never resumes", TimeoutOnly(), []step{
			{sig("1", "a", TimeoutOnlySentinel, "", ""), EffectNoOp},
		}},
		{"all of two waitpoints", AllOf(Single("a", Wildcard()), Single("b", ByName("ok"))), []step{
			{sig("1", "c", "x", "", ""), EffectNotInCondition},
			{sig("2", "b", "nope", "", ""), EffectMatcherFailed},
			{sig("3", "a", "x", "", ""), EffectAppended},
			{sig("4", "a", "y", "", ""), EffectDuplicate},
			{sig("5", "b", "ok", "", ""), EffectResumed},
		}},
		{"all of two matchers on one waitpoint", AllOf(Single("a", ByName("x")), Single("a", ByName("y"))), []step{
			{sig("1", "a", "x", "", ""), EffectAppended},
			{sig("2", "a", "x", "", ""), EffectDuplicate},
			{sig("3", "a", "y", "", ""), EffectResumed},
		}},
		{"count distinct waitpoints", Count(2, DistinctWaitpoints, nil, "a", "b", "c"), []step{
			{sig("1", "a", "x", "", ""), EffectAppended},
			{sig("2", "a", "y", "", ""), EffectDuplicate},
			{sig("3", "d", "y", "", ""), EffectNotInCondition},
			{sig("4", "c", "z", "", ""), EffectResumed},
		}},
		{"count distinct signals with a matcher", Count(3, DistinctSignals, ByName("vote"), "a"), []step{
			{sig("1", "a", "vote", "", ""), EffectAppended},
			{sig("1", "a", "vote", "", ""), EffectDuplicate},
			{sig("2", "a", "abstain", "", ""), EffectMatcherFailed},
			{sig("3", "a", "vote", "", ""), EffectAppended},
			{sig("4", "a", "vote", "", ""), EffectResumed},
		}},
		{"count distinct sources", Count(2, DistinctSources, nil, "a", "b"), []step{
			{sig("1", "a", "x", "human", "alice"), EffectAppended},
			{sig("2", "b", "x", "human", "alice"), EffectDuplicate},
			{sig("3", "a", "x", "bot", "alice"), EffectResumed},
		}},
		{"distinct sources do not collide on ':'", Count(2, DistinctSources, nil, "a"), []step{
			{sig("1", "a", "x", "a:b", "c"), EffectAppended},
			{sig("2", "a", "x", "a", "b:c"), EffectResumed},
		}},
		{"nested: all of (count, all of (single))", AllOf(
			Count(2, DistinctSignals, nil, "a"),
			AllOf(Single("b", ByName("done")), Single("c", Wildcard())),
		), []step{
			{sig("1", "a", "x", "", ""), EffectAppended},
			{sig("2", "b", "done", "", ""), EffectAppended},
			{sig("3", "c", "x", "", ""), EffectAppended},
			{sig("4", "a", "x", "", ""), EffectResumed},
		}},
		{"operator only member blocks an all of", AllOf(Single("a", Wildcard()), OperatorOnly()), []step{
			{sig("1", "a", "x", "", ""), EffectAppended},
			{sig("2", "a", "y", "", ""), EffectDuplicate},
		}},
		{"a signal feeding two nodes", AllOf(Single("a", Wildcard()), Count(1, DistinctWaitpoints, nil, "a")), []step{
			{sig("1", "a", "x", "", ""), EffectResumed},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st := NewState()
			var seen []Signal
			for i, s := range c.steps {
				out := Apply(c.c, st, s.s)
				seen = append(seen, s.s)
				if out.Effect != s.effect {
					t.Fatalf("step %d: effect %s, want %s", i, out.Effect, s.effect)
				}
				if want := s.effect == EffectResumed; out.Satisfied != want || Satisfied(c.c, st) != want {
					t.Fatalf("step %d: satisfied %v / %v, want %v", i, out.Satisfied, Satisfied(c.c, st), want)
				}
				contributes := s.effect == EffectResumed || s.effect == EffectAppended
				if out.Contributed != contributes {
					t.Fatalf("step %d: contributed %v, want %v", i, out.Contributed, contributes)
				}
				if got := Evaluate(c.c, seen); got != out.Satisfied {
					t.Fatalf("step %d: Evaluate = %v, Apply satisfied = %v", i, got, out.Satisfied)
				}
			}
		})
	}
}

// A saturated Count stops collecting tokens, so a flood of signals keeps
// the stored state small.
func TestApplyCountSaturates(t *testing.T) {
	t.Parallel()
	c := AllOf(Count(2, DistinctSignals, nil, "a"), Single("b", Wildcard()))
	st := NewState()
	for i := range 100 {
		out := Apply(c, st, sig(string(rune('A'+i%26))+string(rune('a'+i/26)), "a", "x", "", ""))
		if out.Satisfied {
			t.Fatal("satisfied without b")
		}
	}
	if st.Len() != 2 {
		t.Fatalf("state holds %d tokens, want 2", st.Len())
	}
	if out := Apply(c, st, sig("z", "b", "x", "", "")); out.Effect != EffectResumed {
		t.Fatalf("effect %s, want %s", out.Effect, EffectResumed)
	}
}

func TestStateJSON(t *testing.T) {
	t.Parallel()
	c := AllOf(Single("a", Wildcard()), Count(2, DistinctWaitpoints, nil, "b", "c"))
	st := NewState()
	Apply(c, st, sig("1", "b", "x", "", ""))
	Apply(c, st, sig("2", "a", "x", "", ""))
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if want := `["leaf:members[0]","wp:members[1]:b"]`; string(data) != want {
		t.Fatalf("state JSON = %s, want %s", data, want)
	}
	back := NewState()
	if err := json.Unmarshal(data, back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, st) {
		t.Fatalf("round trip = %v, want %v", back, st)
	}
	if out := Apply(c, back, sig("3", "c", "x", "", "")); !out.Satisfied {
		t.Fatal("reloaded state lost progress")
	}
	if err := json.Unmarshal([]byte(`{"a":1}`), back); err == nil {
		t.Fatal("a non-array state decoded")
	}
}

func TestEvaluateEdges(t *testing.T) {
	t.Parallel()
	if Evaluate(AllOf(), nil) {
		t.Error("an empty AllOf is satisfied")
	}
	if !Evaluate(Count(0, DistinctSignals, nil, "a"), nil) {
		t.Error("a Count of 0 is not satisfied by nothing")
	}
	if Evaluate(Single("a", Wildcard()), nil) {
		t.Error("a Single is satisfied without signals")
	}
	if Apply(AllOf(), NewState(), sig("1", "a", "x", "", "")).Effect != EffectNotInCondition {
		t.Error("an empty AllOf has candidates")
	}
}
