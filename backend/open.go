package backend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"modernc.org/sqlite" // registers the "sqlite" driver (pure Go); its Error for result codes

	"github.com/ffsqlite/ffsqlite/backend/internal/writer"
	"github.com/ffsqlite/ffsqlite/migrations"
)

// Backend is a handle on a shared, per-path engine. Handles from several
// Opens of one path share one set of connections; each handle is closed
// once, and the connections close with the last handle.
type Backend struct {
	in     *inner
	closed sync.Once
}

// inner is the shared state behind every handle of one path.
type inner struct {
	key      string
	loc      location
	opts     Options
	refs     int // guarded by registry's lock
	writer   *sql.DB
	reader   *sql.DB
	sentinel *sql.Conn
	sentDB   *sql.DB
	version  string
	walSet   atomic.Bool // journal_mode=WAL applied (file databases)
	// integrity remembers that the file passed its check (integrity.go).
	integrity integrityCheck

	closeMu sync.Mutex
	closers []func(context.Context) // run before the pools close, last first
	closed  bool                    // the last handle has closed; onClose refuses

	// Engine data plane: the outbox event hub (events.go), created lazily
	// and shut down through onClose.
	hubOnce sync.Once
	hub     *eventHub
	streams streamHub // tails waiting for an append (stream.go)

	// bg runs follow-up work after a call answered (background.go),
	// created lazily and stopped through onClose.
	bgOnce sync.Once
	bg     *background

	// wr runs the engine's write transactions on the writer pool
	// (write.go, backend/internal/writer) and, on a file database in WAL
	// mode, checkpoints beside them; nil when read-only.
	wr *writer.Writer
	// readyRebuilds counts rebuilds of the claim's ready index
	// (readyindex.go); readyOff, set only by tests before the first claim,
	// makes claims use the schema-only query instead (their baseline).
	readyRebuilds atomic.Int64
	readyOff      bool
	// readyEpoch counts the writer connections the index's TEMP tables
	// were set up on; readyStamp is the last committed rebuild's
	// (readyindex.go).
	readyEpoch atomic.Int64
	readyStamp atomic.Pointer[readyStamp]
	// quotaOff, set only by benchmarks, skips quota admission (the
	// baseline of its price; quota_admission.go).
	quotaOff bool
	// quotaHits counts claim candidates blocked by their quota.
	quotaHits atomic.Int64
	// conditions are the resume conditions suspends encoded, for the
	// signals that evaluate them (condition_memo.go).
	conditions conditionMemo
}

// SchemaAheadError is returned by Open when the database's goose version is
// newer than every migration this binary embeds.
type SchemaAheadError struct {
	DBVersion    int64
	KnownVersion int64
}

func (e *SchemaAheadError) Error() string {
	return fmt.Sprintf("database is at version %d, this ffsqlite knows up to %d", e.DBVersion, e.KnownVersion)
}

// VersionTooOldError is returned by Open when the linked SQLite is older
// than the 3.35 floor (RETURNING and DROP COLUMN are needed).
type VersionTooOldError struct{ Version string }

func (e *VersionTooOldError) Error() string {
	return fmt.Sprintf("SQLite %s is below the required floor 3.35", e.Version)
}

// Open returns the backend for path, a file path, a file: URI or an
// in-memory URI (":memory:", "file:NAME?mode=memory&cache=shared"). It
// refuses, before doing anything else, unless FF_DEV_MODE is exactly "1".
// A fresh construction logs the dev-only WARN banner once; a second Open of
// a live path returns a handle on the same backend without the banner and
// ignores opts. Open never migrates: callers apply migrations through the
// migrate package.
func Open(ctx context.Context, path string, opts Options) (*Backend, error) {
	if !DevModeEnabled() {
		return nil, ErrRequiresDevMode
	}
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	loc, err := resolve(path)
	if err != nil {
		return nil, err
	}
	registry.Lock()
	defer registry.Unlock()
	if in := lookupLocked(loc.key); in != nil {
		return &Backend{in: in}, nil
	}
	in, err := construct(ctx, loc, opts)
	if err != nil {
		return nil, err
	}
	in.refs = 1
	registry.live[loc.key] = in
	return &Backend{in: in}, nil
}

