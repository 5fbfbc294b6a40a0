package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pressly/goose/v3/database"

	"github.com/ffsqlite/ffsqlite/dblock"
	"github.com/ffsqlite/ffsqlite/migrations"
	"github.com/ffsqlite/ffsqlite/schemafacts"
)

// ErrNothingToAdopt is returned by Adopt on a database with no upstream
// ledger and no goose table: `migrate up` is what it needs.
var ErrNothingToAdopt = errors.New("database has no _sqlx_migrations ledger to adopt; run `ffsqlite migrate up`")

// SchemaMismatchError is returned by Adopt when the upstream database's
// schema is not exactly what the embedded migrations produce.
type SchemaMismatchError struct {
	Version int64
	Diffs   []string
}

func (e *SchemaMismatchError) Error() string {
	const show = 5
	d := e.Diffs
	more := ""
	if len(d) > show {
		more = fmt.Sprintf(" (and %d more)", len(d)-show)
		d = d[:show]
	}
	return fmt.Sprintf("schema does not match the embedded migrations at version %d: %s%s", e.Version, strings.Join(d, "; "), more)
}

// NotContiguousError is returned by Adopt when the upstream ledger records
// versions with a gap: upstream's runner applies every missing version in
// order, so such a ledger was not written by it.
type NotContiguousError struct{ Recorded []int64 }

func (e *NotContiguousError) Error() string {
	return fmt.Sprintf("_sqlx_migrations records versions %s, which are not every version from the first: upstream's runner never leaves a gap", versionList(e.Recorded))
}

// AdoptResult says what Adopt recorded (or, for a dry run, would record).
type AdoptResult struct {
	Version        int64   `json:"version"`
	Recorded       int     `json:"recorded"`
	Versions       []int64 `json:"versions"`
	AlreadyAdopted bool    `json:"already_adopted"`
	DryRun         bool    `json:"dry_run"`
}

// PlanAdopt runs every check of Adopt and reports what it would record,
// changing nothing (it works over a read-only backend).
func (m *Migrator) PlanAdopt(ctx context.Context) (*AdoptResult, error) {
	res, _, err := m.planAdopt(ctx)
	if res != nil {
		res.DryRun = true
	}
	return res, err
}

// planAdopt verifies the file for adoption and returns the result and the
// goose versions to record.
func (m *Migrator) planAdopt(ctx context.Context) (*AdoptResult, []int64, error) {
	if err := m.b.CheckIntegrity(ctx); err != nil { // adopt verifies the file: damage first
		return nil, nil, err
	}
	l, err := ReadLedgers(ctx, m.db)
	if err != nil {
		return nil, nil, err
	}
	u := l.Upstream()
	switch {
	case l.Kind == LedgerNone:
		return nil, nil, ErrNothingToAdopt
	case l.Kind == LedgerGoose && len(u.Extra) == 0:
		return &AdoptResult{Version: l.Version(), Versions: []int64{}, AlreadyAdopted: true}, nil, nil
	}
	// Verify the upstream ledger as upstream's runner would.
	if err := l.CheckSqlx(); err != nil {
		return nil, nil, err
	}
	recorded := u.Recorded
	if !slices.Equal(recorded, migrations.Versions()[:len(recorded)]) {
		return nil, nil, &NotContiguousError{Recorded: recorded}
	}
	version := int64(0)
	if len(recorded) > 0 {
		version = recorded[len(recorded)-1]
	}
	want, err := ExpectedFactsAt(ctx, version)
	if err != nil {
		return nil, nil, err
	}
	got, err := schemafacts.Collect(ctx, m.db)
	if err != nil {
		return nil, nil, err
	}
	if diffs := schemafacts.Diff(want, got); len(diffs) > 0 {
		return nil, nil, &SchemaMismatchError{Version: version, Diffs: diffs}
	}
	add := recorded
	if l.Goose {
		add = u.Extra
	}
	return &AdoptResult{Version: version, Recorded: len(add), Versions: slices.Clone(add)}, add, nil
}

// Adopt takes over a database whose upstream ledger is ahead of goose's:
// one created by upstream FlowFabric's runner, or one upstream's backend
// migrated further after ffsqlite. It verifies the upstream ledger as
// upstream's runner would (no dirty row, no unknown version, upstream's
// checksums) and that the schema is exactly what the embedded migrations
// produce at its version, then records the goose versions in one
// transaction without running any DDL. _sqlx_migrations is kept as it is.
func (m *Migrator) Adopt(ctx context.Context) (*AdoptResult, error) {
	if m.p == nil {
		return nil, ErrReadOnly
	}
	if !m.b.IsMemory() {
		ml, err := dblock.LockMigration(ctx, m.b.Path())
		if err != nil {
			return nil, err
		}
		defer ml.Release()
	}
	res, add, err := m.planAdopt(ctx)
	if err != nil || res.AlreadyAdopted {
		return res, err
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
	l, err := ReadLedgers(ctx, tx)
	if err != nil {
		return nil, err
	}
	if !l.Goose {
		if err := store.CreateVersionTable(ctx, tx); err != nil {
			return nil, fmt.Errorf("create %s: %w", VersionTable, err)
		}
		add = append([]int64{0}, add...)
	}
	for _, v := range add {
		if err := store.Insert(ctx, tx, database.InsertRequest{Version: v}); err != nil {
			return nil, fmt.Errorf("record version %d: %w", v, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return res, nil
}
