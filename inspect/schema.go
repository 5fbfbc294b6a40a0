package inspect

import (
	"context"
	"database/sql"

	"github.com/ffsqlite/ffsqlite/migrate"
	"github.com/ffsqlite/ffsqlite/migrations"
	"github.com/ffsqlite/ffsqlite/schemafacts"
)

// SchemaStatus is the file's migration state, read from its ledgers
// without goose (the backend is read-only, and goose would create its
// table). migrate status reads the same ledgers the same way
// (migrate.ReadLedgers), so the two always agree.
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
	// UpstreamWouldOpen says whether upstream FlowFabric's own backend
	// would open the file as it is (its runner accepts _sqlx_migrations
	// and would apply exactly the versions goose has not applied).
	UpstreamWouldOpen bool `json:"upstream_would_open"`
	// Note explains a ledger that needs attention; empty otherwise.
	Note string `json:"note,omitempty"`
}

// ReadSchemaStatus reads db's migration ledgers.
func ReadSchemaStatus(ctx context.Context, db *sql.DB) (SchemaStatus, error) {
	return schemaStatus(ctx, tracer{q: db})
}

func schemaStatus(ctx context.Context, q tracer) (SchemaStatus, error) {
	l, err := migrate.ReadLedgers(ctx, q)
	if err != nil {
		return SchemaStatus{}, err
	}
	return SchemaStatus{Ledger: string(l.Kind), Version: l.Version(), LatestVersion: migrations.LatestVersion,
		Pending: l.Pending(), UpstreamWouldOpen: l.Upstream().WouldOpen, Note: l.Note()}, nil
}

// Schema returns the normalized schema facts of db, with the same extractor
// as the parity test (schemafacts.Collect).
func Schema(ctx context.Context, db *sql.DB) (*schemafacts.Facts, error) {
	return schemafacts.Collect(ctx, db)
}