// construct builds a fresh inner. On failure it closes what it opened and,
// when it created the file, removes it again, so a failed Open leaves the
// filesystem as it was.
func construct(ctx context.Context, loc location, o Options) (in *inner, err error) {
	in = &inner{key: loc.key, loc: loc, opts: o}
	existed := true
	if !loc.memory {
		if existed, err = checkFile(loc, o); err != nil {
			return nil, err
		}
		if o.ReadOnly && !existed {
			return nil, fmt.Errorf("%s: %w", loc.file, ErrNotExist)
		}
	}
	defer func() {
		if err == nil {
			return
		}
		in.closePools()
		if !existed {
			for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
				os.Remove(loc.file + suffix)
			}
		}
	}()

	if loc.memory {
		// One connection serves reads and writes: under a shared cache,
		// concurrent connections fail each other with SQLITE_LOCKED instead
		// of waiting, so more connections would only add errors. Read-only,
		// it is a query_only connection and there is no writer, as on
		// files.
		if o.ReadOnly {
			if in.reader, err = openPool(loc.uri, o, poolReader, 1); err != nil {
				return in, err
			}
		} else {
			if in.writer, err = openPool(loc.uri, o, poolWriter, 1); err != nil {
				return in, err
			}
			in.reader = in.writer
			// The writer borrows the one connection per transaction.
			in.wr = writer.New(writer.Config{DB: in.writer, Setup: in.readySetup})
		}
		if in.sentDB, err = openPool(loc.uri, o, poolPlain, 1); err != nil {
			return in, err
		}
		if in.sentinel, err = in.sentDB.Conn(ctx); err != nil {
			return in, openErr(loc, "sentinel connect", err)
		}
	} else {
		if in.reader, err = openPool(loc.uri, o, poolReader, o.PoolSize); err != nil {
			return in, err
		}
	}
	err = in.reader.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&in.version)
	if err != nil && o.ReadOnly && !loc.memory && (isReadOnlyDirectory(err) || isCantOpen(err)) && !dirWritable(filepath.Dir(loc.file)) {
		// A WAL file in a directory this process cannot write: SQLite
		// cannot make the -shm file that reading through the WAL needs.
		// With no write-ahead log to read (a cleanly closed database),
		// the file alone is the database, and immutable=1 reads it
		// without the -shm file or any lock.
		if st, werr := os.Stat(loc.file + "-wal"); werr == nil && st.Size() > 0 {
			return in, fmt.Errorf("%s: the directory is not writable and the file has a write-ahead log (%s-wal) that SQLite can only read with a -shm file beside it: %w",
				loc.file, loc.file, ErrReadOnlyDirectory)
		}
		in.reader.Close()
		if in.reader, err = openPool(loc.uri+"?immutable=1", o, poolReader, o.PoolSize); err != nil {
			return in, err
		}
		err = in.reader.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&in.version)
	}
	if err != nil {
		return in, openErr(loc, "connect", err)
	}
	if !versionAtLeast(in.version, 3, 35) {
		return in, &VersionTooOldError{Version: in.version}
	}
	// Reading the schema surfaces a corrupt file before anything writes.
	var n int
	if err = in.reader.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
		return in, openErr(loc, "read schema", err)
	}
	if err = checkSchemaVersion(ctx, in.reader); err != nil {
		return in, err
	}
	if !loc.memory && !o.ReadOnly {
		// Two writer connections: the engine's write transactions hold one
		// (backend/internal/writer), WriterDB's callers use the other.
		if in.writer, err = openPool(loc.uri, o, poolWriter, 2); err != nil {
			return in, err
		}
		if err = in.writer.PingContext(ctx); err != nil {
			return in, openErr(loc, "connect", err)
		}
		cfg := writer.Config{DB: in.writer, Hold: true, Hot: isHot, Logger: o.Logger, Setup: in.readySetup}
		if o.backgroundCheckpoint(loc.uri) {
			// The checkpointer's own plain connection.
			if cfg.Checkpoint, err = openPool(loc.uri, o, poolPlain, 1); err != nil {
				return in, err
			}
			cfg.CheckpointEvery = o.CheckpointEvery
		}
		in.wr = writer.New(cfg)
	}
	o.Logger.Warn(BannerText)
	return in, nil
}

