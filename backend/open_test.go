package backend_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

const guardText = "SqliteBackend requires FF_DEV_MODE=1 to activate. SQLite is dev-only; see https://github.com/avifenesh/FlowFabric/blob/main/docs/dev-harness.md for details."

// bufLogger captures log lines so tests can count banners.
func bufLogger() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

// Not parallel: it changes FF_DEV_MODE for the process.
func TestGuardRefuses(t *testing.T) {
	for _, v := range []string{"", "0", "true", "yes", " 1", "1 ", "01", "TRUE"} {
		t.Run(fmt.Sprintf("%q", v), func(t *testing.T) {
			t.Setenv(backend.DevModeEnv, v)
			dir := t.TempDir()
			path := filepath.Join(dir, "ff.db")
			log, buf := bufLogger()
			b, err := backend.Open(context.Background(), path, backend.Options{Logger: log})
			if b != nil || !errors.Is(err, backend.ErrRequiresDevMode) {
				t.Fatalf("Open = %v, %v; want refusal", b, err)
			}
			if err.Error() != guardText {
				t.Fatalf("refusal text:\n%s\nwant\n%s", err, guardText)
			}
			if buf.Len() != 0 {
				t.Fatalf("refusal logged %q", buf.String())
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("refusal created files: %v", entries)
			}
		})
	}
	t.Run("unset", func(t *testing.T) {
		t.Setenv(backend.DevModeEnv, "1")
		os.Unsetenv(backend.DevModeEnv)
		_, err := backend.Open(context.Background(), ":memory:", backend.Options{})
		if !errors.Is(err, backend.ErrRequiresDevMode) {
			t.Fatalf("unset: %v", err)
		}
	})
}

// A registry hit still passes the guard.
func TestGuardOnRegistryHit(t *testing.T) {
	ctx := context.Background()
	b := testdb.OpenMemory(t)
	t.Setenv(backend.DevModeEnv, "")
	if _, err := backend.Open(ctx, b.Path(), backend.Options{}); !errors.Is(err, backend.ErrRequiresDevMode) {
		t.Fatalf("registry hit without FF_DEV_MODE: %v", err)
	}
}

