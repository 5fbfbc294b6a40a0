package dbops

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/dblock"
	"github.com/ffsqlite/ffsqlite/inspect"
	"github.com/ffsqlite/ffsqlite/migrate"
	"github.com/ffsqlite/ffsqlite/schemafacts"
)

// ErrNeedsFile is returned by Restore and Reset for an in-memory database:
// they work on files.
var ErrNeedsFile = errors.New("this command works on a database file, not an in-memory database")

// NoSnapshotError is Restore given an IN it cannot find.
type NoSnapshotError struct {
	Path string
	Err  error
}

func (e *NoSnapshotError) Error() string { return fmt.Sprintf("snapshot %s: %v", e.Path, e.Err) }

// Unwrap returns the cause (os.ErrNotExist and the like).
func (e *NoSnapshotError) Unwrap() error { return e.Err }

// BadSnapshotError is Restore given an IN that is not a usable snapshot
// (not SQLite, damaged, not ffsqlite's, ahead of this binary): Err says
// which, and IN is left as it was.
type BadSnapshotError struct {
	Path string
	Err  error
}

func (e *BadSnapshotError) Error() string {
	if msg := e.Err.Error(); strings.Contains(msg, e.Path) {
		return "snapshot " + msg // the cause names the file already
	}
	return fmt.Sprintf("snapshot %s: %v", e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *BadSnapshotError) Unwrap() error { return e.Err }

// NotManagedError is a snapshot without ffsqlite's goose ledger.
type NotManagedError struct{ Path string }

func (e *NotManagedError) Error() string {
	return fmt.Sprintf("%s has no goose_db_version ledger, so it is not a database ffsqlite made", e.Path)
}

// DamagedTargetError is Restore refusing to write into a damaged database:
// ffsqlite never writes to a file that fails its integrity check.
type DamagedTargetError struct{ Err error }

func (e *DamagedTargetError) Error() string { return "restore target: " + e.Err.Error() }

// Unwrap returns the *backend.CorruptError.
func (e *DamagedTargetError) Unwrap() error { return e.Err }

// RestoreOptions tunes Restore.
type RestoreOptions struct {
	// Backend configures how both files are opened (logger, pool).
	Backend backend.Options
}

// RestoreResult says what Restore did.
type RestoreResult struct {
	Path string `json:"path"`
	From string `json:"from"`
	// Created is set when DST did not exist before.
	Created       bool    `json:"created"`
	SizeBytes     int64   `json:"size_bytes"`
	SchemaVersion int64   `json:"schema_version"`
	Counts        Counts  `json:"counts"`
	DurationMS    float64 `json:"duration_ms"`
}

// Restore replaces the database dst with the snapshot in. First it checks
// that in is a database ffsqlite can open: SQLite, not damaged, with a
// goose ledger no newer than this binary, an upstream ledger its runner
// accepts, and exactly the schema the embedded migrations produce at its
// version; anything else fails with dst untouched. Then, holding dst's
// migration lock and its process lock exclusively (so it refuses while an
// ffsqlite serve or scan has dst open: their in-memory state would no
// longer match the file), it copies in over dst with SQLite's online
// backup in one write transaction. Any other connection to dst (a sqlite3
// shell, upstream's backend) sees either the old or the restored database,
// never a mix. A damaged dst is refused too: move it aside first.
func Restore(ctx context.Context, dst, in string, o RestoreOptions) (*RestoreResult, error) {
	if !backend.DevModeEnabled() {
		return nil, backend.ErrRequiresDevMode // before anything touches a file
	}
	start := time.Now()
	if backend.IsMemoryURI(dst) {
		return nil, ErrNeedsFile
	}
	inAbs, err := filepath.Abs(in)
	if err != nil {
		return nil, err
	}
	dstAbs, err := backend.FilePath(dst)
	if err != nil {
		return nil, err
	}
	if sameFile(inAbs, dstAbs) {
		return nil, &SameFileError{Path: dstAbs}
	}
	if _, err := os.Stat(inAbs); err != nil {
		return nil, &NoSnapshotError{Path: inAbs, Err: err}
	}
	release := inspect.HoldReadOnly(ctx, inAbs) // in is read, never checkpointed
	defer release()
	if err := checkSnapshot(ctx, inAbs, o.Backend); err != nil {
		return nil, &BadSnapshotError{Path: inAbs, Err: err}
	}

	_, statErr := os.Stat(dstAbs)
	existed := statErr == nil
	res := &RestoreResult{Path: dstAbs, From: inAbs, Created: !existed}
	err = restoreInto(ctx, dst, inAbs, existed, o, res)
	if err != nil {
		if !existed {
			removeDB(dstAbs)
			os.Remove(dblock.LockFile(dstAbs))
		}
		return nil, err
	}
	st, err := os.Stat(dstAbs)
	if err != nil {
		return nil, err
	}
	res.SizeBytes = st.Size()
	res.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	return res, nil
}

func restoreInto(ctx context.Context, dst, inAbs string, existed bool, o RestoreOptions, res *RestoreResult) error {
	bo := o.Backend
	bo.ReadOnly, bo.MustExist = false, false
	b, err := backend.Open(ctx, dst, bo)
	if err != nil {
		return err
	}
	defer b.Close(ctx)
	ml, err := dblock.LockMigration(ctx, b.Path())
	if err != nil {
		return err
	}
	defer ml.Release()
	x, err := ml.Exclusive()
	if err != nil {
		return err
	}
	defer x.Release()
	w := b.WriterDB()
	if existed {
		if err := b.CheckIntegrity(ctx); err != nil {
			return &DamagedTargetError{Err: err}
		}
		// A backup into a WAL database needs equal page sizes; out of WAL
		// the destination takes the snapshot's.
		if differ, err := pageSizesDiffer(ctx, w, inAbs); err != nil {
			return err
		} else if differ {
			if err := setJournalMode(ctx, w, "delete"); err != nil {
				return err
			}
		}
	}
	src := fileURI(inAbs, url.Values{"mode": {"ro"}, "_pragma": {fmt.Sprintf("mmap_size(%d)", int64(backend.MmapAll))}})
	if err := restoreFrom(ctx, w, src); err != nil {
		return fmt.Errorf("restore %s from %s: %w", b.Path(), inAbs, err)
	}
	if err := setJournalMode(ctx, w, "wal"); err != nil {
		return err
	}
	if _, err := w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return fmt.Errorf("checkpoint %s: %w", b.Path(), err)
	}
	l, err := migrate.ReadLedgers(ctx, b.ReaderDB())
	if err != nil {
		return err
	}
	res.SchemaVersion = l.Version()
	res.Counts, err = countRows(ctx, b.ReaderDB())
	return err
}

