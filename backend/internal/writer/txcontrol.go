package writer

import (
	"fmt"
	"strings"
)

// Transaction control inside a write function. The writer owns the
// transaction: a function that ran COMMIT inside a group would commit the
// work of the requests before it, which then run again when the group's
// own RELEASE fails, so their work applies twice; ROLLBACK, BEGIN, END,
// SAVEPOINT and RELEASE break the group the same way. So every statement
// string a function hands to its Tx is checked before it reaches SQLite,
// and refused when any statement in it (the driver runs every
// ;-separated statement of an Exec) begins with one of those keywords.
//
// The check splits the string the way sqlite3_complete does: semicolons
// inside string literals, quoted identifiers and comments do not end a
// statement, and neither do the semicolons of a CREATE TRIGGER body, which
// ends at "; END;". Only the first keyword of each statement counts, so
// the words anywhere else (a column named "end", a literal 'commit') are
// not refused.

// TxControlError is returned for a statement a write function may not
// run: transaction control belongs to the writer. Nothing of the refused
// string ran.
type TxControlError struct {
	// Keyword is the refused statement's first keyword, upper-cased.
	Keyword string
}

func (e *TxControlError) Error() string {
	return fmt.Sprintf("%s refused inside a write transaction: the writer begins, commits and rolls back its transactions", e.Keyword)
}

// controlKeywords are the statements that begin, end or nest
// transactions.
var controlKeywords = []string{"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"}

// checkStatements returns a *TxControlError when a statement of q begins
// with a transaction control keyword.
func checkStatements(q string) error {
	if strings.IndexByte(q, ';') < 0 { // one statement: its first word decides
		for i := 0; i < len(q); {
			tok, word, next := sqlToken(q, i)
			if tok != tokSpace {
				if tok == tokWord {
					return controlKeyword(word)
				}
				return nil
			}
			i = next
		}
		return nil
	}
	const (
		start   = iota // before a statement's first token
		normal         // in a statement that ends at ";"
		explain        // after EXPLAIN [QUERY PLAN], which runs nothing
		create         // after [EXPLAIN] CREATE [TEMP|TEMPORARY]
		trigger        // in a CREATE TRIGGER, which ends at "; END;"
		semi           // in a trigger, after a ";"
		end            // in a trigger, after "; END"
	)
	state := start
	for i := 0; i < len(q); {
		tok, word, next := sqlToken(q, i)
		i = next
		switch tok {
		case tokSpace:
			continue
		case tokSemi:
			switch state {
			case trigger, semi:
				state = semi
			default:
				state = start
			}
			continue
		}
		switch state {
		case start:
			state = normal
			if tok != tokWord {
				continue
			}
			if err := controlKeyword(word); err != nil {
				return err
			}
			if strings.EqualFold(word, "CREATE") {
				state = create
			} else if strings.EqualFold(word, "EXPLAIN") {
				state = explain
			}
		case explain:
			switch {
			case tok == tokWord && (strings.EqualFold(word, "QUERY") || strings.EqualFold(word, "PLAN")):
			case tok == tokWord && strings.EqualFold(word, "CREATE"):
				state = create
			default:
				state = normal
			}
		case create:
			switch {
			case tok == tokWord && (strings.EqualFold(word, "TEMP") || strings.EqualFold(word, "TEMPORARY")):
			case tok == tokWord && strings.EqualFold(word, "TRIGGER"):
				state = trigger
			default:
				state = normal
			}
		case semi:
			state = trigger
			if tok == tokWord && strings.EqualFold(word, "END") {
				state = end
			}
		case end:
			state = trigger
		}
	}
	return nil
}

// controlKeyword returns a *TxControlError when a statement's first word
// is a transaction control keyword.
func controlKeyword(word string) error {
	for _, k := range controlKeywords {
		if strings.EqualFold(word, k) {
			return &TxControlError{Keyword: k}
		}
	}
	return nil
}

// Token kinds of sqlToken.
const (
	tokSpace = iota // whitespace or a comment
	tokSemi         // ;
	tokWord         // an unquoted identifier or keyword
	tokOther        // anything else: literals, quoted identifiers, operators
)

// sqlToken returns the kind of the token at q[i:], its text when it is a
// word, and the index after it. An unterminated literal or comment runs
// to the end of q, as in SQLite.
func sqlToken(q string, i int) (kind int, word string, next int) {
	c := q[i]
	switch {
	case isSpace(c):
		j := i + 1
		for j < len(q) && isSpace(q[j]) {
			j++
		}
		return tokSpace, "", j
	case c == ';':
		return tokSemi, "", i + 1
	case c == '-' && i+1 < len(q) && q[i+1] == '-':
		if j := strings.IndexByte(q[i:], '\n'); j >= 0 {
			return tokSpace, "", i + j + 1
		}
		return tokSpace, "", len(q)
	case c == '/' && i+1 < len(q) && q[i+1] == '*':
		if j := strings.Index(q[i+2:], "*/"); j >= 0 {
			return tokSpace, "", i + 2 + j + 2
		}
		return tokSpace, "", len(q)
	case c == '\'' || c == '"' || c == '`':
		// A doubled quote inside is an escaped quote.
		j := i + 1
		for j < len(q) {
			if q[j] == c {
				if j+1 < len(q) && q[j+1] == c {
					j += 2
					continue
				}
				return tokOther, "", j + 1
			}
			j++
		}
		return tokOther, "", len(q)
	case c == '[':
		if j := strings.IndexByte(q[i:], ']'); j >= 0 {
			return tokOther, "", i + j + 1
		}
		return tokOther, "", len(q)
	case isIdentStart(c):
		j := identEnd(q, i+1)
		return tokWord, q[i:j], j
	case c >= '0' && c <= '9':
		return tokOther, "", identEnd(q, i+1) // a number
	}
	return tokOther, "", i + 1
}

// identEnd returns the end of the identifier characters from q[i:].
func identEnd(q string, i int) int {
	for i < len(q) && (isIdentStart(q[i]) || q[i] >= '0' && q[i] <= '9' || q[i] == '$') {
		i++
	}
	return i
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// isIdentStart reports whether c may begin an unquoted identifier: a
// letter, an underscore or any byte of a multi-byte UTF-8 character.
func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}