func TestBannerOncePerConstruction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ff.db")
	log, buf := bufLogger()
	b1, err := backend.Open(ctx, path, backend.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	b2, err := backend.Open(ctx, path, backend.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if !b1.SameAs(b2) {
		t.Fatal("second Open did not share the backend")
	}
	if n := strings.Count(buf.String(), backend.BannerText); n != 1 {
		t.Fatalf("banner printed %d times, want 1:\n%s", n, buf)
	}
	if !strings.Contains(buf.String(), "level=WARN") {
		t.Fatalf("banner not at WARN: %s", buf)
	}
	b1.Close(ctx)
	if err := b2.Ping(ctx); err != nil {
		t.Fatalf("closing one handle broke the other: %v", err)
	}
	b2.Close(ctx)
	b3, err := backend.Open(ctx, path, backend.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer b3.Close(ctx)
	if n := strings.Count(buf.String(), backend.BannerText); n != 2 {
		t.Fatalf("banner after full close and reopen: %d, want 2", n)
	}
}

func TestRegistryCanonicalPaths(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "ff.db")
	link := filepath.Join(dir, "link.db")
	b1 := testdb.OpenPath(t, path)
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{link, filepath.Join(dir, ".", "ff.db"), filepath.Join(dir, "sub", "..", "ff.db"), "file:" + path} {
		if p == filepath.Join(dir, "sub", "..", "ff.db") {
			os.Mkdir(filepath.Join(dir, "sub"), 0o755)
		}
		b, err := backend.Open(ctx, p, backend.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("open %s: %v", p, err)
		}
		if !b.SameAs(b1) {
			t.Errorf("%s did not resolve to the same backend as %s", p, path)
		}
		b.Close(ctx)
	}
}

func TestMemoryURIsAreDistinct(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := testdb.OpenMemory(t)
	b := testdb.OpenMemory(t)
	if a.SameAs(b) {
		t.Fatal("distinct memory URIs shared a backend")
	}
	if _, err := a.WriterDB().ExecContext(ctx, "INSERT INTO ff_lane_registry(lane_id, registered_at_ms, registered_by) VALUES ('x', 1, 't')"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.ReaderDB().QueryRowContext(ctx, "SELECT count(*) FROM ff_lane_registry").Scan(&n); err != nil || n != 0 {
		t.Fatalf("b sees a's row: n=%d err=%v", n, err)
	}
	a2, err := backend.Open(ctx, a.Path(), backend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close(ctx)
	if !a2.SameAs(a) {
		t.Fatal("same memory URI did not share")
	}
}

// Bare :memory: with a pool of 4 keeps its data across connection churn.
// It is the only test using bare :memory:, which is one database per
// process.
func TestBareMemorySurvivesPoolChurn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, err := backend.Open(ctx, ":memory:", backend.Options{PoolSize: 4, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	if b.Path() != "file::memory:?cache=shared" {
		t.Fatalf("bare memory path = %q", b.Path())
	}
	db := b.WriterDB()
	if _, err := db.ExecContext(ctx, "CREATE TABLE t(v INTEGER); INSERT INTO t VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c.Raw(func(any) error { return nil })
		c.Close()
		db.SetMaxIdleConns(0) // drop idle connections: only the sentinel keeps the database
		db.SetMaxIdleConns(1)
	}
	var v int
	if err := b.ReaderDB().QueryRowContext(ctx, "SELECT v FROM t").Scan(&v); err != nil || v != 42 {
		t.Fatalf("after churn: v=%d err=%v", v, err)
	}
}

func TestPragmas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := testdb.Open(t)
	check := func(db *sql.DB, pragma, want string) {
		t.Helper()
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
	check(b.WriterDB(), "journal_mode", "wal")
	check(b.WriterDB(), "foreign_keys", "1")
	check(b.WriterDB(), "synchronous", "1")
	check(b.WriterDB(), "busy_timeout", "5000")
	check(b.WriterDB(), "page_size", strconv.Itoa(backend.DefaultPageSize))
	check(b.ReaderDB(), "query_only", "1")
	check(b.ReaderDB(), "foreign_keys", "1")
	if _, err := b.ReaderDB().ExecContext(ctx, "INSERT INTO ff_lane_registry VALUES ('x', 1, 'y')"); err == nil {
		t.Fatal("reader pool accepted a write")
	}
	if v := b.SQLiteVersion(); v < "3.35" {
		t.Fatalf("sqlite version %s", v)
	}
}

func TestOpenBadInputs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	quiet := backend.Options{Logger: slog.New(slog.DiscardHandler)}
	t.Run("not sqlite", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "notes.txt")
		content := []byte("these are my notes, not a database\n")
		os.WriteFile(path, content, 0o644)
		_, err := backend.Open(ctx, path, quiet)
		if !errors.Is(err, backend.ErrNotDatabase) {
			t.Fatalf("err = %v", err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, content) {
			t.Fatal("file modified")
		}
		assertOnly(t, filepath.Dir(path), "notes.txt")
	})
	t.Run("corrupt", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "corrupt.db")
		content := append([]byte("SQLite format 3\x00"), bytes.Repeat([]byte{0xAB}, 8192)...)
		os.WriteFile(path, content, 0o644)
		_, err := backend.Open(ctx, path, quiet)
		if err == nil {
			t.Fatal("corrupt file opened")
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, content) {
			t.Fatal("file modified")
		}
		assertOnly(t, filepath.Dir(path), "corrupt.db")
	})
	t.Run("missing parent", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		_, err := backend.Open(ctx, filepath.Join(dir, "no", "such", "ff.db"), quiet)
		if !errors.Is(err, backend.ErrNoParentDir) {
			t.Fatalf("err = %v", err)
		}
		assertOnly(t, dir)
	})
	t.Run("must exist", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		o := quiet
		o.MustExist = true
		_, err := backend.Open(ctx, filepath.Join(dir, "ff.db"), o)
		if !errors.Is(err, backend.ErrNotExist) {
			t.Fatalf("err = %v", err)
		}
		assertOnly(t, dir)
	})
	t.Run("read-only location", func(t *testing.T) {
		t.Parallel()
		// /proc refuses file creation even to root.
		_, err := backend.Open(ctx, "/proc/ffsqlite-test.db", quiet)
		if err == nil {
			t.Fatal("opened a database in /proc")
		}
		if _, serr := os.Stat("/proc/ffsqlite-test.db"); serr == nil {
			t.Fatal("file created in /proc")
		}
	})
	t.Run("schema ahead", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "ahead.db")
		b := testdb.OpenPath(t, path)
		if _, err := b.WriterDB().ExecContext(ctx, "INSERT INTO goose_db_version(version_id, is_applied) VALUES (99, 1)"); err != nil {
			t.Fatal(err)
		}
		b.Close(ctx)
		before, _ := os.ReadFile(path)
		_, err := backend.Open(ctx, path, quiet)
		var ahead *backend.SchemaAheadError
		if !errors.As(err, &ahead) || err.Error() != "database is at version 99, this ffsqlite knows up to 22" {
			t.Fatalf("err = %v", err)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
			t.Fatal("file modified")
		}
	})
	t.Run("bad options", func(t *testing.T) {
		t.Parallel()
		o := quiet
		o.Synchronous = "sometimes"
		if _, err := backend.Open(ctx, filepath.Join(t.TempDir(), "x.db"), o); err == nil || !strings.Contains(err.Error(), "synchronous") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad page size", func(t *testing.T) {
		t.Parallel()
		for _, size := range []int{-1, 256, 1000, 3072, 131072} {
			dir := t.TempDir()
			o := quiet
			o.PageSize = size
			_, err := backend.Open(ctx, filepath.Join(dir, "x.db"), o)
			want := fmt.Sprintf("invalid page size %d: must be a power of two from 512 to 65536", size)
			if err == nil || err.Error() != want {
				t.Errorf("PageSize %d: err = %v, want %q", size, err, want)
			}
			assertOnly(t, dir)
		}
	})
}

