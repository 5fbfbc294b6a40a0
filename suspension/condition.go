package suspension

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// ConditionKind names the variant of a resume condition.
type ConditionKind uint8

// The resume-condition variants of upstream's ResumeCondition (Single,
// OperatorOnly, TimeoutOnly) and CompositeBody (AllOf, Count).
const (
	KindSingle ConditionKind = iota + 1
	KindOperatorOnly
	KindTimeoutOnly
	KindAllOf
	KindCount
)

// CountKind says how a Count node tells satisfiers apart.
type CountKind string

// The Count kinds: distinct waitpoints, distinct signal ids, distinct
// (source_type, source_identity) pairs.
const (
	DistinctWaitpoints CountKind = "DistinctWaitpoints"
	DistinctSignals    CountKind = "DistinctSignals"
	DistinctSources    CountKind = "DistinctSources"
)

// MaxDepth caps the nesting of composite conditions (upstream's
// MAX_COMPOSITE_DEPTH).
const MaxDepth = 4

// Matcher selects the signals a condition leaf accepts: every signal
// (Wildcard) or the signals of one name (ByName).
type Matcher struct {
	Wildcard bool
	Name     string
}

// ByName matches signals named name.
func ByName(name string) *Matcher { return &Matcher{Name: name} }

// Wildcard matches every signal.
func Wildcard() *Matcher { return &Matcher{Wildcard: true} }

// Accepts reports whether the matcher accepts a signal named name.
func (m *Matcher) Accepts(name string) bool {
	return m == nil || m.Wildcard || m.Name == name
}

// Condition is a resume condition: a tree of at most MaxDepth composite
// levels. Which fields are meaningful depends on Kind:
// Single uses WaitpointKey and Matcher; AllOf uses Members; Count uses N,
// CountKind, Matcher (nil = any signal) and Waitpoints.
type Condition struct {
	Kind         ConditionKind
	WaitpointKey string
	Matcher      *Matcher
	Members      []Condition
	N            uint32
	CountKind    CountKind
	Waitpoints   []string
}

// Single waits for a signal on the waitpoint with key that m accepts.
func Single(key string, m *Matcher) Condition {
	return Condition{Kind: KindSingle, WaitpointKey: key, Matcher: m}
}

// OperatorOnly is only ever satisfied by an operator resume.
func OperatorOnly() Condition { return Condition{Kind: KindOperatorOnly} }

// TimeoutOnly is only ever resolved by the suspension's timeout.
func TimeoutOnly() Condition { return Condition{Kind: KindTimeoutOnly} }

// AllOf is satisfied once every member is.
func AllOf(members ...Condition) Condition {
	return Condition{Kind: KindAllOf, Members: append([]Condition{}, members...)}
}

// Count is satisfied once n distinct satisfiers (by kind) among the
// signals on waitpoints that m accepts (nil: any) have arrived.
func Count(n uint32, kind CountKind, m *Matcher, waitpoints ...string) Condition {
	return Condition{Kind: KindCount, N: n, CountKind: kind, Matcher: m, Waitpoints: append([]string{}, waitpoints...)}
}

// MarshalJSON renders upstream's serde shape: "OperatorOnly",
// "TimeoutOnly", {"Single":{"waitpoint_key","matcher"}},
// {"Composite":{"kind":"AllOf","members":[…]}} or
// {"Composite":{"kind":"Count","n","count_kind","matcher"?,"waitpoints"}}.
func (c Condition) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	if err := c.encode(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (c Condition) encode(buf *bytes.Buffer) error {
	switch c.Kind {
	case KindOperatorOnly:
		buf.WriteString(`"OperatorOnly"`)
	case KindTimeoutOnly:
		buf.WriteString(`"TimeoutOnly"`)
	case KindSingle:
		buf.WriteString(`{"Single":{"waitpoint_key":`)
		writeString(buf, c.WaitpointKey)
		buf.WriteString(`,"matcher":`)
		c.Matcher.encode(buf)
		buf.WriteString(`}}`)
	case KindAllOf:
		buf.WriteString(`{"Composite":{"kind":"AllOf","members":[`)
		for i, m := range c.Members {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := m.encode(buf); err != nil {
				return err
			}
		}
		buf.WriteString(`]}}`)
	case KindCount:
		buf.WriteString(`{"Composite":{"kind":"Count","n":`)
		buf.WriteString(strconv.FormatUint(uint64(c.N), 10))
		buf.WriteString(`,"count_kind":`)
		writeString(buf, string(c.CountKind))
		if c.Matcher != nil {
			buf.WriteString(`,"matcher":`)
			c.Matcher.encode(buf)
		}
		buf.WriteString(`,"waitpoints":[`)
		for i, w := range c.Waitpoints {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, w)
		}
		buf.WriteString(`]}}`)
	default:
		return shape("resume condition has no variant")
	}
	return nil
}

