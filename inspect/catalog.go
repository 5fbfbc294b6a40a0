package inspect

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// queryer is what every view reads through: *sql.DB, *sql.Conn or *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// MissingTableError is returned by a view whose table the database does not
// have (an empty file, or one migrated only part of the way).
type MissingTableError struct{ Table string }

func (e *MissingTableError) Error() string {
	return fmt.Sprintf("the database has no %s table (schema not migrated far enough)", e.Table)
}

// IsMissingTable reports whether err is (or wraps) a *MissingTableError.
func IsMissingTable(err error) bool {
	var m *MissingTableError
	return errors.As(err, &m)
}

// NotFoundError is returned when the execution, flow or budget asked for
// does not exist.
type NotFoundError struct{ What, ID string }

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %s not found", e.What, e.ID) }

// catalog is the set of tables and columns the database has, so queries can
// adapt to older schema versions instead of failing on a missing column.
type catalog struct{ cols map[string]map[string]bool }

func loadCatalog(ctx context.Context, q queryer) (*catalog, error) {
	rows, err := q.QueryContext(ctx, `SELECT m.name, p.name FROM sqlite_master AS m, pragma_table_info(m.name) AS p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`)
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	defer rows.Close()
	c := &catalog{cols: map[string]map[string]bool{}}
	for rows.Next() {
		var t, col string
		if err := rows.Scan(&t, &col); err != nil {
			return nil, err
		}
		if c.cols[t] == nil {
			c.cols[t] = map[string]bool{}
		}
		c.cols[t][col] = true
	}
	return c, rows.Err()
}

func (c *catalog) has(table string) bool { return c.cols[table] != nil }

func (c *catalog) hasCol(table, col string) bool { return c.cols[table][col] }

// col returns col when table has it, else "NULL AS col" (or fallback).
func (c *catalog) col(table, col string) string {
	if c.hasCol(table, col) {
		return col
	}
	return "NULL AS " + col
}

// need fails with *MissingTableError unless every table exists.
func (c *catalog) need(tables ...string) error {
	for _, t := range tables {
		if !c.has(t) {
			return &MissingTableError{Table: t}
		}
	}
	return nil
}
