// Package schemafacts extracts a normalized, deterministic description of
// the user schema of a SQLite database. It is a Go port of the reference
// extractor shared/tools/schema_facts.py: Collect produces the same facts,
// and Facts.JSON renders them in the same JSON shape (same field names,
// sorting and normalization), so its output can be compared with
// schema.json or with the Python tool's output. Diff and Report compare two
// fact sets the way schema_diff.py does.
package schemafacts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// FormatVersion is the value of Facts.Format written by this package (and
// by schema_facts.py).
const FormatVersion = 1

// SkippedTables are the migration bookkeeping tables left out of the facts,
// in sorted order.
var SkippedTables = []string{"_sqlx_migrations", "goose_db_version", "schema_migrations"}

// Facts is the normalized description of a database's user schema.
type Facts struct {
	Format                   int       `json:"format"`
	SkippedBookkeepingTables []string  `json:"skipped_bookkeeping_tables"`
	TableCount               int       `json:"table_count"`
	Tables                   []Table   `json:"tables"`
	Triggers                 []Trigger `json:"triggers"`
	Views                    []View    `json:"views"`
}

// Table describes one table. Columns are sorted by name; ColumnOrder keeps
// the declared (physical) order.
type Table struct {
	Autoincrement bool         `json:"autoincrement"`
	Checks        []Check      `json:"checks"`
	ColumnOrder   []string     `json:"column_order"`
	Columns       []Column     `json:"columns"`
	ForeignKeys   []ForeignKey `json:"foreign_keys"`
	Indexes       []Index      `json:"indexes"`
	Kind          string       `json:"kind"`
	Name          string       `json:"name"`
	Strict        bool         `json:"strict"`
	WithoutRowid  bool         `json:"without_rowid"`
}

// Column is one row of PRAGMA table_xinfo, normalized. GeneratedExpr is
// only meaningful (and only serialized) when HasGeneratedExpr is set, which
// Collect does for generated columns (Hidden 2 or 3).
type Column struct {
	Cid              int     `json:"cid"`
	Default          *string `json:"default"`
	GeneratedExpr    *string `json:"generated_expr"`
	Hidden           int     `json:"hidden"`
	Name             string  `json:"name"`
	Notnull          int     `json:"notnull"`
	Pk               int     `json:"pk"`
	Type             string  `json:"type"`
	HasGeneratedExpr bool    `json:"-"`
}

// Index describes an index (explicit or sqlite_autoindex_*). KeySQL is only
// meaningful (and only serialized) when HasKeySQL is set, which Collect does
// for indexes with expression keys.
type Index struct {
	Columns   []IndexColumn `json:"columns"`
	KeySQL    *string       `json:"key_sql"`
	Name      string        `json:"name"`
	Origin    string        `json:"origin"`
	Partial   int           `json:"partial"`
	Unique    int           `json:"unique"`
	Where     *string       `json:"where"`
	HasKeySQL bool          `json:"-"`
}

// IndexColumn is one key column of an index ("<expr>" for an expression,
// "<rowid>" for the rowid).
type IndexColumn struct {
	Coll   string `json:"coll"`
	Column string `json:"column"`
	Desc   int    `json:"desc"`
}

// ForeignKey is one foreign-key constraint (PRAGMA foreign_key_list rows
// grouped by id). A nil To entry means the parent's primary key.
type ForeignKey struct {
	From     []string  `json:"from"`
	Match    string    `json:"match"`
	OnDelete string    `json:"on_delete"`
	OnUpdate string    `json:"on_update"`
	Table    string    `json:"table"`
	To       []*string `json:"to"`
}

// Check is a CHECK constraint parsed from the CREATE TABLE text. Column is
// nil for table-level constraints, Name nil when unnamed.
type Check struct {
	Column *string `json:"column"`
	Expr   string  `json:"expr"`
	Name   *string `json:"name"`
}

// Trigger is a trigger with its normalized SQL.
type Trigger struct {
	Name  string  `json:"name"`
	SQL   *string `json:"sql"`
	Table string  `json:"table"`
}

// View is a view with its normalized SQL.
type View struct {
	Name string  `json:"name"`
	SQL  *string `json:"sql"`
}

