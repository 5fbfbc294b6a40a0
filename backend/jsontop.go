package backend

import "encoding/json"

// jsonMember is one member of a JSON object: its key (as written, without
// escapes) and the byte span of its value in the document.
type jsonMember struct {
	key        string
	start, end int
}

// jsonTopMembers returns the members of doc, a JSON object, in document
// order, with the span of each value, so that a record can be checked and
// edited without decoding it. ok is false when doc is not valid JSON, not
// an object, or has a key with an escape (which a byte comparison with a
// plain key would misread).
func jsonTopMembers(doc string) (members []jsonMember, ok bool) {
	if !json.Valid([]byte(doc)) {
		return nil, false
	}
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return nil, false
	}
	i = skipSpace(doc, i+1)
	if doc[i] == '}' {
		return members, true
	}
	for {
		// doc is valid, so a key string starts here and a colon follows.
		end := stringEnd(doc, i)
		key := doc[i+1 : end-1]
		for k := 0; k < len(key); k++ {
			if key[k] == '\\' {
				return nil, false
			}
		}
		i = skipSpace(doc, end)
		i = skipSpace(doc, i+1) // past ':'
		start := i
		i = valueEnd(doc, i)
		members = append(members, jsonMember{key: key, start: start, end: i})
		i = skipSpace(doc, i)
		if doc[i] == '}' {
			return members, true
		}
		i = skipSpace(doc, i+1) // past ','
	}
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string starting at s[i].
func stringEnd(s string, i int) int {
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// valueEnd returns the index just past the valid JSON value starting at
// s[i].
func valueEnd(s string, i int) int {
	switch s[i] {
	case '"':
		return stringEnd(s, i)
	case '{', '[':
		depth := 0
		for i < len(s) {
			switch s[i] {
			case '"':
				i = stringEnd(s, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(s) && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' {
		i++
	}
	return i
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
		end := valueEnd(inner, i)
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