func openErr(loc location, what string, err error) error {
	name := loc.file
	if loc.memory {
		name = loc.uri
	}
	return fmt.Errorf("sqlite %s for %q: %w", what, name, err)
}

// isReadOnlyDirectory reports whether err is SQLite's
// SQLITE_READONLY_DIRECTORY: a database in WAL mode in a directory the
// process cannot write.
func isReadOnlyDirectory(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqliteReadOnlyDirectory
}

// isCantOpen reports whether err is SQLITE_CANTOPEN (any extended
// code): what SQLite answers instead when a -wal file is there but the
// -shm file cannot be made.
func isCantOpen(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqliteCantOpen
}

// SQLite result codes Open tells apart: SQLITE_READONLY_DIRECTORY (an
// extended code, SQLITE_READONLY | 6<<8) and SQLITE_CANTOPEN.
const (
	sqliteReadOnlyDirectory = 1544
	sqliteCantOpen          = 14
)

// backgroundCheckpoint reports whether a writer on uri runs with the
// writer's background checkpointer: file databases in WAL mode, unless
// turned off.
func (o Options) backgroundCheckpoint(uri string) bool {
	return !IsMemoryURI(uri) && !o.ReadOnly && !o.DisableWAL && o.CheckpointEvery > 0
}

type poolKind int

const (
	poolWriter poolKind = iota // BEGIN IMMEDIATE, WAL, synchronous
	poolReader                 // query_only
	poolPlain                  // memory sentinel, checkpointer
)

// openPool opens a database/sql pool with ffsqlite's per-connection
// pragmas. Pragmas are per connection, so they go in the DSN.
func openPool(uri string, o Options, kind poolKind, size int) (*sql.DB, error) {
	params := []string{
		fmt.Sprintf("_pragma=busy_timeout(%d)", o.BusyTimeout.Milliseconds()),
		"_pragma=foreign_keys(1)",
		// Takes effect only while the database is still empty: it sizes
		// the pages of a file this connection creates and leaves an
		// existing file as it is.
		fmt.Sprintf("_pragma=page_size(%d)", o.PageSize),
	}
	memory := IsMemoryURI(uri)
	switch kind {
	case poolWriter:
		// temp_store=MEMORY keeps statement and savepoint journals (group
		// commit runs each request in a savepoint) off temporary files.
		params = append(params, "_txlock=immediate", "_pragma=temp_store(MEMORY)",
			fmt.Sprintf("_pragma=cache_size(%d)", -o.WriterCacheMiB*1024)) // negative: KiB
		if !memory {
			params = append(params, "_pragma=synchronous("+o.Synchronous+")")
		}
		if o.backgroundCheckpoint(uri) {
			params = append(params, fmt.Sprintf("_pragma=wal_autocheckpoint(%d)", writer.BackstopPages))
		}
	case poolReader:
		params = append(params, "_pragma=query_only(1)")
	}
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	db, err := sql.Open("sqlite", uri+sep+strings.Join(params, "&"))
	if err != nil {
		return nil, fmt.Errorf("sqlite open %q: %w", uri, err)
	}
	db.SetMaxOpenConns(size)
	db.SetMaxIdleConns(size)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// checkSchemaVersion refuses a database migrated by a newer ffsqlite.
func checkSchemaVersion(ctx context.Context, db *sql.DB) error {
	var present int
	if err := db.QueryRowContext(ctx,
		"SELECT count(*) FROM sqlite_master WHERE type='table' AND name='goose_db_version'").Scan(&present); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if present == 0 {
		return nil
	}
	var v sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT max(version_id) FROM goose_db_version").Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v.Valid && v.Int64 > migrations.LatestVersion {
		return &SchemaAheadError{DBVersion: v.Int64, KnownVersion: migrations.LatestVersion}
	}
	return nil
}

