package migrate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pressly/goose/v3/database"

	"github.com/ffsqlite/ffsqlite/migrations"
	"github.com/ffsqlite/ffsqlite/schemafacts"
)

// ErrNothingToAdopt is returned by Adopt on a database with no upstream
// ledger and no goose table: `migrate up` is what it needs.
var ErrNothingToAdopt = errors.New("database has no _sqlx_migrations ledger to adopt; run `ffsqlite migrate up`")

// SchemaMismatchError is returned by Adopt when the upstream database's
// schema is not exactly what the embedded migrations produce.
type SchemaMismatchError struct{ Diffs []string }

func (e *SchemaMismatchError) Error() string {
	const show = 5
	d := e.Diffs
	more := ""
	if len(d) > show {
		more = fmt.Sprintf(" (and %d more)", len(d)-show)
		d = d[:show]
	}
	return "schema does not match the embedded migrations: " + strings.Join(d, "; ") + more
}

// AdoptResult says what Adopt recorded.
type AdoptResult struct {
	Version        int64 `json:"version"`
	Recorded       int   `json:"recorded"`
	AlreadyAdopted bool  `json:"already_adopted"`
}

// Adopt takes over a database created by upstream FlowFabric's runner: it
// verifies that the schema equals what the embedded migrations produce and
// then records every goose version in one transaction, without running
// any DDL. _sqlx_migrations is left in place for upstream.
func (m *Migrator) Adopt(ctx context.Context) (*AdoptResult, error) {
	ledger, err := DetectLedger(ctx, m.db)
	if err != nil {
		return nil, err
	}
	switch ledger {
	case LedgerGoose:
		v, err := m.p.GetDBVersion(ctx)
		return &AdoptResult{Version: v, AlreadyAdopted: true}, err
	case LedgerNone:
		return nil, ErrNothingToAdopt
	}
	want, err := ExpectedFacts(ctx)
	if err != nil {
		return nil, err
	}
	got, err := schemafacts.Collect(ctx, m.db)
	if err != nil {
		return nil, err
	}
	if diffs := schemafacts.Diff(want, got); len(diffs) > 0 {
		return nil, &SchemaMismatchError{Diffs: diffs}
	}
	if err := m.b.PrepareWrite(ctx); err != nil {
		return nil, err
	}
	store, err := database.NewStore(database.DialectSQLite3, VersionTable)
	if err != nil {
		return nil, err
	}
	tx, err := m.db.BeginTx(ctx, nil) // writer: BEGIN IMMEDIATE
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if err := store.CreateVersionTable(ctx, tx); err != nil {
		return nil, fmt.Errorf("create %s: %w", VersionTable, err)
	}
	versions := append([]int64{0}, migrations.Versions()...)
	for _, v := range versions {
		if err := store.Insert(ctx, tx, database.InsertRequest{Version: v}); err != nil {
			return nil, fmt.Errorf("record version %d: %w", v, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return &AdoptResult{Version: migrations.LatestVersion, Recorded: len(versions) - 1}, nil
}
