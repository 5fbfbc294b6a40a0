package schemafacts

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// row is one result row keyed by column name.
type row map[string]any

// masterEntry is one row of sqlite_master.
type masterEntry struct {
	typ, name, tblName string
	sql                *string
}

// Collect reads the user schema of db's "main" database and returns its
// normalized facts, exactly as schema_facts.py would report them. Tables
// named sqlite_* and the migration bookkeeping tables (SkippedTables) are
// left out.
func Collect(ctx context.Context, db *sql.DB) (*Facts, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("schemafacts: %w", err)
	}
	defer conn.Close()
	c := collector{ctx: ctx, conn: conn}
	f, err := c.collect()
	if err != nil {
		return nil, fmt.Errorf("schemafacts: %w", err)
	}
	return f, nil
}

// collector runs the catalog queries on one connection.
type collector struct {
	ctx  context.Context
	conn *sql.Conn
}

func (c *collector) collect() (*Facts, error) {
	master, err := c.master()
	if err != nil {
		return nil, err
	}
	tableList := map[string]row{}
	haveTableList := true
	if rows, err := c.query("PRAGMA main.table_list"); err != nil {
		haveTableList = false
	} else {
		for _, r := range rows {
			tableList[str(r["name"])] = r
		}
	}

	var names []string
	for _, m := range master {
		if m.typ == "table" && !strings.HasPrefix(m.name, "sqlite_") && !slices.Contains(SkippedTables, m.name) {
			names = append(names, m.name)
		}
	}
	slices.Sort(names)

	f := &Facts{
		Format:                   FormatVersion,
		SkippedBookkeepingTables: slices.Clone(SkippedTables),
		Tables:                   []Table{},
		Triggers:                 []Trigger{},
		Views:                    []View{},
	}
	for _, name := range names {
		var tl row
		if haveTableList {
			tl = tableList[name]
		}
		t, err := c.table(name, master, tl)
		if err != nil {
			return nil, err
		}
		f.Tables = append(f.Tables, *t)
	}
	f.TableCount = len(f.Tables)
	for _, m := range master {
		switch m.typ {
		case "trigger":
			f.Triggers = append(f.Triggers, Trigger{Name: m.name, Table: m.tblName, SQL: normPtr(m.sql)})
		case "view":
			f.Views = append(f.Views, View{Name: m.name, SQL: normPtr(m.sql)})
		}
	}
	slices.SortStableFunc(f.Triggers, func(a, b Trigger) int { return strings.Compare(a.Name, b.Name) })
	slices.SortStableFunc(f.Views, func(a, b View) int { return strings.Compare(a.Name, b.Name) })
	return f, nil
}

// master reads sqlite_master keyed by (type, name).
func (c *collector) master() (map[[2]string]masterEntry, error) {
	rows, err := c.query("SELECT type, name, tbl_name, sql FROM main.sqlite_master")
	if err != nil {
		return nil, err
	}
	out := make(map[[2]string]masterEntry, len(rows))
	for _, r := range rows {
		m := masterEntry{typ: str(r["type"]), name: str(r["name"]), tblName: str(r["tbl_name"]), sql: strPtr(r["sql"])}
		out[[2]string{m.typ, m.name}] = m
	}
	return out, nil
}

// table collects the facts of one table. tl is its PRAGMA table_list row,
// or nil when unavailable.
func (c *collector) table(name string, master map[[2]string]masterEntry, tl row) (*Table, error) {
	sqlText := strOr(master[[2]string{"table", name}].sql)
	parsed := parseTableSQL(sqlText)
	t := &Table{Name: name, Autoincrement: parsed.autoincrement, Checks: parsed.checks}

	cols, err := c.columns(name, parsed)
	if err != nil {
		return nil, err
	}
	byCid := slices.Clone(cols)
	slices.SortStableFunc(byCid, func(a, b Column) int { return cmp.Compare(a.Cid, b.Cid) })
	t.ColumnOrder = make([]string, 0, len(byCid))
	for _, col := range byCid {
		t.ColumnOrder = append(t.ColumnOrder, col.Name)
	}
	slices.SortStableFunc(cols, func(a, b Column) int { return strings.Compare(a.Name, b.Name) })
	t.Columns = cols

	if tl != nil {
		t.WithoutRowid, t.Strict, t.Kind = num(tl["wr"]) != 0, num(tl["strict"]) != 0, str(tl["type"])
	} else {
		t.WithoutRowid, t.Strict, t.Kind = parsed.withoutRowid, parsed.strict, "table"
		if strings.HasPrefix(strings.TrimLeftFunc(pyLower(sqlText), isPySpace), "create virtual") {
			t.Kind = "virtual"
		}
	}

	if t.Indexes, err = c.indexes(name, master); err != nil {
		return nil, err
	}
	if t.ForeignKeys, err = c.foreignKeys(name); err != nil {
		return nil, err
	}
	return t, nil
}

