package migrate

import (
	"context"
	"database/sql"
	"fmt"
)

// Ledger says which migration bookkeeping a database carries.
type Ledger string

// The ledgers a database can carry.
const (
	// LedgerNone: a fresh database, no bookkeeping table yet.
	LedgerNone Ledger = "none"
	// LedgerGoose: ffsqlite's goose_db_version table.
	LedgerGoose Ledger = "goose"
	// LedgerUpstream: only upstream FlowFabric's _sqlx_migrations table.
	LedgerUpstream Ledger = "sqlx"
)

// DetectLedger inspects db's bookkeeping tables.
func DetectLedger(ctx context.Context, db *sql.DB) (Ledger, error) {
	rows, err := db.QueryContext(ctx,
		"SELECT name FROM sqlite_master WHERE type='table' AND name IN ('goose_db_version','_sqlx_migrations')")
	if err != nil {
		return "", fmt.Errorf("read migration ledger: %w", err)
	}
	defer rows.Close()
	var goose, sqlx bool
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return "", err
		}
		goose = goose || n == VersionTable
		sqlx = sqlx || n == "_sqlx_migrations"
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	switch {
	case goose:
		return LedgerGoose, nil
	case sqlx:
		return LedgerUpstream, nil
	}
	return LedgerNone, nil
}