func (m *Matcher) encode(buf *bytes.Buffer) {
	if m == nil || m.Wildcard {
		buf.WriteString(`"Wildcard"`)
		return
	}
	buf.WriteString(`{"ByName":`)
	writeString(buf, m.Name)
	buf.WriteByte('}')
}

// MarshalJSON renders "Wildcard" or {"ByName":"<name>"}.
func (m *Matcher) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	m.encode(&buf)
	return buf.Bytes(), nil
}

func writeString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	buf.Truncate(buf.Len() - 1)
}

// ParseCondition decodes a resume condition from upstream's serde JSON.
// JSON of the wrong shape is a *ShapeError; the structural rules (depth,
// empty members, …) are Validate's job. It never panics.
func ParseCondition(data []byte) (Condition, error) {
	var c Condition
	err := c.UnmarshalJSON(data)
	return c, err
}

// UnmarshalJSON decodes upstream's serde shape (see MarshalJSON).
// Unknown fields are ignored and null optional fields are absent, as
// serde does.
func (c *Condition) UnmarshalJSON(data []byte) error {
	v, err := decodeCondition(data)
	if err != nil {
		return err
	}
	*c = v
	return nil
}

func decodeCondition(data []byte) (Condition, error) {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return Condition{}, shape("resume_condition: %v", err)
		}
		switch s {
		case "OperatorOnly":
			return OperatorOnly(), nil
		case "TimeoutOnly":
			return TimeoutOnly(), nil
		}
		return Condition{}, shape("resume_condition: unknown variant %q", s)
	}
	name, body, err := oneKey(data, "resume_condition")
	if err != nil {
		return Condition{}, err
	}
	switch name {
	case "Single":
		f, err := object(body, "Single")
		if err != nil {
			return Condition{}, err
		}
		key, err := reqString(f, "waitpoint_key")
		if err != nil {
			return Condition{}, err
		}
		raw, ok := f["matcher"]
		if !ok || isNull(raw) {
			return Condition{}, shape("Single: missing field `matcher`")
		}
		m, err := decodeMatcher(raw)
		if err != nil {
			return Condition{}, err
		}
		return Single(key, m), nil
	case "Composite":
		return decodeComposite(body)
	}
	return Condition{}, shape("resume_condition: unknown variant %q", name)
}

