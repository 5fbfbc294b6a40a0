package dbops_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/dbops"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/migrate"
)

// snapshotOf makes a migrated database with one execution and snapshots it.
func snapshotOf(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	b := testdb.Open(t)
	if _, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{ExecutionID: backend.NewExecutionID(1), Namespace: "ns",
		LaneID: "default", ExecutionKind: "k"}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "snap.db")
	if _, err := dbops.Snapshot(ctx, b.Path(), out, dbops.SnapshotOptions{Backend: quiet}); err != nil {
		t.Fatal(err)
	}
	return out
}

func spoil(t *testing.T, path, stmt string) {
	t.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(stmt); err != nil {
		t.Fatal(err)
	}
}

func TestRestoreRefusesSnapshotsItCannotOpen(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		make  func(t *testing.T) string
		check func(error) bool
	}{
		{"not sqlite", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "notes.db")
			os.WriteFile(p, []byte("just text, not a database at all\n"), 0o644)
			return p
		}, func(err error) bool { return errors.Is(err, backend.ErrNotDatabase) }},
		{"ahead of the binary", func(t *testing.T) string {
			p := snapshotOf(t)
			spoil(t, p, "INSERT INTO goose_db_version(version_id, is_applied) VALUES (23, 1)")
			return p
		}, func(err error) bool { var e *backend.SchemaAheadError; return errors.As(err, &e) }},
		{"schema drift", func(t *testing.T) string {
			p := snapshotOf(t)
			spoil(t, p, "ALTER TABLE ff_lane_registry ADD COLUMN extra TEXT")
			return p
		}, func(err error) bool { var e *migrate.SchemaMismatchError; return errors.As(err, &e) }},
		{"no goose ledger", func(t *testing.T) string {
			p := snapshotOf(t)
			spoil(t, p, "DROP TABLE goose_db_version")
			return p
		}, func(err error) bool { var e *dbops.NotManagedError; return errors.As(err, &e) }},
		{"dirty upstream row", func(t *testing.T) string {
			p := snapshotOf(t)
			spoil(t, p, "UPDATE _sqlx_migrations SET success = 0 WHERE version = 5")
			return p
		}, func(err error) bool { var e *migrate.UpstreamLedgerError; return errors.As(err, &e) }},
		{"missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope.db") },
			func(err error) bool {
				var e *dbops.NoSnapshotError
				return errors.As(err, &e) && errors.Is(err, os.ErrNotExist)
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			in := c.make(t)
			// An existing target stays byte for byte; a missing one is not
			// created.
			dst := testdb.Open(t).Path()
			before, _ := os.ReadFile(dst)
			_, err := dbops.Restore(ctx, dst, in, dbops.RestoreOptions{Backend: quiet})
			if err == nil || !c.check(err) {
				t.Fatalf("restore: %v", err)
			}
			if after, _ := os.ReadFile(dst); !bytes.Equal(before, after) {
				t.Fatal("refused restore changed the target")
			}
			missing := filepath.Join(t.TempDir(), "new.db")
			if _, err := dbops.Restore(ctx, missing, in, dbops.RestoreOptions{Backend: quiet}); err == nil || !c.check(err) {
				t.Fatalf("restore into a new file: %v", err)
			}
			if entries, _ := os.ReadDir(filepath.Dir(missing)); len(entries) != 0 {
				t.Fatalf("refused restore left files: %v", entries)
			}
		})
	}
}

func TestRestoreRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := snapshotOf(t)
	b := testdb.Open(t)
	for range 3 {
		if _, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{ExecutionID: backend.NewExecutionID(2), Namespace: "ns",
			LaneID: "default", ExecutionKind: "k"}); err != nil {
			t.Fatal(err)
		}
	}
	path := b.Path()
	b.Close(ctx) // restore refuses nothing here, but a live handle would share its pools
	res, err := dbops.Restore(ctx, path, in, dbops.RestoreOptions{Backend: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts.Executions != 1 || res.SchemaVersion != 22 || res.Created {
		t.Fatalf("restore result %+v", res)
	}
}

// Another program's connection to the target (here a plain database/sql
// pool, as a sqlite3 shell would be) sees the restored database after
// restore, with no reopening: the copy is one SQLite write transaction.
func TestRestoreIsSeenByAnotherConnection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := snapshotOf(t) // one execution
	b := testdb.Open(t)
	for range 4 {
		if _, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{ExecutionID: backend.NewExecutionID(2), Namespace: "ns",
			LaneID: "default", ExecutionKind: "k"}); err != nil {
			t.Fatal(err)
		}
	}
	path := b.Path()
	b.Close(ctx)
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.SetMaxOpenConns(1)
	var n int
	if err := other.QueryRow("SELECT count(*) FROM ff_exec_core").Scan(&n); err != nil || n != 4 {
		t.Fatalf("before: %d %v", n, err)
	}
	if _, err := dbops.Restore(ctx, path, in, dbops.RestoreOptions{Backend: quiet}); err != nil {
		t.Fatal(err)
	}
	if err := other.QueryRow("SELECT count(*) FROM ff_exec_core").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after: %d %v", n, err)
	}
	var check string
	if err := other.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity after restore: %q %v", check, err)
	}
}
