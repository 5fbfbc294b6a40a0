package dbops

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/dblock"
	"github.com/ffsqlite/ffsqlite/inspect"
	"github.com/ffsqlite/ffsqlite/migrate"
)

// ExistsError is Snapshot refusing to overwrite a file without Force.
type ExistsError struct{ Path string }

func (e *ExistsError) Error() string {
	return fmt.Sprintf("%s already exists; snapshot never overwrites a file unless told to", e.Path)
}

// SameFileError is a command given one file as both its source and its
// destination.
type SameFileError struct{ Path string }

func (e *SameFileError) Error() string {
	return fmt.Sprintf("%s is both the database and the snapshot", e.Path)
}

// SnapshotOptions tunes Snapshot.
type SnapshotOptions struct {
	// Force replaces an existing OUT.
	Force bool
	// Backend configures how the source is opened (logger, pool); it is
	// always opened read-only.
	Backend backend.Options
}

// SnapshotResult says what Snapshot wrote.
type SnapshotResult struct {
	Path          string  `json:"path"`
	SizeBytes     int64   `json:"size_bytes"`
	SchemaVersion int64   `json:"schema_version"`
	Counts        Counts  `json:"counts"`
	DurationMS    float64 `json:"duration_ms"`
}

// Snapshot writes a consistent copy of the database src to the file out
// with SQLite's online backup, safe while serve or scan keep writing src:
// the copy is src as of one instant (every transaction committed before it
// began, none after). It checks src's integrity beside the copy and
// refuses a damaged one. The copy goes to a temporary file in out's
// directory, is synced and then moved into place, so out is either the
// whole snapshot or untouched. src itself is opened query-only and never
// written.
func Snapshot(ctx context.Context, src, out string, o SnapshotOptions) (*SnapshotResult, error) {
	if !backend.DevModeEnabled() {
		return nil, backend.ErrRequiresDevMode // before anything touches a file
	}
	start := time.Now()
	outAbs, err := filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	if !o.Force {
		if _, err := os.Lstat(outAbs); err == nil {
			return nil, &ExistsError{Path: outAbs}
		}
	}
	if st, err := os.Stat(filepath.Dir(outAbs)); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("snapshot %s: %w", outAbs, backend.ErrNoParentDir)
	}
	if backend.IsMemoryURI(src) {
		return nil, ErrNeedsFile // a new process's in-memory database is empty
	}
	release := inspect.HoldReadOnly(ctx, src)
	defer release()
	bo := o.Backend
	bo.ReadOnly, bo.MustExist = true, true
	b, err := backend.Open(ctx, src, bo)
	if err != nil {
		return nil, err
	}
	defer b.Close(ctx)
	if !b.IsMemory() && sameFile(b.Path(), outAbs) {
		return nil, &SameFileError{Path: outAbs}
	}
	tmp, err := tempName(outAbs)
	if err != nil {
		return nil, err
	}
	defer removeDB(tmp) // a no-op once it is renamed

	// The integrity check reads the source on another connection while the
	// backup copies it and the copy is described: on two cores it costs
	// little extra time.
	checked := make(chan error, 1)
	go func() { checked <- b.CheckIntegrity(ctx) }()
	res := &SnapshotResult{Path: outAbs}
	err = func() error {
		dst := fileURI(tmp, url.Values{"_pragma": {"journal_mode(OFF)", "synchronous(OFF)"}})
		if err := backupTo(ctx, b.ReaderDB(), dst); err != nil {
			return err
		}
		// A snapshot is one self-contained file: out of WAL, so opening it
		// read-only creates no -wal or -shm (restore switches its target
		// back).
		if err := rollbackJournal(ctx, tmp); err != nil {
			return err
		}
		var err error
		res.SchemaVersion, res.Counts, err = describe(ctx, tmp)
		return err
	}()
	if err := errors.Join(<-checked, err); err != nil {
		return nil, err
	}
	if err := syncFile(tmp); err != nil {
		return nil, err
	}
	if o.Force {
		// Replacing a database another ffsqlite process serves or scans
		// would pull it from under that process: refuse, as restore does.
		if st, err := os.Stat(outAbs); err == nil && st.Mode().IsRegular() {
			ml, err := dblock.LockMigration(ctx, outAbs)
			if err != nil {
				return nil, err
			}
			defer ml.Release()
			x, err := ml.Exclusive()
			if err != nil {
				return nil, err
			}
			defer x.Release()
		}
	}
	if err := moveIntoPlace(tmp, outAbs, o.Force); err != nil {
		return nil, err
	}
	st, err := os.Stat(outAbs)
	if err != nil {
		return nil, err
	}
	res.SizeBytes = st.Size()
	res.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	return res, nil
}

// describe reads a closed database file's schema version and counts
// without creating its -wal or -shm (immutable: nothing else has it open).
func describe(ctx context.Context, path string) (int64, Counts, error) {
	db, err := openImmutable(path)
	if err != nil {
		return 0, Counts{}, err
	}
	defer db.Close()
	l, err := migrate.ReadLedgers(ctx, db)
	if err != nil {
		return 0, Counts{}, err
	}
	c, err := countRows(ctx, db)
	return l.Version(), c, err
}

// rollbackJournal switches the closed database file at path out of WAL.
func rollbackJournal(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", fileURI(path, nil))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	return setJournalMode(ctx, db, "delete")
}

// openImmutable opens a database file that nothing else writes,
// read-only and without locks or companions.
func openImmutable(path string) (*sql.DB, error) {
	return sql.Open("sqlite", fileURI(path, url.Values{"mode": {"ro"}, "immutable": {"1"}}))
}

// tempName is a fresh hidden name beside path.
func tempName(path string) (string, error) {
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-"+hex.EncodeToString(r[:])), nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}

// moveIntoPlace renames tmp to path. Without force it links instead, which
// fails when path appeared meanwhile, so an existing file is never
// replaced. The -wal and -shm of an older file at path go first: SQLite
// would otherwise read an unrelated WAL into the snapshot.
func moveIntoPlace(tmp, path string, force bool) error {
	if _, err := os.Lstat(path); force || errors.Is(err, os.ErrNotExist) {
		os.Remove(path + "-wal")
		os.Remove(path + "-shm")
	}
	if force {
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	} else {
		if err := os.Link(tmp, path); err != nil {
			if errors.Is(err, os.ErrExist) {
				return &ExistsError{Path: path}
			}
			return err
		}
		os.Remove(tmp)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	_ = d.Sync() // best effort: not every filesystem syncs directories
	return nil
}

// removeDB removes a database file and its SQLite companions.
func removeDB(path string) {
	for _, s := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(path + s)
	}
}

// sameFile reports whether a and b name one existing file.
func sameFile(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}
