// Package dblock holds the two cross-process locks ffsqlite takes on a
// database file, both flock(2) locks that the kernel drops when the
// process dies, so a killed command never leaves a stale lock:
//
//   - the migration lock, an exclusive flock on the database file itself,
//     held by every command while it changes the schema or the file as a
//     whole, and briefly by serve and scan while they register;
//   - the process lock, a flock on the sidecar file DB-lock: serve and
//     scan hold it shared for their whole life and write who they are
//     (pid, command, address) into it; destructive commands (migrate down,
//     down-to, redo, reset; restore; reset) need it exclusive and refuse,
//     naming the holders, while anyone else has it.
//
// SQLite locks with fcntl byte-range locks, which Linux and the BSDs keep
// apart from flock locks, so neither lock interferes with SQLite's own
// locking. The process lock is only ever taken while the migration lock is
// held, always without waiting, so the two can never deadlock: every
// command takes the migration lock first, then tries the process lock.
package dblock

import (
	"context"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// lockPoll is how often a waiting command retries the migration lock.
const lockPoll = 25 * time.Millisecond

// Migration is a held migration lock.
type Migration struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// LockMigration waits until it holds the migration lock of the database
// file at path, or ctx ends. The file must exist and be writable.
func LockMigration(ctx context.Context, path string) (*Migration, error) {
	return LockMigrationNotify(ctx, path, nil)
}

// LockMigrationNotify is LockMigration calling waiting once, before it
// starts to wait, when another process holds the lock (to say so).
func LockMigrationNotify(ctx context.Context, path string, waiting func()) (*Migration, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s for the migration lock: %w", path, err)
	}
	for first := true; ; first = false {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &Migration{path: path, f: f}, nil
		}
		if err != syscall.EWOULDBLOCK && err != syscall.EINTR {
			f.Close()
			return nil, fmt.Errorf("migration lock on %s: %w", path, err)
		}
		if first && waiting != nil && err == syscall.EWOULDBLOCK {
			waiting()
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for the migration lock on %s (another ffsqlite command is migrating it): %w", path, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}

// TryLockMigration takes the migration lock only if it is free at once;
// ok is false when another command holds it.
func TryLockMigration(path string) (m *Migration, ok bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, false, fmt.Errorf("open %s for the migration lock: %w", path, err)
	}
	switch err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err {
	case nil:
		return &Migration{path: path, f: f}, true, nil
	case syscall.EWOULDBLOCK:
		f.Close()
		return nil, false, nil
	default:
		f.Close()
		return nil, false, fmt.Errorf("migration lock on %s: %w", path, err)
	}
}

// Path is the database file the lock is on.
func (m *Migration) Path() string { return m.path }

// Release drops the lock; releasing twice is a no-op.
func (m *Migration) Release() error {
	m.mu.Lock()
	f := m.f
	m.f = nil
	m.mu.Unlock()
	if f == nil {
		return nil
	}
	return f.Close() // closing the descriptor releases the flock
}
