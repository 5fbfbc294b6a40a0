package schemafacts

import (
	"strings"
	"unicode"
)

// tokKind classifies a token produced by tokenize. Whitespace and comments
// are dropped and never produce tokens.
type tokKind int

const (
	tokWord   tokKind = iota // keyword or identifier (incl. simple quoted ones)
	tokQIdent                // quoted identifier that is not simple, as "..."
	tokString                // '...' string literal, verbatim
	tokBlob                  // x'..' blob literal
	tokNum                   // numeric literal
	tokOp                    // operator, punctuation or unknown character
)

// token is one lexical SQL token.
type token struct {
	kind tokKind
	text string
}

// isOp reports whether t is the operator/punctuation token text.
func (t token) isOp(text string) bool { return t.kind == tokOp && t.text == text }

// isKw reports whether t is the (case-insensitive) word w; w must be lower case.
func (t token) isKw(w string) bool { return t.kind == tokWord && pyLower(t.text) == w }

// multiOps are the multi-character operators, in the order schema_facts.py
// tries them.
var multiOps = []string{"||", "<<", ">>", "<=", ">=", "==", "!=", "<>", "->>", "->"}

// Normalize returns the canonical form of an SQL text or expression exactly
// as schema_facts.py's norm() does: comments removed, string literals kept
// byte-for-byte, everything else lower-cased, simple quoted identifiers
// unquoted, whitespace collapsed to single spaces, no space after "(" or
// before "(", ")", ",", ";" and none around ".".
func Normalize(sql string) string { return render(tokenize(sql)) }

// normPtr is Normalize for nullable texts (nil stays nil).
func normPtr(sql *string) *string {
	if sql == nil {
		return nil
	}
	s := Normalize(*sql)
	return &s
}

// tokenize splits sql into tokens the way schema_facts.py's regex tokenizer
// does (alternatives tried in the same order, with the same backtracking
// results), dropping whitespace and comments.
func tokenize(sql string) []token {
	rs := []rune(sql)
	n := len(rs)
	var out []token
	for pos := 0; pos < n; {
		kind, end, skip := scanToken(rs, pos)
		text := string(rs[pos:end])
		pos = end
		switch {
		case skip:
			continue
		case kind == tokQIdent:
			out = append(out, quotedIdent(text))
		default:
			out = append(out, token{kind, text})
		}
	}
	return out
}

// scanToken matches one token at rs[pos]. It returns the token kind, the end
// offset and whether the token is whitespace/comment. Quoted identifiers of
// all three styles are reported as tokQIdent and resolved by quotedIdent.
func scanToken(rs []rune, pos int) (kind tokKind, end int, skip bool) {
	n := len(rs)
	at := func(i int) rune {
		if i < n {
			return rs[i]
		}
		return -1
	}
	r := rs[pos]
	switch {
	case isPySpace(r):
		end = pos + 1
		for end < n && isPySpace(rs[end]) {
			end++
		}
		return 0, end, true
	case r == '-' && at(pos+1) == '-':
		end = pos + 2
		for end < n && rs[end] != '\n' {
			end++
		}
		return 0, end, true
	case r == '/' && at(pos+1) == '*':
		for end = pos + 2; end < n; end++ {
			if rs[end] == '*' && at(end+1) == '/' {
				return 0, end + 2, true
			}
		}
		return 0, n, true
	}
	if r == '\'' {
		if e, ok := scanQuoted(rs, pos, '\''); ok {
			return tokString, e, false
		}
	}
	if (r == 'x' || r == 'X') && at(pos+1) == '\'' {
		e := pos + 2
		for e < n && isHex(rs[e]) {
			e++
		}
		if at(e) == '\'' {
			return tokBlob, e + 1, false
		}
	}
	if r == '"' || r == '`' {
		if e, ok := scanQuoted(rs, pos, r); ok {
			return tokQIdent, e, false
		}
	}
	if r == '[' {
		for e := pos + 1; e < n; e++ {
			if rs[e] == ']' {
				return tokQIdent, e + 1, false
			}
		}
	}
	if e, ok := scanNumber(rs, pos); ok {
		return tokNum, e, false
	}
	if isWordStart(r) {
		e := pos + 1
		for e < n && isWordPart(rs[e]) {
			e++
		}
		return tokWord, e, false
	}
	for _, op := range multiOps {
		if hasPrefixAt(rs, pos, op) {
			return tokOp, pos + len(op), false
		}
	}
	// A single-character operator (one of -+*/%&|~<>=!(),;.?:@$#), or an
	// unknown character, which is kept as an operator token all the same.
	return tokOp, pos + 1, false
}

