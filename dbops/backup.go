package dbops

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"

	sqlite "modernc.org/sqlite"

	"github.com/ffsqlite/ffsqlite/backend"
)

// onlineBackup is modernc.org/sqlite's driver connection seen through its
// online-backup API (sqlite3_backup_*).
type onlineBackup interface {
	NewBackup(dstURI string) (*sqlite.Backup, error)
	NewRestore(srcURI string) (*sqlite.Backup, error)
}

// copyAll runs one backup to completion in a single step: SQLite reads the
// source in one read transaction, so the copy is the source as of one
// instant, while writers on a WAL source carry on; the destination is
// written in one write transaction, so its other connections see all of it
// or none. A backup that is stepped in parts restarts whenever another
// connection writes the source, which under a busy serve never finishes.
func copyAll(bk *sqlite.Backup) error {
	if _, err := bk.Step(-1); err != nil {
		return errors.Join(err, bk.Finish())
	}
	return bk.Finish()
}

// backupTo copies the database behind db to the file dstURI.
func backupTo(ctx context.Context, db *sql.DB, dstURI string) error {
	return withBackupConn(ctx, db, true, func(c onlineBackup) error {
		bk, err := c.NewBackup(dstURI)
		if err != nil {
			return fmt.Errorf("start the backup: %w", err)
		}
		return copyAll(bk)
	})
}

// restoreFrom replaces the database behind db (a writer pool) with the
// database at srcURI.
func restoreFrom(ctx context.Context, db *sql.DB, srcURI string) error {
	return withBackupConn(ctx, db, false, func(c onlineBackup) error {
		bk, err := c.NewRestore(srcURI)
		if err != nil {
			return fmt.Errorf("start the restore: %w", err)
		}
		return copyAll(bk)
	})
}

// withBackupConn hands fn the driver connection of one of db's
// connections; with mmap (db is the source) it reads through a memory map.
func withBackupConn(ctx context.Context, db *sql.DB, mmap bool, fn func(onlineBackup) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if mmap {
		// Read the source's pages through a memory map: about twice as
		// fast as one read(2) per page on a large file.
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA mmap_size=%d", int64(backend.MmapAll))); err != nil {
			return err
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA mmap_size=0")
	}
	return conn.Raw(func(dc any) error {
		c, ok := dc.(onlineBackup)
		if !ok {
			return fmt.Errorf("the SQLite driver (%T) has no online backup", dc)
		}
		return fn(c)
	})
}

// fileURI is a file: URI for path with query parameters.
func fileURI(path string, query url.Values) string {
	u := url.URL{Scheme: "file", Path: path, RawQuery: query.Encode()}
	return u.String()
}