// columns reads PRAGMA table_xinfo (declared order).
func (c *collector) columns(table string, parsed tableSQL) ([]Column, error) {
	rows, err := c.query("PRAGMA main.table_xinfo(" + quoteIdent(table) + ")")
	if err != nil {
		return nil, err
	}
	cols := make([]Column, 0, len(rows))
	for _, r := range rows {
		col := Column{
			Name:    str(r["name"]),
			Cid:     int(num(r["cid"])),
			Type:    strings.Join(strings.FieldsFunc(pyUpper(str(r["type"])), isPySpace), " "),
			Notnull: int(num(r["notnull"])),
			Default: normPtr(strPtr(r["dflt_value"])),
			Pk:      int(num(r["pk"])),
			Hidden:  int(num(r["hidden"])),
		}
		if col.Hidden == 2 || col.Hidden == 3 {
			col.HasGeneratedExpr = true
			if g, ok := parsed.generated[col.Name]; ok {
				col.GeneratedExpr = &g
			}
		}
		cols = append(cols, col)
	}
	return cols, nil
}

// indexes reads PRAGMA index_list + index_xinfo, sorted by index name.
func (c *collector) indexes(table string, master map[[2]string]masterEntry) ([]Index, error) {
	list, err := c.query("PRAGMA main.index_list(" + quoteIdent(table) + ")")
	if err != nil {
		return nil, err
	}
	out := make([]Index, 0, len(list))
	for _, r := range list {
		ix := Index{
			Name:    str(r["name"]),
			Unique:  int(num(r["unique"])),
			Origin:  str(r["origin"]),
			Partial: int(num(r["partial"])),
			Columns: []IndexColumn{},
		}
		xinfo, err := c.query("PRAGMA main.index_xinfo(" + quoteIdent(ix.Name) + ")")
		if err != nil {
			return nil, err
		}
		hasExpr := false
		for _, x := range xinfo {
			if num(x["key"]) == 0 {
				continue
			}
			name := str(x["name"])
			switch num(x["cid"]) {
			case -2:
				hasExpr, name = true, "<expr>"
			case -1:
				name = "<rowid>"
			}
			ix.Columns = append(ix.Columns, IndexColumn{Column: name, Desc: int(num(x["desc"])), Coll: pyUpper(str(x["coll"]))})
		}
		isql := master[[2]string{"index", ix.Name}].sql
		if ix.Partial != 0 {
			ix.Where = partialWhere(isql)
		}
		if hasExpr {
			ix.HasKeySQL, ix.KeySQL = true, indexKeySQL(isql)
		}
		out = append(out, ix)
	}
	slices.SortStableFunc(out, func(a, b Index) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// foreignKeys reads PRAGMA foreign_key_list grouped per constraint id.
func (c *collector) foreignKeys(table string) ([]ForeignKey, error) {
	rows, err := c.query("PRAGMA main.foreign_key_list(" + quoteIdent(table) + ")")
	if err != nil {
		return nil, err
	}
	var ids []int64
	byID := map[int64]*ForeignKey{}
	for _, r := range rows {
		id := num(r["id"])
		fk, ok := byID[id]
		if !ok {
			fk = &ForeignKey{Table: str(r["table"]), From: []string{}, To: []*string{},
				OnUpdate: str(r["on_update"]), OnDelete: str(r["on_delete"]), Match: str(r["match"])}
			byID[id] = fk
			ids = append(ids, id)
		}
		fk.From = append(fk.From, str(r["from"]))
		fk.To = append(fk.To, strPtr(r["to"]))
	}
	out := make([]ForeignKey, 0, len(ids))
	for _, id := range ids {
		out = append(out, *byID[id])
	}
	slices.SortStableFunc(out, compareFK)
	return out, nil
}

// compareFK orders foreign keys by (table, from, to with nil as "").
func compareFK(a, b ForeignKey) int {
	if c := strings.Compare(a.Table, b.Table); c != 0 {
		return c
	}
	if c := slices.Compare(a.From, b.From); c != 0 {
		return c
	}
	return slices.CompareFunc(a.To, b.To, func(x, y *string) int { return strings.Compare(strOr(x), strOr(y)) })
}

// query runs q and returns all rows keyed by column name.
func (c *collector) query(q string) ([]row, error) {
	rows, err := c.conn.QueryContext(c.ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []row
	for rows.Next() {
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("%s: %w", q, err)
		}
		r := make(row, len(names))
		for i, n := range names {
			r[n] = vals[i]
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	return out, nil
}

// quoteIdent double-quotes an identifier for use in a PRAGMA argument.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// strPtr converts a scanned TEXT value to *string (nil for NULL).
func strPtr(v any) *string {
	switch x := v.(type) {
	case string:
		return &x
	case []byte:
		s := string(x)
		return &s
	case nil:
		return nil
	default:
		s := fmt.Sprint(x)
		return &s
	}
}

// str converts a scanned value to a string ("" for NULL).
func str(v any) string { return strOr(strPtr(v)) }

// num converts a scanned INTEGER value to int64 (0 for NULL).
func num(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int:
		return int64(x)
	case float64:
		return int64(x)
	case bool:
		if x {
			return 1
		}
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	case []byte:
		n, _ := strconv.ParseInt(string(x), 10, 64)
		return n
	}
	return 0
}
