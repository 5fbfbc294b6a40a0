// Package migrate applies ffsqlite's embedded, hand-ported migrations with
// goose's Provider, under a cross-process lock, and reports their status.
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
	"github.com/pressly/goose/v3/lock"

	"github.com/ffsqlite/ffsqlite/backend"
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

// Migrator runs migrations against one backend.
type Migrator struct {
	b  *backend.Backend
	db *sql.DB
	p  *goose.Provider
	fs fs.FS
}

// New builds a Migrator over b's write pool (Backend.WriterDB). The
// backend must not be read-only.
func New(ctx context.Context, b *backend.Backend) (*Migrator, error) {
	return newWithFS(ctx, b, migrations.FS())
}

func newWithFS(_ context.Context, b *backend.Backend, fsys fs.FS) (*Migrator, error) {
	db := b.WriterDB()
	if db == nil {
		return nil, errors.New("migrations need a writable backend")
	}
	opts := []goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(slog.New(slog.DiscardHandler)),
	}
	if !b.IsMemory() {
		var l lock.Locker = &fileLocker{path: b.Path()}
		opts = append(opts, goose.WithLocker(l))
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return &Migrator{b: b, db: db, p: p, fs: fsys}, nil
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
func (m *Migrator) guard(ctx context.Context) error {
	st, err := DetectLedger(ctx, m.db)
	if err != nil {
		return err
	}
	if st == LedgerUpstream {
		return ErrUpstreamLedger
	}
	return nil
}

// prepare is guard plus switching the file to WAL: the last step before
// anything is written.
func (m *Migrator) prepare(ctx context.Context) error {
	if err := m.guard(ctx); err != nil {
		return err
	}
	return m.b.PrepareWrite(ctx)
}

func (m *Migrator) run(ctx context.Context, f func(context.Context) ([]*goose.MigrationResult, error)) ([]Result, error) {
	if err := m.prepare(ctx); err != nil {
		return nil, err
	}
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

// Up applies every pending migration.
func (m *Migrator) Up(ctx context.Context) ([]Result, error) { return m.run(ctx, m.p.Up) }

// UpByOne applies the next pending migration; ErrNoNextVersion when none.
func (m *Migrator) UpByOne(ctx context.Context) ([]Result, error) {
	return m.run(ctx, func(ctx context.Context) ([]*goose.MigrationResult, error) {
		r, err := m.p.UpByOne(ctx)
		if err != nil {
			return nil, err
		}
		return []*goose.MigrationResult{r}, nil
	})
}

// UpTo applies pending migrations up to and including version v.
func (m *Migrator) UpTo(ctx context.Context, v int64) ([]Result, error) {
	if err := m.checkVersion(v); err != nil {
		return nil, err
	}
	return m.run(ctx, func(ctx context.Context) ([]*goose.MigrationResult, error) { return m.p.UpTo(ctx, v) })
}

// Down rolls back the latest applied migration.
func (m *Migrator) Down(ctx context.Context) ([]Result, error) {
	return m.run(ctx, func(ctx context.Context) ([]*goose.MigrationResult, error) {
		r, err := m.p.Down(ctx)
		if err != nil {
			return nil, err
		}
		return []*goose.MigrationResult{r}, nil
	})
}

// DownTo rolls back every migration above version v (0 = all).
func (m *Migrator) DownTo(ctx context.Context, v int64) ([]Result, error) {
	if v != 0 {
		if err := m.checkVersion(v); err != nil {
			return nil, err
		}
	}
	return m.run(ctx, func(ctx context.Context) ([]*goose.MigrationResult, error) { return m.p.DownTo(ctx, v) })
}

// Redo rolls back the latest migration and applies it again.
func (m *Migrator) Redo(ctx context.Context) ([]Result, error) {
	down, err := m.Down(ctx)
	if err != nil {
		return down, err
	}
	up, err := m.UpByOne(ctx)
	return append(down, up...), err
}

// Reset rolls back every applied migration.
func (m *Migrator) Reset(ctx context.Context) ([]Result, error) { return m.DownTo(ctx, 0) }

// Version returns the database's current schema version (0 when none).
func (m *Migrator) Version(ctx context.Context) (int64, error) {
	st, err := DetectLedger(ctx, m.db)
	if err != nil {
		return 0, err
	}
	if st != LedgerGoose {
		return 0, nil
	}
	return m.p.GetDBVersion(ctx)
}

// HasPending reports whether any embedded migration is not applied.
func (m *Migrator) HasPending(ctx context.Context) (bool, error) {
	st, err := DetectLedger(ctx, m.db)
	if err != nil {
		return false, err
	}
	if st != LedgerGoose {
		return true, nil
	}
	return m.p.HasPending(ctx)
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