// checkSnapshot opens in query-only and checks it is a database ffsqlite
// can open and migrate.
func checkSnapshot(ctx context.Context, in string, bo backend.Options) error {
	bo.ReadOnly, bo.MustExist = true, true
	b, err := backend.Open(ctx, in, bo) // refuses non-SQLite files and schemas ahead of this binary
	if err != nil {
		return err
	}
	defer b.Close(ctx)
	if err := b.CheckIntegrity(ctx); err != nil {
		return err
	}
	l, err := migrate.ReadLedgers(ctx, b.ReaderDB())
	if err != nil {
		return err
	}
	if !l.Goose {
		return &NotManagedError{Path: b.Path()}
	}
	if err := l.CheckSqlx(); err != nil {
		return err
	}
	if u := l.Upstream(); len(u.Extra) > 0 {
		return &migrate.LedgersDisagreeError{Extra: u.Extra}
	}
	want, err := migrate.ExpectedFactsAt(ctx, l.Version())
	if err != nil {
		return err
	}
	got, err := schemafacts.Collect(ctx, b.ReaderDB())
	if err != nil {
		return err
	}
	if d := schemafacts.Diff(want, got); len(d) > 0 {
		return &migrate.SchemaMismatchError{Version: l.Version(), Diffs: d}
	}
	return nil
}

func pageSizesDiffer(ctx context.Context, w rowQuerier, inAbs string) (bool, error) {
	var dstSize, inSize int64
	if err := w.QueryRowContext(ctx, "PRAGMA page_size").Scan(&dstSize); err != nil {
		return false, err
	}
	db, err := openImmutable(inAbs)
	if err != nil {
		return false, err
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&inSize); err != nil {
		return false, err
	}
	return dstSize != inSize, nil
}

func setJournalMode(ctx context.Context, w rowQuerier, mode string) error {
	var got string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode="+mode).Scan(&got); err != nil {
		return fmt.Errorf("set journal mode %s: %w", mode, err)
	}
	if !strings.EqualFold(got, mode) {
		return fmt.Errorf("set journal mode %s: SQLite kept %q (is another process using the file?)", mode, got)
	}
	return nil
}