func versionAtLeast(v string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(v, "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}

// Close releases this handle. The shared connections close with the last
// handle of the path; running hooks (subscriptions, scanners) stop first.
// Closing a handle twice is a no-op.
func (b *Backend) Close(ctx context.Context) error {
	var err error
	b.closed.Do(func() {
		if !release(b.in) {
			return
		}
		b.in.closeMu.Lock()
		closers := b.in.closers
		b.in.closers, b.in.closed = nil, true
		b.in.closeMu.Unlock()
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i](context.WithoutCancel(ctx))
		}
		err = b.in.closePools()
	})
	return err
}

// onClose registers fn to run when the last handle closes. It reports
// false, and registers nothing, when that has already happened: the caller
// must then not start what fn would stop.
func (in *inner) onClose(fn func(context.Context)) bool {
	in.closeMu.Lock()
	defer in.closeMu.Unlock()
	if in.closed {
		return false
	}
	in.closers = append(in.closers, fn)
	return true
}

func (in *inner) closePools() error {
	var errs []error
	if in.wr != nil {
		errs = append(errs, in.wr.Close())
	}
	if in.reader != nil && in.reader != in.writer {
		errs = append(errs, in.reader.Close())
	}
	if in.writer != nil {
		errs = append(errs, in.writer.Close())
	}
	if in.sentinel != nil {
		errs = append(errs, in.sentinel.Close())
	}
	if in.sentDB != nil {
		errs = append(errs, in.sentDB.Close())
	}
	return errors.Join(errs...)
}

// Path returns the database as opened: the absolute file path, or the
// effective in-memory URI.
func (b *Backend) Path() string {
	if b.in.loc.memory {
		return b.in.loc.uri
	}
	return b.in.loc.file
}

// IsMemory reports whether the database lives in memory only.
func (b *Backend) IsMemory() bool { return b.in.loc.memory }

// SQLiteVersion returns the linked SQLite library's version.
func (b *Backend) SQLiteVersion() string { return b.in.version }

// Logger returns the backend's logger.
func (b *Backend) Logger() *slog.Logger { return b.in.opts.Logger }

// ReadOnly reports whether the backend was opened query-only.
func (b *Backend) ReadOnly() bool { return b.in.writer == nil }

// WriterDB returns the write pool (nil when read-only): migrations and
// other writes outside the engine's own transactions run through it. On a
// file database its connections are the engine's held writer connection
// and one more; on a memory database, the one connection.
func (b *Backend) WriterDB() *sql.DB { return b.in.writer }

// ReaderDB returns the query-only read pool.
func (b *Backend) ReaderDB() *sql.DB { return b.in.reader }

// Now returns the engine clock's current time in Unix milliseconds.
func (b *Backend) Now() int64 { return b.in.opts.Now().UnixMilli() }

// Ping checks that the database answers a query.
func (b *Backend) Ping(ctx context.Context) error {
	var one int
	return b.in.reader.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// JournalMode returns the database's journal mode as SQLite reports it.
func (b *Backend) JournalMode(ctx context.Context) (string, error) {
	db := b.in.writer
	if db == nil {
		db = b.in.reader
	}
	var m string
	err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&m)
	return m, err
}

// PrepareWrite checks a file database's integrity (integrity.go) and
// switches it to WAL before its first write.
// Open itself never changes the file, so a command that refuses a file
// (an upstream ledger, a dry run) leaves it byte for byte as it was; every
// write path calls this first. Journal mode persists in the file, so it
// runs once per backend.
func (b *Backend) PrepareWrite(ctx context.Context) error {
	in := b.in
	if in.writer == nil {
		return ErrReadOnly
	}
	if err := b.checkBeforeWrite(ctx); err != nil {
		return err
	}
	if in.loc.memory || in.opts.DisableWAL || in.walSet.Load() {
		return nil
	}
	var mode string
	if err := in.writer.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		return fmt.Errorf("set WAL journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("set WAL journal mode: SQLite kept %q", mode)
	}
	in.walSet.Store(true)
	return nil
}

// SameAs reports whether two handles share one backend (registry hit).
func (b *Backend) SameAs(o *Backend) bool { return b.in == o.in }