func decodeComposite(body json.RawMessage) (Condition, error) {
	f, err := object(body, "Composite")
	if err != nil {
		return Condition{}, err
	}
	kind, err := reqString(f, "kind")
	if err != nil {
		return Condition{}, err
	}
	switch kind {
	case "AllOf":
		raw, ok := f["members"]
		if !ok {
			return Condition{}, shape("AllOf: missing field `members`")
		}
		var items []json.RawMessage
		if isNull(raw) || json.Unmarshal(raw, &items) != nil {
			return Condition{}, shape("AllOf: `members` must be an array")
		}
		members := make([]Condition, 0, len(items))
		for _, it := range items {
			m, err := decodeCondition(it)
			if err != nil {
				return Condition{}, err
			}
			members = append(members, m)
		}
		return Condition{Kind: KindAllOf, Members: members}, nil
	case "Count":
		raw, ok := f["n"]
		var n uint32
		if !ok || isNull(raw) || json.Unmarshal(raw, &n) != nil {
			return Condition{}, shape("Count: `n` must be an integer in 0..=4294967295")
		}
		ck, err := reqString(f, "count_kind")
		if err != nil {
			return Condition{}, err
		}
		switch CountKind(ck) {
		case DistinctWaitpoints, DistinctSignals, DistinctSources:
		default:
			return Condition{}, shape("Count: unknown count_kind %q", ck)
		}
		var m *Matcher
		if raw, ok := f["matcher"]; ok && !isNull(raw) {
			if m, err = decodeMatcher(raw); err != nil {
				return Condition{}, err
			}
		}
		raw, ok = f["waitpoints"]
		if !ok {
			return Condition{}, shape("Count: missing field `waitpoints`")
		}
		var wps []json.RawMessage
		if isNull(raw) || json.Unmarshal(raw, &wps) != nil {
			return Condition{}, shape("Count: `waitpoints` must be an array of strings")
		}
		keys := make([]string, 0, len(wps))
		for _, w := range wps {
			s, err := stringValue(w)
			if err != nil {
				return Condition{}, shape("Count: `waitpoints` must be an array of strings")
			}
			keys = append(keys, s)
		}
		return Condition{Kind: KindCount, N: n, CountKind: CountKind(ck), Matcher: m, Waitpoints: keys}, nil
	}
	return Condition{}, shape("Composite: unknown kind %q", kind)
}

func decodeMatcher(data json.RawMessage) (*Matcher, error) {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		s, err := stringValue(data)
		if err == nil && s == "Wildcard" {
			return Wildcard(), nil
		}
		return nil, shape("matcher: unknown variant %s", data)
	}
	name, body, err := oneKey(data, "matcher")
	if err != nil {
		return nil, err
	}
	if name != "ByName" {
		return nil, shape("matcher: unknown variant %q", name)
	}
	s, err := stringValue(body)
	if err != nil {
		return nil, shape("ByName: expected a string")
	}
	return ByName(s), nil
}

// oneKey decodes an externally tagged enum value: an object with
// exactly one key.
func oneKey(data []byte, what string) (string, json.RawMessage, error) {
	m, err := object(data, what)
	if err != nil {
		return "", nil, err
	}
	if len(m) != 1 {
		return "", nil, shape("%s: expected an object with exactly one variant key", what)
	}
	for k, v := range m {
		return k, v, nil
	}
	return "", nil, nil
}

func object(data []byte, what string) (map[string]json.RawMessage, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, shape("%s: expected an object", what)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, shape("%s: %v", what, err)
	}
	return m, nil
}

func reqString(f map[string]json.RawMessage, key string) (string, error) {
	raw, ok := f[key]
	if !ok {
		return "", shape("missing field `%s`", key)
	}
	s, err := stringValue(raw)
	if err != nil {
		return "", shape("`%s` must be a string", key)
	}
	return s, nil
}

func stringValue(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", shape("expected a string")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", shape("expected a string")
	}
	return s, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// ValidUTF8 reports whether every string in c (waitpoint keys, signal
// names) is valid UTF-8. Only then does c's JSON text, which writes
// U+FFFD for invalid bytes, parse back to a condition that accepts
// exactly the signals c accepts.
func (c Condition) ValidUTF8() bool {
	if !utf8.ValidString(c.WaitpointKey) || (c.Matcher != nil && !utf8.ValidString(c.Matcher.Name)) {
		return false
	}
	for _, m := range c.Members {
		if !m.ValidUTF8() {
			return false
		}
	}
	for _, k := range c.Waitpoints {
		if !utf8.ValidString(k) {
			return false
		}
	}
	return true
}

// Clone returns a deep copy of c, sharing nothing with it, for a holder
// that keeps a condition beyond its caller's control (the engine's
// condition memo).
func (c Condition) Clone() Condition {
	out := c
	if c.Matcher != nil {
		m := *c.Matcher
		out.Matcher = &m
	}
	if c.Members != nil {
		out.Members = make([]Condition, len(c.Members))
		for i, m := range c.Members {
			out.Members[i] = m.Clone()
		}
	}
	if c.Waitpoints != nil {
		out.Waitpoints = append([]string(nil), c.Waitpoints...)
	}
	return out
}
