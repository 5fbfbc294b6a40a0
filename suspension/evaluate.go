package suspension

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// Effects a delivered signal can have (upstream's `effect` values).
const (
	EffectResumed        = "resume_condition_satisfied"
	EffectNoOp           = "no_op"
	EffectAppended       = "appended_to_waitpoint"
	EffectDuplicate      = "appended_to_waitpoint_duplicate"
	EffectNotInCondition = "signal_ignored_not_in_condition"
	EffectMatcherFailed  = "signal_ignored_matcher_failed"
	// EffectBuffered is the effect of a signal delivered to a pending
	// waitpoint: kept for a later suspend that binds the waitpoint.
	EffectBuffered = "buffered_for_pending_waitpoint"
)

// Signal is what the evaluator needs of a delivered signal.
type Signal struct {
	ID             string
	Name           string
	SourceType     string
	SourceIdentity string
	// WaitpointKey is the key of the waitpoint the signal was delivered to.
	WaitpointKey string
}

// State is the evaluator's memory of one suspension: the satisfier
// tokens its signals produced so far (upstream's satisfied_set, scoped by
// node path). The engine stores it as the JSON array MarshalJSON writes.
type State struct {
	tokens map[string]bool
}

// NewState returns an empty state.
func NewState() *State { return &State{tokens: map[string]bool{}} }

// Len is the number of tokens.
func (s *State) Len() int { return len(s.tokens) }

// MarshalJSON renders the tokens as a sorted JSON array.
func (s *State) MarshalJSON() ([]byte, error) {
	out := make([]string, 0, len(s.tokens))
	for t := range s.tokens {
		out = append(out, t)
	}
	slices.Sort(out)
	return json.Marshal(out)
}

// UnmarshalJSON reads a JSON array of tokens.
func (s *State) UnmarshalJSON(data []byte) error {
	var toks []string
	if err := json.Unmarshal(data, &toks); err != nil {
		return shape("satisfied_set: %v", err)
	}
	s.tokens = make(map[string]bool, len(toks))
	for _, t := range toks {
		s.tokens[t] = true
	}
	return nil
}

// Outcome is what one signal did to a suspension.
type Outcome struct {
	// Effect is one of the Effect constants.
	Effect string
	// Contributed is true when the signal added a satisfier: it is one of
	// the signals the resumed worker observes.
	Contributed bool
	// Satisfied is true when the condition is now satisfied.
	Satisfied bool
}

// Apply records sig against condition c in st and reports its effect
// (upstream's order: a plain Single either resumes or is a no_op;
// composites report not-in-condition, matcher-failed, duplicate,
// appended or satisfied). Count nodes stop collecting tokens once they
// have n, so the state stays bounded.
func Apply(c Condition, st *State, sig Signal) Outcome {
	if st.tokens == nil {
		st.tokens = map[string]bool{}
	}
	switch c.Kind {
	case KindSingle:
		if sig.WaitpointKey == c.WaitpointKey && c.Matcher.Accepts(sig.Name) {
			st.tokens[leafToken("")] = true
			return Outcome{Effect: EffectResumed, Contributed: true, Satisfied: true}
		}
		return Outcome{Effect: EffectNoOp}
	case KindOperatorOnly, KindTimeoutOnly:
		return Outcome{Effect: EffectNoOp}
	}
	candidates, accepted, added := 0, 0, false
	var walk func(n Condition, path string)
	walk = func(n Condition, path string) {
		switch n.Kind {
		case KindSingle:
			if n.WaitpointKey != sig.WaitpointKey {
				return
			}
			candidates++
			if !n.Matcher.Accepts(sig.Name) {
				return
			}
			accepted++
			if t := leafToken(path); !st.tokens[t] {
				st.tokens[t] = true
				added = true
			}
		case KindCount:
			if !slices.Contains(n.Waitpoints, sig.WaitpointKey) {
				return
			}
			candidates++
			if !n.Matcher.Accepts(sig.Name) {
				return
			}
			accepted++
			t := countToken(n.CountKind, path, sig)
			if st.tokens[t] {
				return
			}
			added = true
			if st.countOf(n.CountKind, path) < uint64(n.N) {
				st.tokens[t] = true
			}
		case KindAllOf:
			for i, m := range n.Members {
				walk(m, childPath(path, i))
			}
		}
	}
	walk(c, "")
	switch {
	case candidates == 0:
		return Outcome{Effect: EffectNotInCondition}
	case accepted == 0:
		return Outcome{Effect: EffectMatcherFailed}
	case !added:
		return Outcome{Effect: EffectDuplicate}
	case st.satisfied(c, ""):
		return Outcome{Effect: EffectResumed, Contributed: true, Satisfied: true}
	}
	return Outcome{Effect: EffectAppended, Contributed: true}
}

// Satisfied reports whether the tokens in st satisfy c.
func Satisfied(c Condition, st *State) bool { return st.satisfied(c, "") }

func (s *State) satisfied(n Condition, path string) bool {
	switch n.Kind {
	case KindSingle:
		return s.tokens[leafToken(path)]
	case KindAllOf:
		if len(n.Members) == 0 {
			return false
		}
		for i, m := range n.Members {
			if !s.satisfied(m, childPath(path, i)) {
				return false
			}
		}
		return true
	case KindCount:
		return s.countOf(n.CountKind, path) >= uint64(n.N)
	}
	return false
}

func (s *State) countOf(kind CountKind, path string) uint64 {
	prefix := countPrefix(kind, path)
	var n uint64
	for t := range s.tokens {
		if strings.HasPrefix(t, prefix) {
			n++
		}
	}
	return n
}

// Node paths hold no ':', so a token's prefix names its node exactly.
func leafToken(path string) string { return "leaf:" + path }

func countPrefix(kind CountKind, path string) string {
	switch kind {
	case DistinctSignals:
		return "sig:" + path + ":"
	case DistinctSources:
		return "src:" + path + ":"
	}
	return "wp:" + path + ":"
}

func countToken(kind CountKind, path string, sig Signal) string {
	switch kind {
	case DistinctSignals:
		return countPrefix(kind, path) + sig.ID
	case DistinctSources:
		// Length-prefixed so that a ':' inside source_type cannot make two
		// sources collide.
		return countPrefix(kind, path) + strconv.Itoa(len(sig.SourceType)) + ":" + sig.SourceType + ":" + sig.SourceIdentity
	}
	return countPrefix(kind, path) + sig.WaitpointKey
}

// Evaluate re-evaluates c over every signal delivered so far, grouped by
// waitpoint key (upstream's portable SQLite/Postgres evaluator). Apply
// agrees with it after every signal; tests and the fuzzer check that.
func Evaluate(c Condition, signals []Signal) bool {
	switch c.Kind {
	case KindSingle:
		for _, s := range signals {
			if s.WaitpointKey == c.WaitpointKey && c.Matcher.Accepts(s.Name) {
				return true
			}
		}
		return false
	case KindAllOf:
		if len(c.Members) == 0 {
			return false
		}
		for _, m := range c.Members {
			if !Evaluate(m, signals) {
				return false
			}
		}
		return true
	case KindCount:
		seen := map[string]bool{}
		for _, s := range signals {
			if !slices.Contains(c.Waitpoints, s.WaitpointKey) || !c.Matcher.Accepts(s.Name) {
				continue
			}
			seen[countToken(c.CountKind, "", s)] = true
		}
		return uint64(len(seen)) >= uint64(c.N)
	}
	return false
}