// TestPageSize: a database ffsqlite creates gets Options.PageSize (default
// DefaultPageSize); an existing file keeps its own page size through
// Open, migrations and writes.
func TestPageSize(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pageSize := func(b *backend.Backend) int {
		t.Helper()
		var n int
		if err := b.ReaderDB().QueryRowContext(ctx, "PRAGMA page_size").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := pageSize(testdb.Open(t)); got != backend.DefaultPageSize {
		t.Errorf("new database: page_size %d, want %d", got, backend.DefaultPageSize)
	}
	if got := pageSize(testdb.Open(t, func(o *backend.Options) { o.PageSize = 8192 })); got != 8192 {
		t.Errorf("PageSize 8192: page_size %d", got)
	}

	// A file made elsewhere with SQLite's default 4096-byte pages.
	path := filepath.Join(t.TempDir(), "elsewhere.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "PRAGMA page_size=4096; CREATE TABLE other (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	b := testdb.OpenPath(t, path) // migrates: writes
	if _, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{
		ExecutionID: backend.NewExecutionID(0), LaneID: "default", ExecutionKind: "task",
	}); err != nil {
		t.Fatal(err)
	}
	if got := pageSize(b); got != 4096 {
		t.Errorf("existing file: page_size %d after open and writes, want 4096", got)
	}
}

// TestWriterCache: the engine's writer connection (and the writer pool's
// other one) run with Options.WriterCacheMiB of page cache, default
// DefaultWriterCacheMiB; the read pool keeps SQLite's default; a bad size
// is refused before anything is created.
func TestWriterCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cache := func(b *backend.Backend) (held, other, reader int) {
		t.Helper()
		if err := b.WriteTx(ctx, "test", func(ctx context.Context, tx *backend.Txn) error {
			return tx.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&held)
		}); err != nil {
			t.Fatal(err)
		}
		if err := b.WriterDB().QueryRowContext(ctx, "PRAGMA cache_size").Scan(&other); err != nil {
			t.Fatal(err)
		}
		if err := b.ReaderDB().QueryRowContext(ctx, "PRAGMA cache_size").Scan(&reader); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := -backend.DefaultWriterCacheMiB * 1024
	if held, other, reader := cache(testdb.Open(t)); held != want || other != want || reader != -2000 {
		t.Errorf("default: cache_size %d (held), %d (other writer), %d (reader); want %d, %d, -2000", held, other, reader, want, want)
	}
	if held, other, _ := cache(testdb.Open(t, func(o *backend.Options) { o.WriterCacheMiB = 3 })); held != -3072 || other != -3072 {
		t.Errorf("WriterCacheMiB 3: cache_size %d, %d; want -3072", held, other)
	}
	dir := t.TempDir()
	_, err := backend.Open(ctx, filepath.Join(dir, "x.db"), backend.Options{WriterCacheMiB: -1, Logger: slog.New(slog.DiscardHandler)})
	if want := "invalid writer cache -1 MiB: must be 1 to 1048576"; err == nil || err.Error() != want {
		t.Errorf("WriterCacheMiB -1: err = %v, want %q", err, want)
	}
	assertOnly(t, dir)
}

// assertOnly fails unless dir holds exactly the named entries.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if fmt.Sprint(got) != fmt.Sprint(names) && !(len(got) == 0 && len(names) == 0) {
		t.Fatalf("%s holds %v, want %v", dir, got, names)
	}
}
