package schemafacts

import (
	"fmt"
	"slices"
	"strings"
)

// fmtColumn renders a column like schema_diff.py's missing/extra column
// detail: "TYPE NOT NULL DEFAULT x PK#n".
func fmtColumn(c Column) string {
	s := c.Type
	if s == "" {
		s = "<no type>"
	}
	if c.Notnull != 0 {
		s += " NOT NULL"
	}
	if c.Default != nil {
		s += " DEFAULT " + *c.Default
	}
	if c.Pk != 0 {
		s += fmt.Sprintf(" PK#%d", c.Pk)
	}
	return s
}

// fmtIndex renders an index like schema_diff.py's fmt_index.
func fmtIndex(ix Index) string {
	cols := make([]string, 0, len(ix.Columns))
	for _, c := range ix.Columns {
		s := c.Column
		if c.Desc != 0 {
			s += " DESC"
		}
		if c.Coll != "" && c.Coll != "BINARY" {
			s += " COLLATE " + c.Coll
		}
		cols = append(cols, s)
	}
	unique := ""
	if ix.Unique != 0 {
		unique = "UNIQUE "
	}
	s := fmt.Sprintf("%s%s(%s) origin=%s", unique, ix.Name, strings.Join(cols, ", "), ix.Origin)
	if ix.Partial != 0 {
		s += " WHERE " + pyStr(ix.Where)
	}
	if ix.KeySQL != nil && *ix.KeySQL != "" {
		s += " keys=" + *ix.KeySQL
	}
	return s
}

// fmtFK renders a foreign key like schema_diff.py's fmt_fk.
func fmtFK(f ForeignKey) string {
	to := make([]string, 0, len(f.To))
	for _, t := range f.To {
		to = append(to, pyStr(t))
	}
	return fmt.Sprintf("(%s) -> %s(%s) on_update=%s on_delete=%s match=%s",
		strings.Join(f.From, ", "), f.Table, strings.Join(to, ", "), f.OnUpdate, f.OnDelete, f.Match)
}

// fmtCheck renders a CHECK constraint like schema_diff.py's fmt_check.
func fmtCheck(c Check) string {
	where := "table"
	if c.Column != nil && *c.Column != "" {
		where = "column " + *c.Column
	}
	name := ""
	if c.Name != nil && *c.Name != "" {
		name = " CONSTRAINT " + *c.Name
	}
	return fmt.Sprintf("%s%s CHECK (%s)", where, name, c.Expr)
}

// pyStr renders a nullable string the way Python's str() does (None for nil).
func pyStr(s *string) string {
	if s == nil {
		return "None"
	}
	return *s
}

// jsonText renders a scalar like Python's json.dumps (strings quoted,
// nil / nil *string as null).
func jsonText(v any) string {
	if p, ok := v.(*string); ok {
		if p == nil {
			return "null"
		}
		v = *p
	}
	b, err := marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// byName indexes items by name (later duplicates win, like a Python dict).
func byName[T any](items []T, name func(T) string) map[string]T {
	m := make(map[string]T, len(items))
	for _, it := range items {
		m[name(it)] = it
	}
	return m
}

func tableName(t Table) string { return t.Name }
func colName(c Column) string  { return c.Name }
func indexName(i Index) string { return i.Name }

// minus returns the sorted keys of a that are not in b.
func minus[T any](a, b map[string]T) []string {
	var out []string
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// intersect returns the sorted keys present in both a and b.
func intersect[T any](a, b map[string]T) []string {
	var out []string
	for k := range a {
		if _, ok := b[k]; ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// unionKeys returns the keys present in a or b.
func unionKeys[T any](a, b map[string]T) map[string]bool {
	u := make(map[string]bool, len(a)+len(b))
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
}

// stringSet renders every item and returns the set of renderings.
func stringSet[T any](items []T, render func(T) string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, it := range items {
		m[render(it)] = true
	}
	return m
}

// setMinus returns the sorted members of a that are not in b.
func setMinus(a, b map[string]bool) []string { return minus(a, b) }

// filter returns the elements of s for which keep is true.
func filter(s []string, keep func(string) bool) []string {
	var out []string
	for _, x := range s {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}
