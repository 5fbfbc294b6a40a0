package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// lockPoll is how often a waiting migrator retries the file lock.
const lockPoll = 25 * time.Millisecond

// fileLocker is a goose lock.Locker that takes an exclusive flock(2) on the
// database file itself for the whole migration run. SQLite locks with
// fcntl byte-range locks, which Linux keeps apart from flock locks, so this
// never interferes with SQLite's own locking; the kernel drops it when the
// process dies, so a killed migrator never leaves a stale lock behind, and
// no extra table or file is created. goose ships no SQLite locker
// (pressly/goose#1022).
type fileLocker struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

func (l *fileLocker) Lock(ctx context.Context, _ *sql.DB) error {
	f, err := os.OpenFile(l.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open %s for the migration lock: %w", l.path, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if err != syscall.EWOULDBLOCK && err != syscall.EINTR {
			f.Close()
			return fmt.Errorf("lock %s: %w", l.path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return fmt.Errorf("wait for another migrator on %s: %w", l.path, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
	l.mu.Lock()
	l.f = f
	l.mu.Unlock()
	return nil
}

func (l *fileLocker) Unlock(context.Context, *sql.DB) error {
	l.mu.Lock()
	f := l.f
	l.f = nil
	l.mu.Unlock()
	if f == nil {
		return nil
	}
	// Closing the descriptor releases the flock.
	return f.Close()
}
