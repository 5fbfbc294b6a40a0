package server

import (
	"net/http"
	"unicode/utf16"
	"unicode/utf8"
)

// maxBodyDepth is serde_json's recursion limit: ff-server refuses a body
// nested deeper as a syntax error.
const maxBodyDepth = 128

// bodyShape returns the status ff-server answers for a JSON text that
// encoding/json would take but serde_json refuses: 400 for nesting
// deeper than maxBodyDepth or an escape that is a lone UTF-16 surrogate
// (syntax errors), 422 for a key repeated in one object; the first such
// problem in the text decides. It returns 0 when there is none, and also
// for text that is not JSON, which json.Unmarshal then reports. Without
// it a body nested past SQLite's JSON depth was stored and broke later
// statements, and a policy with a repeated key was read one way by Go
// and another by SQLite.
//
// foldable reports whether some key has an upper-case ASCII letter or a
// non-ASCII byte: only such a key can match a field's (lower-case) name
// the way encoding/json matches, ignoring case, so only then is there
// anything for dropCaseVariants to do.
func bodyShape(data []byte) (status int, foldable bool) {
	p := shapeScanner{s: data}
	p.value(0)
	return p.status, p.foldable
}

// shapeScanner walks a JSON text once; status is set at the first
// problem (or left 0 at a syntax error, which ends the walk too).
type shapeScanner struct {
	s        []byte
	i        int
	status   int
	bad      bool // a syntax error: leave it to json.Unmarshal
	foldable bool // a key with an upper-case ASCII letter or a non-ASCII byte
}

func (p *shapeScanner) stop() bool { return p.status != 0 || p.bad }

func (p *shapeScanner) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *shapeScanner) value(depth int) {
	p.space()
	if p.i >= len(p.s) {
		p.bad = true
		return
	}
	switch c := p.s[p.i]; c {
	case '{', '[':
		if depth >= maxBodyDepth {
			p.status = http.StatusBadRequest
			return
		}
		p.i++
		if c == '{' {
			p.object(depth + 1)
		} else {
			p.array(depth + 1)
		}
	case '"':
		p.str(nil)
	default: // a number or a literal: up to the next delimiter
		for p.i < len(p.s) && !isDelim(p.s[p.i]) {
			p.i++
		}
	}
}

func isDelim(c byte) bool {
	switch c {
	case ',', ']', '}', ':', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

func (p *shapeScanner) object(depth int) {
	var keys map[string]struct{}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return
	}
	for !p.stop() {
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			p.bad = true
			return
		}
		var key []byte
		p.str(&key)
		if p.stop() {
			return
		}
		for _, c := range key {
			if c >= 'A' && c <= 'Z' || c >= utf8.RuneSelf {
				p.foldable = true
				break
			}
		}
		if keys == nil {
			keys = map[string]struct{}{}
		}
		if _, dup := keys[string(key)]; dup {
			p.status = http.StatusUnprocessableEntity
			return
		}
		keys[string(key)] = struct{}{}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			p.bad = true
			return
		}
		p.i++
		p.value(depth)
		if !p.more('}') {
			return
		}
	}
}

func (p *shapeScanner) array(depth int) {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return
	}
	for !p.stop() {
		p.value(depth)
		if !p.more(']') {
			return
		}
	}
}

// more is the step after a member or element: true past a comma (another
// follows), false past the closing byte, at the end of the text or after
// a problem (a syntax error is marked bad).
func (p *shapeScanner) more(closing byte) bool {
	if p.stop() {
		return false
	}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ',' {
		p.i++
		return true
	}
	if p.i < len(p.s) && p.s[p.i] == closing {
		p.i++
		return false
	}
	p.bad = true
	return false
}

// str scans the string at p.i (its opening quote) and, with out set,
// decodes it into *out (a key, compared decoded: "a" and "\u0061" are
// one key). An escape of a lone surrogate is a 400.
func (p *shapeScanner) str(out *[]byte) {
	p.i++ // the quote
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return
		case c != '\\':
			if out != nil {
				*out = append(*out, c)
			}
			p.i++
			continue
		}
		if p.i+1 >= len(p.s) {
			p.bad = true
			return
		}
		e := p.s[p.i+1]
		if e != 'u' {
			if out != nil {
				*out = append(*out, unescape(e))
			}
			p.i += 2
			continue
		}
		r, ok := p.hex4(p.i + 2)
		if !ok {
			p.bad = true
			return
		}
		p.i += 6
		if utf16.IsSurrogate(r) {
			r2, ok := rune(0), false
			if r < 0xdc00 && p.i+1 < len(p.s) && p.s[p.i] == '\\' && p.s[p.i+1] == 'u' {
				r2, ok = p.hex4(p.i + 2)
			}
			if !ok || r2 < 0xdc00 || r2 > 0xdfff {
				p.status = http.StatusBadRequest
				return
			}
			p.i += 6
			r = utf16.DecodeRune(r, r2)
		}
		if out != nil {
			*out = utf8.AppendRune(*out, r)
		}
	}
	p.bad = true
}

// hex4 reads the four hex digits at s[at:].
func (p *shapeScanner) hex4(at int) (rune, bool) {
	if at+4 > len(p.s) {
		return 0, false
	}
	var r rune
	for _, c := range p.s[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// unescape is the byte a one-letter escape stands for (a bad letter is
// json.Unmarshal's syntax error to report; any byte will do here).
func unescape(e byte) byte {
	switch e {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return e // '"', '\\', '/'
}
