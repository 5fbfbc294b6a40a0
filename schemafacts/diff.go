package schemafacts

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// tableDiff is the list of differences found in one table present on both
// sides.
type tableDiff struct {
	name  string
	diffs []string
}

// comparison is the full result of comparing two fact sets.
type comparison struct {
	missingTables, extraTables []string // "name (N columns)"
	tables                     []tableDiff
	identical, total           int
	triggerViews               []string
}

// count is the number of individual differences.
func (c *comparison) count() int {
	n := len(c.missingTables) + len(c.extraTables) + len(c.triggerViews)
	for _, t := range c.tables {
		n += len(t.diffs)
	}
	return n
}

// Diff lists the differences between expected and actual, one entry per
// difference, in schema_diff.py's order and wording: "missing table T (N
// columns)", "extra table T (N columns)", "table T: <detail>" (missing /
// extra / changed columns, column order, flags, indexes, foreign keys,
// checks) and "trigger ..." / "view ..." entries. A multi-line detail keeps
// its "\n      expected ...\n      actual   ..." continuation lines. Diff
// returns nil when the schemas are identical.
func Diff(expected, actual *Facts) []string {
	c := compare(expected, actual)
	var out []string
	for _, s := range c.missingTables {
		out = append(out, "missing table "+s)
	}
	for _, s := range c.extraTables {
		out = append(out, "extra table "+s)
	}
	for _, t := range c.tables {
		for _, d := range t.diffs {
			out = append(out, "table "+t.name+": "+d)
		}
	}
	return append(out, c.triggerViews...)
}

// Report renders the comparison exactly as schema_diff.py prints it
// (including the final "schema parity: N/M tables identical, K
// differences" line) and returns that text and K.
func Report(expected, actual *Facts) (string, int) {
	c := compare(expected, actual)
	var lines []string
	for _, s := range c.missingTables {
		lines = append(lines, "- missing table "+s)
	}
	for _, s := range c.extraTables {
		lines = append(lines, "+ extra table "+s)
	}
	for _, t := range c.tables {
		lines = append(lines, fmt.Sprintf("~ table %s: %d difference(s)", t.name, len(t.diffs)))
		for _, d := range t.diffs {
			lines = append(lines, "    "+d)
		}
	}
	for _, d := range c.triggerViews {
		lines = append(lines, "~ "+d)
	}
	if len(lines) == 0 {
		lines = append(lines, "no differences")
	}
	n := c.count()
	lines = append(lines, fmt.Sprintf("schema parity: %d/%d tables identical, %d differences", c.identical, c.total, n))
	return strings.Join(lines, "\n") + "\n", n
}

// compare computes the differences between two fact sets.
func compare(exp, act *Facts) *comparison {
	et, at := byName(exp.Tables, tableName), byName(act.Tables, tableName)
	c := &comparison{total: len(unionKeys(et, at))}
	for _, n := range minus(et, at) {
		c.missingTables = append(c.missingTables, fmt.Sprintf("%s (%d columns)", n, len(et[n].Columns)))
	}
	for _, n := range minus(at, et) {
		c.extraTables = append(c.extraTables, fmt.Sprintf("%s (%d columns)", n, len(at[n].Columns)))
	}
	for _, n := range intersect(et, at) {
		if d := diffTable(et[n], at[n]); len(d) > 0 {
			c.tables = append(c.tables, tableDiff{n, d})
		} else {
			c.identical++
		}
	}
	c.triggerViews = append(diffNamedSQL("trigger", triggerItems(exp.Triggers), triggerItems(act.Triggers)),
		diffNamedSQL("view", viewItems(exp.Views), viewItems(act.Views))...)
	return c
}

// diffTable lists the differences of one table, like schema_diff.py's
// diff_table.
func diffTable(e, a Table) []string {
	var out []string
	flags := []struct {
		name string
		e, a any
	}{
		{"kind", e.Kind, a.Kind},
		{"without_rowid", e.WithoutRowid, a.WithoutRowid},
		{"strict", e.Strict, a.Strict},
		{"autoincrement", e.Autoincrement, a.Autoincrement},
	}
	for _, f := range flags {
		if f.e != f.a {
			out = append(out, fmt.Sprintf("%s: expected %s, actual %s", f.name, jsonText(f.e), jsonText(f.a)))
		}
	}
	out = append(out, diffColumns(e, a)...)
	out = append(out, diffIndexes(e.Indexes, a.Indexes)...)

	ef, af := stringSet(e.ForeignKeys, fmtFK), stringSet(a.ForeignKeys, fmtFK)
	for _, s := range setMinus(ef, af) {
		out = append(out, "missing foreign key "+s)
	}
	for _, s := range setMinus(af, ef) {
		out = append(out, "extra foreign key "+s)
	}
	ek, ak := stringSet(e.Checks, fmtCheck), stringSet(a.Checks, fmtCheck)
	for _, s := range setMinus(ek, ak) {
		out = append(out, "missing check "+s)
	}
	for _, s := range setMinus(ak, ek) {
		out = append(out, "extra check "+s)
	}
	return out
}

