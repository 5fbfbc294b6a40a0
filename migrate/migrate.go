// Package migrate applies ffsqlite's embedded, hand-ported migrations with
// goose's Provider, under the cross-process migration lock, keeps upstream
// FlowFabric's _sqlx_migrations ledger in step with goose's, and reports
// both ledgers' status.
package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/dblock"
	"github.com/ffsqlite/ffsqlite/migrations"
)

// VersionTable is goose's bookkeeping table.
const VersionTable = "goose_db_version"

// ErrUpstreamLedger is returned by commands that would run DDL on a
// database created by upstream FlowFabric's own runner (it has
// _sqlx_migrations and no goose table); `migrate adopt` converts it.
var ErrUpstreamLedger = errors.New("database was created by FlowFabric's own migration runner (_sqlx_migrations); run `ffsqlite migrate adopt` first")

// ErrNoNextVersion is returned by UpByOne when nothing is pending.
var ErrNoNextVersion = goose.ErrNoNextVersion

// ErrReadOnly is returned by the commands that change a database when the
// Migrator was built over a read-only backend.
var ErrReadOnly = errors.New("migrations need a writable database (the backend is open read-only)")

// Migrator runs migrations against one backend. Over a read-only backend
// it reports status, versions and plans and refuses to run anything.
type Migrator struct {
	b  *backend.Backend
	db *sql.DB
	p  *goose.Provider // nil when read-only
	fs fs.FS

	// recorded lists versions the last run recorded in _sqlx_migrations
	// for a database whose goose ledger was ahead of it (one migrated by
	// an ffsqlite without the upstream ledger).
	recorded []int64
}

// New builds a Migrator over b: its write pool (Backend.WriterDB), or its
// query-only pool when b is read-only.
func New(ctx context.Context, b *backend.Backend) (*Migrator, error) {
	return newWithFS(ctx, b, migrations.FS())
}

