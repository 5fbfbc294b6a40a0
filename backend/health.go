package backend

import (
	"context"
	"fmt"
	"io"
	"os"
)

// Health is what a liveness probe compares over time: the schema cookie
// and, for a file database, the file's identity.
type Health struct {
	// SchemaVersion is SQLite's schema cookie (PRAGMA schema_version). It
	// changes with every schema change: a migration, a dropped table.
	SchemaVersion int64
	// File is the database file as stat(2) saw it at its path; nil for an
	// in-memory database. os.SameFile compares two.
	File os.FileInfo
}

// CheckHealth runs the cheap checks behind /healthz: it reads the schema
// cookie through the reader pool and, for a file database, stats the path
// and re-reads the file's first 16 bytes from disk (past SQLite's page
// cache), which must still be SQLite's magic string. It costs one pragma,
// one stat and one 16-byte read; it does not walk the b-trees (see
// `PRAGMA quick_check` for that).
func (b *Backend) CheckHealth(ctx context.Context) (Health, error) {
	var h Health
	if err := b.in.reader.QueryRowContext(ctx, "PRAGMA schema_version").Scan(&h.SchemaVersion); err != nil {
		return h, fmt.Errorf("read schema version: %w", err)
	}
	if b.in.loc.memory {
		return h, nil
	}
	f, err := os.Open(b.in.loc.file)
	if err != nil {
		return h, fmt.Errorf("open database file: %w", err)
	}
	defer f.Close()
	if h.File, err = f.Stat(); err != nil {
		return h, fmt.Errorf("stat database file: %w", err)
	}
	head := make([]byte, len(sqliteHeader))
	if _, err := io.ReadFull(f, head); err != nil {
		return h, fmt.Errorf("read database file header: %w", err)
	}
	if string(head) != sqliteHeader {
		return h, fmt.Errorf("%s: file header is no longer SQLite's: %w", b.in.loc.file, ErrNotDatabase)
	}
	return h, nil
}
