// Package testdb opens fresh, fully migrated ffsqlite databases for tests:
// real SQLite files in the test's temp directory or private in-memory URIs,
// closed through t.Cleanup. It is test-only; nothing in production imports
// it.
package testdb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"log/slog"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/leakcheck"
	"github.com/ffsqlite/ffsqlite/migrate"
)

// Main sets FF_DEV_MODE=1 for the whole test binary and runs the tests
// under the goroutine-leak check (leakcheck). Call it from TestMain; tests
// of the guard unset it with t.Setenv in non-parallel tests.
func Main(m *testing.M) {
	os.Setenv(backend.DevModeEnv, "1")
	leakcheck.Main(m)
}

// Option adjusts the backend options a helper opens with.
type Option func(*backend.Options)

// WithClock makes the engine read time from now.
func WithClock(now func() time.Time) Option {
	return func(o *backend.Options) { o.Now = now }
}

// Open returns a backend on a fresh, migrated database file in tb's temp
// directory.
func Open(tb testing.TB, opts ...Option) *backend.Backend {
	tb.Helper()
	return OpenPath(tb, filepath.Join(tb.TempDir(), "ff.db"), opts...)
}

var memSeq atomic.Int64

// OpenMemory returns a backend on a fresh, migrated, private in-memory
// database (a unique shared-cache URI).
func OpenMemory(tb testing.TB, opts ...Option) *backend.Backend {
	tb.Helper()
	uri := fmt.Sprintf("file:testdb-%d-%d?mode=memory&cache=shared", os.Getpid(), memSeq.Add(1))
	return OpenPath(tb, uri, opts...)
}

// OpenPath opens and migrates the database at path.
func OpenPath(tb testing.TB, path string, opts ...Option) *backend.Backend {
	tb.Helper()
	o := backend.Options{Logger: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(&o)
	}
	ctx := context.Background()
	b, err := backend.Open(ctx, path, o)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	tb.Cleanup(func() { b.Close(ctx) })
	if _, err := migrate.UpLatest(ctx, b); err != nil {
		tb.Fatalf("migrate %s: %v", path, err)
	}
	return b
}

// Clock is a settable test clock.
type Clock struct{ ms atomic.Int64 }

// NewClock starts a clock at ms.
func NewClock(ms int64) *Clock {
	c := &Clock{}
	c.ms.Store(ms)
	return c
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return time.UnixMilli(c.ms.Load()) }

// MS returns the clock's time in Unix milliseconds.
func (c *Clock) MS() int64 { return c.ms.Load() }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

// Set moves the clock to ms.
func (c *Clock) Set(ms int64) { c.ms.Store(ms) }
