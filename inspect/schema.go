package inspect

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/ffsqlite/ffsqlite/migrate"
	"github.com/ffsqlite/ffsqlite/migrations"
	"github.com/ffsqlite/ffsqlite/schemafacts"
)

// SchemaStatus is the file's migration state, read from its ledger without
// goose (the backend is read-only, and goose would create its table).
type SchemaStatus struct {
	// Ledger is "none", "goose" (ffsqlite) or "sqlx" (upstream FlowFabric's
	// own runner, _sqlx_migrations).
	Ledger string `json:"ledger"`
	// Version is the highest version the ledger records as applied (0 when
	// none).
	Version int64 `json:"version"`
	// LatestVersion is the highest migration this binary embeds.
	LatestVersion int64 `json:"latest_version"`
	// Pending lists the embedded versions the ledger does not record as
	// applied, ascending (never null).
	Pending []int64 `json:"pending"`
	// Note explains a ledger that needs attention; empty otherwise.
	Note string `json:"note,omitempty"`
}

// ReadSchemaStatus reads db's migration ledger.
func ReadSchemaStatus(ctx context.Context, db *sql.DB) (SchemaStatus, error) {
	cat, err := loadCatalog(ctx, db)
	if err != nil {
		return SchemaStatus{}, err
	}
	return schemaStatus(ctx, tracer{q: db}, cat)
}

func schemaStatus(ctx context.Context, q tracer, cat *catalog) (SchemaStatus, error) {
	st := SchemaStatus{Ledger: string(migrate.LedgerNone), LatestVersion: migrations.LatestVersion, Pending: []int64{}}
	applied := map[int64]bool{}
	switch {
	case cat.has(migrate.VersionTable):
		st.Ledger = string(migrate.LedgerGoose)
		// goose's provider deletes a row on down; older goose inserted
		// is_applied = 0 rows. The newest row per version decides.
		rows, err := q.query(ctx, "SELECT version_id, is_applied FROM goose_db_version ORDER BY id")
		if err != nil {
			return st, fmt.Errorf("read goose_db_version: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var v int64
			var ok bool
			if err := rows.Scan(&v, &ok); err != nil {
				return st, err
			}
			applied[v] = ok
		}
		if err := rows.Err(); err != nil {
			return st, err
		}
	case cat.has("_sqlx_migrations"):
		st.Ledger = string(migrate.LedgerUpstream)
		st.Note = "created by FlowFabric's own migration runner (_sqlx_migrations); `ffsqlite migrate adopt` hands it to ffsqlite"
		rows, err := q.query(ctx, "SELECT version FROM _sqlx_migrations WHERE success")
		if err != nil {
			return st, fmt.Errorf("read _sqlx_migrations: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var v int64
			if err := rows.Scan(&v); err != nil {
				return st, err
			}
			applied[v] = true
		}
		if err := rows.Err(); err != nil {
			return st, err
		}
	default:
		if cat.has("ff_exec_core") {
			st.Note = "engine tables without a migration ledger"
		}
	}
	for v, ok := range applied {
		if ok && v > st.Version {
			st.Version = v
		}
	}
	for _, v := range migrations.Versions() {
		if !applied[v] {
			st.Pending = append(st.Pending, v)
		}
	}
	slices.Sort(st.Pending)
	return st, nil
}

// Schema returns the normalized schema facts of db, with the same extractor
// as the parity test (schemafacts.Collect).
func Schema(ctx context.Context, db *sql.DB) (*schemafacts.Facts, error) {
	return schemafacts.Collect(ctx, db)
}
