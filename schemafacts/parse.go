package schemafacts

import (
	"slices"
	"strings"
)

// tableSQL holds what is parsed (best-effort) from a CREATE TABLE text.
type tableSQL struct {
	checks        []Check
	generated     map[string]string // column -> normalized generation expression
	autoincrement bool
	withoutRowid  bool // fallback only; PRAGMA table_list is authoritative
	strict        bool // fallback only
}

// tableConstraintKW are the words that start a table constraint rather
// than a column definition.
var tableConstraintKW = map[string]bool{
	"constraint": true, "primary": true, "unique": true, "check": true, "foreign": true,
}

// matchParen returns the index of the ")" matching the "(" at tokens[i],
// or len(tokens)-1 when it is unbalanced.
func matchParen(tokens []token, i int) int {
	depth := 0
	for j := i; j < len(tokens); j++ {
		switch {
		case tokens[j].isOp("("):
			depth++
		case tokens[j].isOp(")"):
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return len(tokens) - 1
}

// splitTableBody returns the comma-separated items inside the first
// parenthesised group of a CREATE TABLE statement, and the tokens after it.
func splitTableBody(tokens []token) (items [][]token, tail []token) {
	start := slices.IndexFunc(tokens, func(t token) bool { return t.isOp("(") })
	if start < 0 {
		return nil, nil
	}
	end := matchParen(tokens, start)
	var cur []token
	depth := 0
	for _, tk := range sliceTo(tokens, start+1, end) {
		if tk.isOp("(") {
			depth++
		} else if tk.isOp(")") {
			depth--
		}
		if tk.isOp(",") && depth == 0 {
			items = append(items, cur)
			cur = nil
		} else {
			cur = append(cur, tk)
		}
	}
	if len(cur) > 0 {
		items = append(items, cur)
	}
	return items, sliceTo(tokens, end+1, len(tokens))
}

// parseTableSQL extracts CHECK constraints, generated-column expressions,
// AUTOINCREMENT and (as a fallback) WITHOUT ROWID / STRICT from a CREATE
// TABLE text, like schema_facts.py's parse_table_sql.
func parseTableSQL(sql string) tableSQL {
	res := tableSQL{checks: []Check{}, generated: map[string]string{}}
	if sql == "" {
		return res
	}
	tokens := tokenize(sql)
	res.autoincrement = slices.ContainsFunc(tokens, func(t token) bool { return t.isKw("autoincrement") })
	items, tail := splitTableBody(tokens)
	var tailWords []string
	for _, t := range tail {
		if t.kind == tokWord {
			tailWords = append(tailWords, pyLower(t.text))
		}
	}
	res.withoutRowid = slices.Contains(tailWords, "without") && slices.Contains(tailWords, "rowid")
	res.strict = slices.Contains(tailWords, "strict")
	for _, item := range items {
		parseTableItem(item, &res)
	}
	slices.SortStableFunc(res.checks, func(a, b Check) int {
		if c := strings.Compare(strOr(a.Column), strOr(b.Column)); c != 0 {
			return c
		}
		if c := strings.Compare(strOr(a.Name), strOr(b.Name)); c != 0 {
			return c
		}
		return strings.Compare(a.Expr, b.Expr)
	})
	return res
}

// parseTableItem scans one column definition or table constraint for
// CHECK (...) and AS (...) clauses.
func parseTableItem(item []token, res *tableSQL) {
	if len(item) == 0 {
		return
	}
	first := item[0]
	isCol := !(first.kind == tokWord && tableConstraintKW[pyLower(first.text)])
	var column, pendingName *string
	k := 0
	if isCol {
		column = ptr(first.text)
		k = 1
	}
	for k < len(item) {
		tk := item[k]
		switch {
		case tk.isKw("constraint") && k+1 < len(item):
			pendingName = ptr(item[k+1].text)
			k += 2
		case tk.isKw("check") && k+1 < len(item) && item[k+1].isOp("("):
			j := matchParen(item, k+1)
			res.checks = append(res.checks, Check{Column: column, Name: pendingName, Expr: render(sliceTo(item, k+2, j))})
			pendingName = nil
			k = j + 1
		case isCol && tk.isKw("as") && k+1 < len(item) && item[k+1].isOp("("):
			j := matchParen(item, k+1)
			res.generated[*column] = render(sliceTo(item, k+2, j))
			k = j + 1
		case tk.isOp("("):
			// Skip other parenthesised groups (DEFAULT (...), PK columns, ...).
			k = matchParen(item, k) + 1
		default:
			k++
		}
	}
}

// partialWhere returns the normalized WHERE clause of a CREATE INDEX text,
// or nil when there is none.
func partialWhere(indexSQL *string) *string {
	if indexSQL == nil || *indexSQL == "" {
		return nil
	}
	tokens := tokenize(*indexSQL)
	depth := 0
	for i, tk := range tokens {
		switch {
		case tk.isOp("("):
			depth++
		case tk.isOp(")"):
			depth--
		case depth == 0 && tk.isKw("where"):
			body := tokens[i+1:]
			for len(body) > 0 && body[len(body)-1].isOp(";") {
				body = body[:len(body)-1]
			}
			return ptr(render(body))
		}
	}
	return nil
}

// indexKeySQL returns the normalized text of the indexed-column list of a
// CREATE INDEX text (used for indexes with expression keys), or nil.
func indexKeySQL(indexSQL *string) *string {
	if indexSQL == nil || *indexSQL == "" {
		return nil
	}
	tokens := tokenize(*indexSQL)
	for i, tk := range tokens {
		if !tk.isKw("on") {
			continue
		}
		for j := i; j < len(tokens); j++ {
			if tokens[j].isOp("(") {
				return ptr(render(sliceTo(tokens, j+1, matchParen(tokens, j))))
			}
		}
	}
	return nil
}

// sliceTo mirrors Python's tokens[from:to] (empty when to < from).
func sliceTo(tokens []token, from, to int) []token {
	to = min(to, len(tokens))
	if from >= to {
		return nil
	}
	return tokens[from:to]
}

// ptr returns a pointer to a copy of s.
func ptr(s string) *string { return &s }

// strOr returns *s, or "" for nil.
func strOr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
