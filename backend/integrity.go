package backend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// ErrCorrupt matches (errors.Is) a *CorruptError.
var ErrCorrupt = errors.New("database file is corrupt")

// CorruptError is a database file that fails SQLite's integrity check.
type CorruptError struct {
	Path string
	// Problems are quick_check's first findings (at most integrityShow),
	// or the error that reading the file failed with.
	Problems []string
}

func (e *CorruptError) Error() string {
	first := "no detail"
	if len(e.Problems) > 0 {
		first = e.Problems[0]
	}
	more := ""
	if len(e.Problems) > 1 {
		more = fmt.Sprintf(" (and %d more)", len(e.Problems)-1)
	}
	return fmt.Sprintf("%s is corrupt (PRAGMA quick_check: %s%s); ffsqlite writes nothing to it", e.Path, first, more)
}

// Is makes errors.Is(err, ErrCorrupt) match.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// integrityShow bounds how many findings quick_check reports.
const integrityShow = 10

// integrityCheck runs the check once per backend, before its first write
// (PrepareWrite), and remembers a pass; a failure is checked again next
// time.
type integrityCheck struct {
	mu     sync.Mutex
	passed atomic.Bool
}

// CheckIntegrity runs SQLite's PRAGMA quick_check over the whole file on a
// read connection and returns a *CorruptError when it finds a problem (or
// reading fails the way a damaged file does). It reads every page: on the
// README's 1,000,000-execution file it takes about as long as reading the
// file once. Memory databases always pass.
func (b *Backend) CheckIntegrity(ctx context.Context) error {
	if b.in.loc.memory {
		return nil
	}
	return CheckIntegrityOf(ctx, b.in.reader, b.Path())
}

// MmapAll is the mmap_size (as much as SQLite allows) that whole-file
// passes (the integrity check, a snapshot's copy) set on the connection
// they read with: reading pages through a memory map instead of one
// read(2) per page makes them about 1.4–2× faster on a large file.
const MmapAll = 1 << 40

// CheckIntegrityOf runs the check of CheckIntegrity on db, a connection
// pool over the file at path (for files not opened as a Backend).
func CheckIntegrityOf(ctx context.Context, db *sql.DB, path string) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return integrityErr(path, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA mmap_size=%d", int64(MmapAll))); err != nil {
		return integrityErr(path, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA mmap_size=0") // the pool's connection goes back as it was
	rows, err := conn.QueryContext(ctx, fmt.Sprintf("PRAGMA quick_check(%d)", integrityShow))
	if err != nil {
		return integrityErr(path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return integrityErr(path, err)
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		return integrityErr(path, err)
	}
	if len(problems) > 0 {
		return &CorruptError{Path: path, Problems: problems}
	}
	return nil
}

// integrityErr classifies a failed check: damage SQLite reports as an
// error is corruption too; anything else (a cancelled context) is not.
func integrityErr(path string, err error) error {
	s := err.Error()
	for _, m := range []string{"malformed", "SQLITE_CORRUPT", "not a database", "SQLITE_NOTADB"} {
		if strings.Contains(s, m) {
			return &CorruptError{Path: path, Problems: []string{s}}
		}
	}
	return fmt.Errorf("integrity check of %s: %w", path, err)
}

// checkBeforeWrite is PrepareWrite's integrity gate: the first write of a
// backend waits for a passing check, later ones see the remembered pass.
func (b *Backend) checkBeforeWrite(ctx context.Context) error {
	c := &b.in.integrity
	if c.passed.Load() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.passed.Load() {
		return nil
	}
	if err := b.CheckIntegrity(ctx); err != nil {
		return err
	}
	c.passed.Store(true)
	return nil
}