// scanQuoted matches q(?:[^q]|qq)*q at rs[pos] with the result Python's
// backtracking regex engine gives: the greedy run of units stops at the
// first lone quote (the closing one); if the text ends first, the match
// falls back to the quote that opened the last doubled-quote unit.
func scanQuoted(rs []rune, pos int, q rune) (int, bool) {
	n := len(rs)
	lastPair := -1
	i := pos + 1
	for i < n {
		if rs[i] != q {
			i++
			continue
		}
		if i+1 < n && rs[i+1] == q {
			lastPair = i
			i += 2
			continue
		}
		return i + 1, true
	}
	if lastPair >= 0 {
		return lastPair + 1, true
	}
	return 0, false
}

// scanNumber matches (?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)? at rs[pos] (the
// hex alternative of the Python regex can never win: "0x1F" lexes as "0").
func scanNumber(rs []rune, pos int) (int, bool) {
	n := len(rs)
	digits := func(i int) int {
		for i < n && unicode.IsDigit(rs[i]) {
			i++
		}
		return i
	}
	var e int
	switch {
	case unicode.IsDigit(rs[pos]):
		e = digits(pos)
		if e < n && rs[e] == '.' {
			e = digits(e + 1)
		}
	case rs[pos] == '.' && pos+1 < n && unicode.IsDigit(rs[pos+1]):
		e = digits(pos + 1)
	default:
		return 0, false
	}
	if e < n && (rs[e] == 'e' || rs[e] == 'E') {
		k := e + 1
		if k < n && (rs[k] == '+' || rs[k] == '-') {
			k++
		}
		if k < n && unicode.IsDigit(rs[k]) {
			e = digits(k)
		}
	}
	return e, true
}

// quotedIdent turns a "..", `..` or [..] identifier into a word token when
// it is a simple identifier, else into a canonical double-quoted qident.
func quotedIdent(text string) token {
	rs := []rune(text)
	inner := string(rs[1 : len(rs)-1])
	switch rs[0] {
	case '"':
		inner = strings.ReplaceAll(inner, `""`, `"`)
	case '`':
		inner = strings.ReplaceAll(inner, "``", "`")
	}
	if isSimpleIdent(inner) {
		return token{tokWord, inner}
	}
	return token{tokQIdent, `"` + strings.ReplaceAll(inner, `"`, `""`) + `"`}
}

// isSimpleIdent mirrors re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", s), including
// Python's "$" also matching before one trailing newline.
func isSimpleIdent(s string) bool {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c < 0x80 && unicode.IsLetter(c) || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// isWordStart mirrors [A-Za-z_\u0080-\uffff].
func isWordStart(r rune) bool {
	return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= 0x80 && r <= 0xFFFF)
}

// isWordPart mirrors [A-Za-z0-9_$\u0080-\uffff].
func isWordPart(r rune) bool { return isWordStart(r) || r == '$' || (r >= '0' && r <= '9') }

// isHex mirrors [0-9A-Fa-f].
func isHex(r rune) bool {
	return (r >= '0' && r <= '9') || (r >= 'a' && r <= 'f') || (r >= 'A' && r <= 'F')
}

// hasPrefixAt reports whether the ASCII string p occurs in rs at pos.
func hasPrefixAt(rs []rune, pos int, p string) bool {
	if pos+len(p) > len(rs) {
		return false
	}
	for i := 0; i < len(p); i++ {
		if rs[pos+i] != rune(p[i]) {
			return false
		}
	}
	return true
}

// render joins tokens in the canonical normalized form.
func render(tokens []token) string {
	var b strings.Builder
	prev, first := "", true
	for _, tk := range tokens {
		var t string
		switch tk.kind {
		case tokWord, tokNum, tokQIdent:
			t = pyLower(tk.text)
		case tokBlob:
			t = "x" + pyLower(string([]rune(tk.text)[1:]))
		default:
			t = tk.text
		}
		if !first {
			noSpace := prev == "(" || prev == "." ||
				t == ")" || t == "," || t == ";" || t == "(" || t == "."
			if !noSpace {
				b.WriteByte(' ')
			}
		}
		b.WriteString(t)
		prev, first = t, false
	}
	return b.String()
}
