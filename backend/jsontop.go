package backend

// jsonMember is one member of a JSON object: its key (as written, without
// escapes) and the byte span of its value in the document.
type jsonMember struct {
	key        string
	start, end int
}

// jsonTopMembers returns the members of doc, a JSON object, in document
// order, with the span of each value, so that a record can be checked and
// edited without decoding it. ok is false when doc is not valid JSON (as
// encoding/json's Valid judges it: the scan validates as it goes), not an
// object, or has a key with an escape (which a byte comparison with a
// plain key would misread).
func jsonTopMembers(doc string) (members []jsonMember, ok bool) {
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return nil, false
	}
	i = skipSpace(doc, i+1)
	if i < len(doc) && doc[i] == '}' {
		return nil, skipSpace(doc, i+1) == len(doc)
	}
	for {
		end, ok := scanString(doc, i)
		if !ok {
			return nil, false
		}
		key := doc[i+1 : end-1]
		for k := 0; k < len(key); k++ {
			if key[k] == '\\' {
				return nil, false
			}
		}
		i = skipSpace(doc, end)
		if i >= len(doc) || doc[i] != ':' {
			return nil, false
		}
		start := skipSpace(doc, i+1)
		if i, ok = scanValue(doc, start, 1); !ok {
			return nil, false
		}
		members = append(members, jsonMember{key: key, start: start, end: i})
		i = skipSpace(doc, i)
		switch {
		case i < len(doc) && doc[i] == '}':
			if skipSpace(doc, i+1) != len(doc) {
				return nil, false // data after the object
			}
			return members, true
		case i < len(doc) && doc[i] == ',':
			i = skipSpace(doc, i+1)
		default:
			return nil, false
		}
	}
}

// jsonMaxDepth is the deepest nesting the scan accepts: SQLite's
// JSON_MAX_DEPTH, so that the scan refuses (and the caller leaves to SQL,
// which then fails) exactly the documents too deep for SQLite's JSON
// functions, and a hostile document cannot exhaust the stack.
const jsonMaxDepth = 1000

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// scanValue returns the index just past the JSON value starting at s[i],
// at nesting depth depth; ok is false when none does.
func scanValue(s string, i, depth int) (int, bool) {
	if i >= len(s) {
		return i, false
	}
	switch c := s[i]; {
	case c == '"':
		return scanString(s, i)
	case c == '{' || c == '[':
		if depth >= jsonMaxDepth {
			return i, false
		}
		return scanComposite(s, i, depth)
	case c == '-' || (c >= '0' && c <= '9'):
		return scanNumber(s, i)
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(s)-i >= len(lit) && s[i:i+len(lit)] == lit {
			return i + len(lit), true
		}
	}
	return i, false
}

