package migrate

import (
	"context"
	"errors"
	"fmt"

	"github.com/pressly/goose/v3/database"

	"github.com/ffsqlite/ffsqlite/migrations"
)

// ledgerStore is goose's SQLite version store that also keeps upstream's
// _sqlx_migrations in step. goose calls Insert and Delete inside the
// transaction that runs the migration, so each version's goose row and its
// _sqlx_migrations row commit or roll back together: a kill at any point
// leaves the two ledgers agreeing.
type ledgerStore struct {
	database.Store
}

var _ database.StoreExtender = ledgerStore{}

func newLedgerStore() (ledgerStore, error) {
	s, err := database.NewStore(database.DialectSQLite3, VersionTable)
	if err != nil {
		return ledgerStore{}, err
	}
	return ledgerStore{Store: s}, nil
}

// CreateVersionTable creates goose's table and, beside it, upstream's
// ledger (goose runs it in one transaction with the version 0 row).
func (s ledgerStore) CreateVersionTable(ctx context.Context, db database.DBTxConn) error {
	if err := s.Store.CreateVersionTable(ctx, db); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, sqlxCreateTable); err != nil {
		return fmt.Errorf("create %s: %w", SqlxTable, err)
	}
	return nil
}

// Insert records version v in both ledgers. goose's version 0 marker has
// no upstream counterpart.
func (s ledgerStore) Insert(ctx context.Context, db database.DBTxConn, req database.InsertRequest) error {
	if err := s.Store.Insert(ctx, db, req); err != nil {
		return err
	}
	if req.Version == 0 {
		return nil
	}
	return insertSqlxRow(ctx, db, req.Version)
}

// Delete removes version v from both ledgers.
func (s ledgerStore) Delete(ctx context.Context, db database.DBTxConn, version int64) error {
	if err := s.Store.Delete(ctx, db, version); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, sqlxDelete, version); err != nil {
		return fmt.Errorf("delete version %d from %s: %w", version, SqlxTable, err)
	}
	return nil
}

// TableExists answers goose's existence check from sqlite_master.
func (s ledgerStore) TableExists(ctx context.Context, db database.DBTxConn) (bool, error) {
	if x, ok := s.Store.(database.StoreExtender); ok {
		return x.TableExists(ctx, db)
	}
	return false, errors.ErrUnsupported
}

// insertSqlxRow writes upstream's row for version v.
func insertSqlxRow(ctx context.Context, db database.DBTxConn, v int64) error {
	m, ok := migrations.UpstreamVersion(v)
	if !ok {
		return fmt.Errorf("record version %d in %s: upstream ships no such migration", v, SqlxTable)
	}
	if _, err := db.ExecContext(ctx, sqlxInsert, m.Version, m.Description, m.Checksum); err != nil {
		return fmt.Errorf("record version %d in %s: %w", v, SqlxTable, err)
	}
	return nil
}