// columnJSON is Column's wire form (keys in sorted order, like Python's
// sort_keys) without generated_expr; columnGenJSON adds it.
type columnJSON struct {
	Cid     int     `json:"cid"`
	Default *string `json:"default"`
	Hidden  int     `json:"hidden"`
	Name    string  `json:"name"`
	Notnull int     `json:"notnull"`
	Pk      int     `json:"pk"`
	Type    string  `json:"type"`
}

type columnGenJSON struct {
	Cid           int     `json:"cid"`
	Default       *string `json:"default"`
	GeneratedExpr *string `json:"generated_expr"`
	Hidden        int     `json:"hidden"`
	Name          string  `json:"name"`
	Notnull       int     `json:"notnull"`
	Pk            int     `json:"pk"`
	Type          string  `json:"type"`
}

// MarshalJSON writes generated_expr only when HasGeneratedExpr is set.
func (c Column) MarshalJSON() ([]byte, error) {
	if c.HasGeneratedExpr {
		return marshal(columnGenJSON{c.Cid, c.Default, c.GeneratedExpr, c.Hidden, c.Name, c.Notnull, c.Pk, c.Type})
	}
	return marshal(columnJSON{c.Cid, c.Default, c.Hidden, c.Name, c.Notnull, c.Pk, c.Type})
}

// UnmarshalJSON sets HasGeneratedExpr when the generated_expr key is present.
func (c *Column) UnmarshalJSON(data []byte) error {
	var w struct {
		columnJSON
		GeneratedExpr json.RawMessage `json:"generated_expr"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	j := w.columnJSON
	*c = Column{Cid: j.Cid, Default: j.Default, Hidden: j.Hidden, Name: j.Name, Notnull: j.Notnull, Pk: j.Pk, Type: j.Type}
	if w.GeneratedExpr != nil {
		c.HasGeneratedExpr = true
		return json.Unmarshal(w.GeneratedExpr, &c.GeneratedExpr)
	}
	return nil
}

type indexJSON struct {
	Columns []IndexColumn `json:"columns"`
	Name    string        `json:"name"`
	Origin  string        `json:"origin"`
	Partial int           `json:"partial"`
	Unique  int           `json:"unique"`
	Where   *string       `json:"where"`
}

type indexKeyJSON struct {
	Columns []IndexColumn `json:"columns"`
	KeySQL  *string       `json:"key_sql"`
	Name    string        `json:"name"`
	Origin  string        `json:"origin"`
	Partial int           `json:"partial"`
	Unique  int           `json:"unique"`
	Where   *string       `json:"where"`
}

// MarshalJSON writes key_sql only when HasKeySQL is set.
func (ix Index) MarshalJSON() ([]byte, error) {
	cols := ix.Columns
	if cols == nil {
		cols = []IndexColumn{}
	}
	if ix.HasKeySQL {
		return marshal(indexKeyJSON{cols, ix.KeySQL, ix.Name, ix.Origin, ix.Partial, ix.Unique, ix.Where})
	}
	return marshal(indexJSON{cols, ix.Name, ix.Origin, ix.Partial, ix.Unique, ix.Where})
}

// UnmarshalJSON sets HasKeySQL when the key_sql key is present.
func (ix *Index) UnmarshalJSON(data []byte) error {
	var w struct {
		indexJSON
		KeySQL json.RawMessage `json:"key_sql"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	j := w.indexJSON
	*ix = Index{Columns: j.Columns, Name: j.Name, Origin: j.Origin, Partial: j.Partial, Unique: j.Unique, Where: j.Where}
	if w.KeySQL != nil {
		ix.HasKeySQL = true
		return json.Unmarshal(w.KeySQL, &ix.KeySQL)
	}
	return nil
}

// marshal is json.Marshal without HTML escaping (Python's json leaves <, >
// and & alone).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// JSON renders the facts like schema_facts.py prints them: two-space
// indentation, keys sorted, no HTML escaping, trailing newline.
func (f *Facts) JSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Parse decodes facts JSON (as written by JSON or schema_facts.py).
func Parse(data []byte) (*Facts, error) {
	var f Facts
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("schemafacts: decode facts: %w", err)
	}
	return &f, nil
}

// ReadFile reads and decodes a facts JSON file such as schema.json.
func ReadFile(path string) (*Facts, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("schemafacts: %w", err)
	}
	return Parse(data)
}
