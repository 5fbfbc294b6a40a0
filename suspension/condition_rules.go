package suspension

import "strconv"

// Sentinel signal names upstream lists as the required names of
// operator-only and timeout-only waits; no real signal carries them.
const (
	OperatorOnlySentinel = "__operator_only__"
	TimeoutOnlySentinel  = "__timeout_only__"
)

// IsComposite reports whether c is an AllOf or Count node.
func (c Condition) IsComposite() bool { return c.Kind == KindAllOf || c.Kind == KindCount }

// childPath is the path of member i under path ("" is the root).
func childPath(path string, i int) string {
	p := "members[" + strconv.Itoa(i) + "]"
	if path == "" {
		return p
	}
	return path + "." + p
}

func pathName(path string) string {
	if path == "" {
		return "<root>"
	}
	return path
}

// ValidateComposite checks upstream's structural rules of a composite
// condition (RFC-014 §5.1), in upstream's order: depth at most MaxDepth,
// no empty AllOf, Count with n > 0, a non-empty waitpoint set and, for
// DistinctWaitpoints, n not above the set's size. Leaves need no check.
func (c Condition) ValidateComposite() error {
	if !c.IsComposite() {
		return nil
	}
	return validateNode(c, 1, "")
}

func validateNode(c Condition, depth int, path string) error {
	if depth > MaxDepth {
		return invalid("depth %d exceeds cap %d at path %s", depth, MaxDepth, pathName(path))
	}
	switch c.Kind {
	case KindAllOf:
		if len(c.Members) == 0 {
			return invalid("allof_empty_members at path %s", pathName(path))
		}
		for i, m := range c.Members {
			if m.IsComposite() {
				if err := validateNode(m, depth+1, childPath(path, i)); err != nil {
					return err
				}
			}
		}
	case KindCount:
		if c.N == 0 {
			return invalid("count_n_zero at path %s", pathName(path))
		}
		if len(c.Waitpoints) == 0 {
			return invalid("count_waitpoints_empty at path %s", pathName(path))
		}
		if c.CountKind == DistinctWaitpoints && int(c.N) > len(c.Waitpoints) {
			return invalid("count_exceeds_waitpoint_set: n=%d > waitpoints.len()=%d at path %s",
				c.N, len(c.Waitpoints), pathName(path))
		}
	}
	return nil
}

// emptyByName returns the path of the first ByName matcher with an empty
// name, and whether there is one.
func (c Condition) emptyByName(path string) (string, bool) {
	if c.Matcher != nil && !c.Matcher.Wildcard && c.Matcher.Name == "" && (c.Kind == KindSingle || c.Kind == KindCount) {
		return path, true
	}
	for i, m := range c.Members {
		if p, ok := m.emptyByName(childPath(path, i)); ok {
			return p, true
		}
	}
	return "", false
}

// ReferencedKeys lists every waitpoint key the condition targets, in
// depth-first order without repeats.
func (c Condition) ReferencedKeys() []string {
	var out []string
	seen := map[string]bool{}
	push := func(k string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	var walk func(Condition)
	walk = func(n Condition) {
		switch n.Kind {
		case KindSingle:
			push(n.WaitpointKey)
		case KindAllOf:
			for _, m := range n.Members {
				walk(m)
			}
		case KindCount:
			for _, w := range n.Waitpoints {
				push(w)
			}
		}
	}
	walk(c)
	return out
}

// RequiredSignalNames lists the signal names the condition requires on
// the waitpoint with key (route 5's required_signal_names; empty means
// any signal): ByName matchers of leaves on that key, and the sentinels
// of operator-only and timeout-only waits, without repeats.
func (c Condition) RequiredSignalNames(key string) []string {
	out := []string{}
	seen := map[string]bool{}
	push := func(n string) {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	var walk func(Condition)
	walk = func(n Condition) {
		switch n.Kind {
		case KindSingle:
			if n.WaitpointKey == key && n.Matcher != nil && !n.Matcher.Wildcard {
				push(n.Matcher.Name)
			}
		case KindOperatorOnly:
			push(OperatorOnlySentinel)
		case KindTimeoutOnly:
			push(TimeoutOnlySentinel)
		case KindAllOf:
			for _, m := range n.Members {
				walk(m)
			}
		case KindCount:
			for _, w := range n.Waitpoints {
				if w == key && n.Matcher != nil && !n.Matcher.Wildcard {
					push(n.Matcher.Name)
					break
				}
			}
		}
	}
	walk(c)
	return out
}

// Depth is the number of composite levels (0 for a leaf).
func (c Condition) Depth() int {
	if !c.IsComposite() {
		return 0
	}
	d := 0
	for _, m := range c.Members {
		d = max(d, m.Depth())
	}
	return d + 1
}
