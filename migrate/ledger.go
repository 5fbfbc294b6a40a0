package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/ffsqlite/ffsqlite/migrations"
)

// Ledger says which migration bookkeeping governs a database.
type Ledger string

// The ledgers a database can carry.
const (
	// LedgerNone: a fresh database, no bookkeeping table yet.
	LedgerNone Ledger = "none"
	// LedgerGoose: ffsqlite's goose_db_version table (with, since ledgers
	// are kept in step, upstream's _sqlx_migrations beside it).
	LedgerGoose Ledger = "goose"
	// LedgerUpstream: only upstream FlowFabric's _sqlx_migrations table.
	LedgerUpstream Ledger = "sqlx"
)

// Querier is what the ledger readers need: a *sql.DB, *sql.Conn or *sql.Tx,
// read-only connections included.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// DetectLedger inspects db's bookkeeping tables.
func DetectLedger(ctx context.Context, db Querier) (Ledger, error) {
	l, err := ReadLedgers(ctx, db)
	if err != nil {
		return "", err
	}
	return l.Kind, nil
}

// Ledgers is what a database's two migration ledgers record, read without
// goose (so it works on read-only connections and creates nothing).
type Ledgers struct {
	// Kind is the governing ledger.
	Kind Ledger
	// Goose reports whether goose_db_version exists; GooseApplied lists
	// the versions it records as applied (newest row per version decides,
	// version 0 left out), ascending.
	Goose        bool
	GooseApplied []int64
	// Sqlx reports whether _sqlx_migrations exists; SqlxRows are its rows
	// by ascending version.
	Sqlx     bool
	SqlxRows []SqlxRow
	// EngineTables reports whether the file has ffsqlite's engine tables
	// (ff_exec_core), whatever its ledgers say.
	EngineTables bool
}

// ReadLedgers reads both ledgers of db.
func ReadLedgers(ctx context.Context, db Querier) (*Ledgers, error) {
	names, err := queryStrings(ctx, db,
		"SELECT name FROM sqlite_master WHERE type='table' AND name IN ('goose_db_version','_sqlx_migrations','ff_exec_core')")
	if err != nil {
		return nil, fmt.Errorf("read migration ledger: %w", err)
	}
	l := &Ledgers{Kind: LedgerNone, GooseApplied: []int64{}, SqlxRows: []SqlxRow{}}
	l.Goose = slices.Contains(names, VersionTable)
	l.Sqlx = slices.Contains(names, SqlxTable)
	l.EngineTables = slices.Contains(names, "ff_exec_core")
	if l.Goose {
		l.Kind = LedgerGoose
		if l.GooseApplied, err = readGooseApplied(ctx, db); err != nil {
			return nil, err
		}
	} else if l.Sqlx {
		l.Kind = LedgerUpstream
	}
	if l.Sqlx {
		if l.SqlxRows, err = readSqlxRows(ctx, db); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// readGooseApplied lists the versions goose records as applied. goose's
// provider deletes a row on down; older goose inserted is_applied = 0
// rows, so the newest row per version decides.
func readGooseApplied(ctx context.Context, db Querier) ([]int64, error) {
	rows, err := db.QueryContext(ctx, "SELECT version_id, is_applied FROM "+VersionTable+" ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", VersionTable, err)
	}
	defer rows.Close()
	applied := map[int64]bool{}
	for rows.Next() {
		var v int64
		var ok bool
		if err := rows.Scan(&v, &ok); err != nil {
			return nil, fmt.Errorf("read %s: %w", VersionTable, err)
		}
		applied[v] = ok
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", VersionTable, err)
	}
	out := []int64{}
	for v, ok := range applied {
		if ok && v != 0 {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Version is the highest applied version of the governing ledger (0 when
// none).
func (l *Ledgers) Version() int64 {
	var applied []int64
	switch l.Kind {
	case LedgerGoose:
		applied = l.GooseApplied
	case LedgerUpstream:
		applied = l.sqlxRecorded()
	}
	if len(applied) == 0 {
		return 0
	}
	return applied[len(applied)-1]
}

// Applied lists the versions the governing ledger records as applied.
func (l *Ledgers) Applied() []int64 {
	switch l.Kind {
	case LedgerGoose:
		return slices.Clone(l.GooseApplied)
	case LedgerUpstream:
		return l.sqlxRecorded()
	}
	return []int64{}
}

// Pending lists the embedded versions the governing ledger does not record
// as applied, ascending (never nil). On a database made by upstream's
// runner these are the versions its runner would still apply, so ffsqlite
// and inspect report the same number however the file was made.
func (l *Ledgers) Pending() []int64 {
	applied := l.Applied()
	out := []int64{}
	for _, v := range migrations.Versions() {
		if !slices.Contains(applied, v) {
			out = append(out, v)
		}
	}
	return out
}

func queryStrings(ctx context.Context, db Querier, q string) ([]string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