// scanComposite scans the object or array starting at s[i].
func scanComposite(s string, i, depth int) (int, bool) {
	object := s[i] == '{'
	closing := byte(']')
	if object {
		closing = '}'
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == closing {
		return i + 1, true
	}
	for {
		var ok bool
		if object {
			if i >= len(s) || s[i] != '"' {
				return i, false
			}
			if i, ok = scanString(s, i); !ok {
				return i, false
			}
			i = skipSpace(s, i)
			if i >= len(s) || s[i] != ':' {
				return i, false
			}
			i = skipSpace(s, i+1)
		}
		if i, ok = scanValue(s, i, depth+1); !ok {
			return i, false
		}
		i = skipSpace(s, i)
		switch {
		case i < len(s) && s[i] == closing:
			return i + 1, true
		case i < len(s) && s[i] == ',':
			i = skipSpace(s, i+1)
		default:
			return i, false
		}
	}
}

// scanString scans the string starting at s[i] (which must be a quote):
// no control characters, only JSON's escapes.
func scanString(s string, i int) (int, bool) {
	if i >= len(s) || s[i] != '"' {
		return i, false
	}
	for i++; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			i++
			if i >= len(s) {
				return i, false
			}
			switch s[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(s)-i < 5 || !isHex(s[i+1]) || !isHex(s[i+2]) || !isHex(s[i+3]) || !isHex(s[i+4]) {
					return i, false
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// scanNumber scans the number starting at s[i]: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(s string, i int) (int, bool) {
	digits := func(i int) (int, bool) {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		return j, j > i
	}
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	default:
		var ok bool
		if i, ok = digits(i); !ok {
			return i, false
		}
	}
	if i < len(s) && s[i] == '.' {
		var ok bool
		if i, ok = digits(i + 1); !ok {
			return i, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		var ok bool
		if i, ok = digits(i); !ok {
			return i, false
		}
	}
	return i, true
}

// jsonSet is one change jsonEdit makes to an object member: its value
// becomes value (JSON text), or, with remove, the member goes.
type jsonSet struct {
	key, value string
	remove     bool
}

// jsonEdit returns doc, a JSON object whose members are ms
// (jsonTopMembers), with sets applied the way SQLite's json_set and
// json_patch apply them: a member keeps its place when its value changes,
// a new member goes at the end, in sets' order. ok is false when doc has
// a key twice (where SQLite and a byte edit could disagree on which one
// counts).
func jsonEdit(doc string, ms []jsonMember, sets ...jsonSet) (string, bool) {
	if !jsonUniqueKeys(ms) {
		return "", false
	}
	out := make([]byte, 0, len(doc)+64)
	out = append(out, '{')
	done := make([]bool, len(sets))
	first := true
	member := func(key, value string) {
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, '"')
		out = append(out, key...)
		out = append(out, '"', ':')
		out = append(out, value...)
	}
	for _, m := range ms {
		value := doc[m.start:m.end]
		removed := false
		for j, s := range sets {
			if s.key == m.key {
				done[j] = true
				value, removed = s.value, s.remove
			}
		}
		if !removed {
			member(m.key, value)
		}
	}
	for j, s := range sets {
		if !done[j] && !s.remove {
			member(s.key, s.value)
		}
	}
	return string(append(out, '}')), true
}

// jsonUniqueKeys reports whether no key of ms appears twice.
func jsonUniqueKeys(ms []jsonMember) bool {
	if len(ms) > 16 { // a record ffsqlite writes has fewer; others must not cost len² compares
		seen := make(map[string]struct{}, len(ms))
		for _, m := range ms {
			if _, dup := seen[m.key]; dup {
				return false
			}
			seen[m.key] = struct{}{}
		}
		return true
	}
	for i := range ms {
		for j := i + 1; j < len(ms); j++ {
			if ms[i].key == ms[j].key {
				return false
			}
		}
	}
	return true
}

// jsonMemberOf returns the member of ms with key.
func jsonMemberOf(ms []jsonMember, key string) (jsonMember, bool) {
	for _, m := range ms {
		if m.key == key {
			return m, true
		}
	}
	return jsonMember{}, false
}

// jsonArrayAppend returns arr, a JSON array's text, with the JSON value v
// appended, after dropping its first element when it holds max or more
// (max <= 0: no limit). ok is false when arr is not an array.
func jsonArrayAppend(arr, v string, max int64) (string, bool) {
	if len(arr) < 2 || arr[0] != '[' {
		return "", false
	}
	inner := arr[1 : len(arr)-1]
	var elems []string
	for i := skipSpace(inner, 0); i < len(inner); {
		end, ok := scanValue(inner, i, 1)
		if !ok {
			return "", false
		}
		elems = append(elems, inner[i:end])
		i = skipSpace(inner, end)
		if i < len(inner) && inner[i] == ',' {
			i = skipSpace(inner, i+1)
		}
	}
	if max > 0 && int64(len(elems)) >= max {
		elems = elems[1:]
	}
	n := 2 + len(v)
	for _, e := range elems {
		n += len(e) + 1
	}
	out := make([]byte, 0, n)
	out = append(out, '[')
	for _, e := range elems {
		out = append(out, e...)
		out = append(out, ',')
	}
	out = append(out, v...)
	return string(append(out, ']')), true
}

// sqliteJSONString is s as a JSON string the way SQLite's JSON functions
// write a TEXT argument (json_set's value, json_object's): only '"', '\'
// and control characters are escaped (\b \f \n \r \t, else \u00xx);
// every other byte, '<', '>' and '&' and invalid UTF-8 included, is copied
// as it is. A Go edit that stores such a value then stores exactly the
// text the SQL edit would.
func sqliteJSONString(s string) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return string(append(b, '"'))
}