func newWithFS(_ context.Context, b *backend.Backend, fsys fs.FS) (*Migrator, error) {
	m := &Migrator{b: b, fs: fsys}
	if b.ReadOnly() {
		m.db = b.ReaderDB()
		return m, nil
	}
	m.db = b.WriterDB()
	store, err := newLedgerStore()
	if err != nil {
		return nil, err
	}
	// No goose locker: run takes the migration lock itself, before the
	// file is first written, and holds it across a redo's two steps.
	m.p, err = goose.NewProvider(goose.DialectCustom, m.db, fsys,
		goose.WithStore(store),
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return m, nil
}

// Result is one applied or rolled-back migration.
type Result struct {
	Version   int64         `json:"version"`
	Name      string        `json:"name"`
	Direction string        `json:"direction"`
	Duration  time.Duration `json:"-"`
	// DurationMS is Duration in milliseconds, for JSON output.
	DurationMS float64 `json:"duration_ms"`
}

func toResults(rs []*goose.MigrationResult) []Result {
	out := make([]Result, 0, len(rs))
	for _, r := range rs {
		out = append(out, Result{
			Version:    r.Source.Version,
			Name:       sourceName(r.Source.Version),
			Direction:  r.Direction,
			Duration:   r.Duration,
			DurationMS: float64(r.Duration.Microseconds()) / 1000,
		})
	}
	return out
}

// guard refuses to run DDL over an upstream-created database.
func (m *Migrator) guard(ctx context.Context) (*Ledgers, error) {
	l, err := ReadLedgers(ctx, m.db)
	if err != nil {
		return nil, err
	}
	if l.Kind == LedgerUpstream {
		return nil, ErrUpstreamLedger
	}
	return l, nil
}

// locked runs fn holding the migration lock (file databases), and for a
// destructive run also the exclusive process lock, so it refuses while a
// serve or scan has the file. Inside, before anything is written: the
// upstream-ledger guard, the integrity check and the switch to WAL
// (Backend.PrepareWrite), and the ledgers brought into step.
func (m *Migrator) locked(ctx context.Context, destructive bool, fn func(context.Context) error) error {
	if m.p == nil {
		return ErrReadOnly
	}
	if !m.b.IsMemory() {
		ml, err := dblock.LockMigrationNotify(ctx, m.b.Path(), func() {
			m.b.Logger().Info("waiting for the migration lock: another ffsqlite command is migrating the file", "db", m.b.Path())
		})
		if err != nil {
			return err
		}
		defer ml.Release()
		if destructive {
			x, err := ml.Exclusive()
			if err != nil {
				return err
			}
			defer x.Release()
		}
	}
	l, err := m.guard(ctx)
	if err != nil {
		return err
	}
	if err := m.b.PrepareWrite(ctx); err != nil {
		return err
	}
	if err := m.syncUpstream(ctx, l); err != nil {
		return err
	}
	return fn(ctx)
}

// syncUpstream brings _sqlx_migrations into step with goose before a run:
// versions goose applied without an upstream row (a database migrated by
// an ffsqlite that did not keep the upstream ledger) are recorded in one
// transaction. A ledger upstream's runner would refuse, or one recording
// versions goose has not applied, stops the run with the file unchanged.
func (m *Migrator) syncUpstream(ctx context.Context, l *Ledgers) error {
	m.recorded = nil
	if !l.Goose {
		return nil // a fresh file: goose creates both ledgers
	}
	if err := l.CheckSqlx(); err != nil {
		return err
	}
	u := l.Upstream()
	if len(u.Extra) > 0 {
		return &LedgersDisagreeError{Extra: u.Extra}
	}
	if len(u.Missing) == 0 && l.Sqlx {
		return nil
	}
	tx, err := m.db.BeginTx(ctx, nil) // writer: BEGIN IMMEDIATE
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, sqlxCreateTable); err != nil {
		return fmt.Errorf("create %s: %w", SqlxTable, err)
	}
	for _, v := range u.Missing {
		if err := insertSqlxRow(ctx, tx, v); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	m.recorded = u.Missing
	return nil
}

// Recorded lists the versions the last run recorded in _sqlx_migrations
// to bring it into step with goose (empty when it already was).
func (m *Migrator) Recorded() []int64 { return m.recorded }

// runGoose runs one goose call and turns a partial failure into a message
// naming the failed migration.
func runGoose(ctx context.Context, f func(context.Context) ([]*goose.MigrationResult, error)) ([]Result, error) {
	rs, err := f(ctx)
	var perr *goose.PartialError
	if errors.As(err, &perr) {
		done := toResults(perr.Applied)
		failed := ""
		if perr.Failed != nil && perr.Failed.Source != nil {
			failed = sourceName(perr.Failed.Source.Version)
		}
		return done, fmt.Errorf("migration %s failed (rolled back; %d applied before it): %w", failed, len(done), perr.Err)
	}
	return toResults(rs), err
}

func (m *Migrator) run(ctx context.Context, destructive bool, f func(context.Context) ([]*goose.MigrationResult, error)) ([]Result, error) {
	var rs []Result
	err := m.locked(ctx, destructive, func(ctx context.Context) error {
		var err error
		rs, err = runGoose(ctx, f)
		return err
	})
	return rs, err
}

func (m *Migrator) upByOne(ctx context.Context) ([]*goose.MigrationResult, error) {
	r, err := m.p.UpByOne(ctx)
	if err != nil {
		return nil, err
	}
	return []*goose.MigrationResult{r}, nil
}

func (m *Migrator) down(ctx context.Context) ([]*goose.MigrationResult, error) {
	r, err := m.p.Down(ctx)
	if errors.Is(err, goose.ErrNoNextVersion) {
		return nil, nothingAppliedError{} // goose's text reads oddly for a rollback
	}
	if err != nil {
		return nil, err
	}
	return []*goose.MigrationResult{r}, nil
}

// nothingAppliedError is a rollback with no migration applied. It is
// ErrNoNextVersion to errors.Is, so callers treat it as goose's.
type nothingAppliedError struct{}

func (nothingAppliedError) Error() string { return "nothing to roll back: no migration is applied" }

func (nothingAppliedError) Is(target error) bool { return target == ErrNoNextVersion }

// Up applies every pending migration.
func (m *Migrator) Up(ctx context.Context) ([]Result, error) {
	return m.run(ctx, false, func(ctx context.Context) ([]*goose.MigrationResult, error) { return m.p.Up(ctx) })
}

// UpByOne applies the next pending migration; ErrNoNextVersion when none.
func (m *Migrator) UpByOne(ctx context.Context) ([]Result, error) {
	return m.run(ctx, false, m.upByOne)
}

// UpTo applies pending migrations up to and including version v.
func (m *Migrator) UpTo(ctx context.Context, v int64) ([]Result, error) {
	if err := m.checkVersion(v); err != nil {
		return nil, err
	}
	return m.run(ctx, false, func(ctx context.Context) ([]*goose.MigrationResult, error) { return m.p.UpTo(ctx, v) })
}

// Down rolls back the latest applied migration. Like every rollback it
// refuses while another ffsqlite process serves or scans the file.
func (m *Migrator) Down(ctx context.Context) ([]Result, error) {
	return m.run(ctx, true, m.down)
}

// DownTo rolls back every migration above version v (0 = all).
func (m *Migrator) DownTo(ctx context.Context, v int64) ([]Result, error) {
	if v != 0 {
		if err := m.checkVersion(v); err != nil {
			return nil, err
		}
	}
	return m.run(ctx, true, func(ctx context.Context) ([]*goose.MigrationResult, error) { return m.p.DownTo(ctx, v) })
}

// Redo rolls back the latest migration and applies it again, under one
// hold of the lock.
func (m *Migrator) Redo(ctx context.Context) ([]Result, error) {
	var rs []Result
	err := m.locked(ctx, true, func(ctx context.Context) error {
		down, err := runGoose(ctx, m.down)
		rs = down
		if err != nil {
			return err
		}
		up, err := runGoose(ctx, m.upByOne)
		rs = append(rs, up...)
		return err
	})
	return rs, err
}

// Reset rolls back every applied migration.
func (m *Migrator) Reset(ctx context.Context) ([]Result, error) { return m.DownTo(ctx, 0) }

// Ledgers reads both ledgers of the database.
func (m *Migrator) Ledgers(ctx context.Context) (*Ledgers, error) { return ReadLedgers(ctx, m.db) }

// Version returns the database's schema version by its governing ledger
// (0 when none).
func (m *Migrator) Version(ctx context.Context) (int64, error) {
	l, err := ReadLedgers(ctx, m.db)
	if err != nil {
		return 0, err
	}
	return l.Version(), nil
}

// HasPending reports whether any embedded migration is not applied, by
// the governing ledger.
func (m *Migrator) HasPending(ctx context.Context) (bool, error) {
	l, err := ReadLedgers(ctx, m.db)
	if err != nil {
		return false, err
	}
	return len(l.Pending()) > 0, nil
}

// UnknownVersionError is returned for a target version that no embedded
// migration has.
type UnknownVersionError struct{ Version int64 }

func (e *UnknownVersionError) Error() string {
	return fmt.Sprintf("no migration has version %d (known: %v)", e.Version, migrations.Versions())
}

func (m *Migrator) checkVersion(v int64) error {
	for _, k := range migrations.Versions() {
		if k == v {
			return nil
		}
	}
	return &UnknownVersionError{Version: v}
}

// UpLatest opens no new connection: it applies every pending migration on
// b, the call init and serve make.
func UpLatest(ctx context.Context, b *backend.Backend) ([]Result, error) {
	m, err := New(ctx, b)
	if err != nil {
		return nil, err
	}
	return m.Up(ctx)
}