// diffColumns reports missing / extra / changed columns and column order.
func diffColumns(e, a Table) []string {
	var out []string
	ec, ac := byName(e.Columns, colName), byName(a.Columns, colName)
	for _, n := range minus(ec, ac) {
		out = append(out, "missing column "+n+" ("+fmtColumn(ec[n])+")")
	}
	for _, n := range minus(ac, ec) {
		out = append(out, "extra column "+n+" ("+fmtColumn(ac[n])+")")
	}
	common := intersect(ec, ac)
	for _, n := range common {
		x, y := ec[n], ac[n]
		fields := []struct {
			name string
			e, a any
		}{
			{"type", x.Type, y.Type},
			{"notnull", x.Notnull, y.Notnull},
			{"default", x.Default, y.Default},
			{"pk", x.Pk, y.Pk},
			{"hidden", x.Hidden, y.Hidden},
			{"generated_expr", x.GeneratedExpr, y.GeneratedExpr},
		}
		for _, f := range fields {
			if !reflect.DeepEqual(f.e, f.a) {
				out = append(out, fmt.Sprintf("column %s: %s expected %s, actual %s", n, f.name, jsonText(f.e), jsonText(f.a)))
			}
		}
	}
	inCommon := func(s string) bool { _, ok := slices.BinarySearch(common, s); return ok }
	eo, ao := filter(e.ColumnOrder, inCommon), filter(a.ColumnOrder, inCommon)
	if !slices.Equal(eo, ao) {
		out = append(out, fmt.Sprintf("column order differs:\n      expected %s\n      actual   %s",
			strings.Join(eo, ", "), strings.Join(ao, ", ")))
	}
	return out
}

// diffIndexes reports missing / extra / changed indexes.
func diffIndexes(exp, act []Index) []string {
	var out []string
	ei, ai := byName(exp, indexName), byName(act, indexName)
	for _, n := range minus(ei, ai) {
		out = append(out, "missing index "+fmtIndex(ei[n]))
	}
	for _, n := range minus(ai, ei) {
		out = append(out, "extra index "+fmtIndex(ai[n]))
	}
	for _, n := range intersect(ei, ai) {
		e, a := ei[n], ai[n]
		var fields []string
		if e.Unique != a.Unique {
			fields = append(fields, "unique")
		}
		if e.Origin != a.Origin {
			fields = append(fields, "origin")
		}
		if e.Partial != a.Partial {
			fields = append(fields, "partial")
		}
		if !slices.Equal(e.Columns, a.Columns) {
			fields = append(fields, "columns")
		}
		if !reflect.DeepEqual(e.Where, a.Where) {
			fields = append(fields, "where")
		}
		if !reflect.DeepEqual(e.KeySQL, a.KeySQL) {
			fields = append(fields, "key_sql")
		}
		if len(fields) > 0 {
			verb := "differs"
			if len(fields) > 1 {
				verb = "differ"
			}
			out = append(out, fmt.Sprintf("index %s: %s %s\n      expected %s\n      actual   %s",
				n, strings.Join(fields, "/"), verb, fmtIndex(e), fmtIndex(a)))
		}
	}
	return out
}

// namedSQL is a trigger or view reduced to what diff_named_sql compares.
type namedSQL struct {
	name  string
	table *string
	sql   *string
}

func triggerItems(ts []Trigger) []namedSQL {
	out := make([]namedSQL, 0, len(ts))
	for _, t := range ts {
		out = append(out, namedSQL{t.Name, ptr(t.Table), t.SQL})
	}
	return out
}

func viewItems(vs []View) []namedSQL {
	out := make([]namedSQL, 0, len(vs))
	for _, v := range vs {
		out = append(out, namedSQL{v.Name, nil, v.SQL})
	}
	return out
}

// diffNamedSQL compares triggers or views by name, table and SQL.
func diffNamedSQL(kind string, exp, act []namedSQL) []string {
	var out []string
	name := func(x namedSQL) string { return x.name }
	e, a := byName(exp, name), byName(act, name)
	for _, n := range minus(e, a) {
		out = append(out, fmt.Sprintf("missing %s %s: %s", kind, n, pyStr(e[n].sql)))
	}
	for _, n := range minus(a, e) {
		out = append(out, fmt.Sprintf("extra %s %s: %s", kind, n, pyStr(a[n].sql)))
	}
	for _, n := range intersect(e, a) {
		x, y := e[n], a[n]
		for _, f := range []struct {
			name string
			e, a *string
		}{{"table", x.table, y.table}, {"sql", x.sql, y.sql}} {
			if !reflect.DeepEqual(f.e, f.a) {
				out = append(out, fmt.Sprintf("%s %s: %s differs\n      expected %s\n      actual   %s",
					kind, n, f.name, pyStr(f.e), pyStr(f.a)))
			}
		}
	}
	return out
}
