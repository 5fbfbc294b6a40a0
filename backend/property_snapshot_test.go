package backend_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"path/filepath"
	"strings"
	"testing"

	"modernc.org/sqlite"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// beforeQueryConnector opens plain read-only connections on a database
// file and calls before with each query's text before running it, so a
// test can commit a write between two of a reader's queries.
type beforeQueryConnector struct {
	dsn    string
	before func(q string)
}

func (c beforeQueryConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := (&sqlite.Driver{}).Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return beforeQueryConn{Conn: conn, before: c.before}, nil
}

func (c beforeQueryConnector) Driver() driver.Driver { return &sqlite.Driver{} }

type beforeQueryConn struct {
	driver.Conn
	before func(q string)
}

func (c beforeQueryConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.before(q)
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

// TestStorageCheckReadsOneSnapshot: engCheckStorage, which the property
// tests run on an open backend, must see the file as of one moment. Here
// an operator cancel of a replayed, running execution commits between its
// read of the executions and its read of the completion events: read in
// one transaction the state stays consistent (active, one completion for
// one replay); read query by query it looked like "active/leased: 2
// completion events with replay_count 1", the failure a CI run once
// reported for TestConcurrentProperty (there an asynchronous flow
// cancel's member cancel landed during the check).
func TestStorageCheckReadsOneSnapshot(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ff.db")
	b := testdb.OpenPath(t, path)
	id := engCreate(t, b)
	if err := b.Complete(engCtx, engClaim(t, b).Handle, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReplayExecution(engCtx, backend.ReplayExecutionArgs{ExecutionID: id}); err != nil {
		t.Fatal(err)
	}
	engClaim(t, b) // active and leased, replay_count 1, one completion event

	cancelled := false
	db := sql.OpenDB(beforeQueryConnector{dsn: "file:" + path + "?mode=ro", before: func(q string) {
		if cancelled || !strings.Contains(q, "FROM ff_completion_event") {
			return
		}
		cancelled = true
		if _, err := b.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: id, Reason: "mid-read"}); err != nil {
			t.Fatal(err)
		}
	}})
	t.Cleanup(func() { db.Close() })
	engCheckStorage(t, db)
	if !cancelled {
		t.Fatal("the cancel never ran: the check no longer reads ff_completion_event")
	}
	if got := engState(t, b, id); got != backend.StateCancelled {
		t.Fatalf("state after the cancel = %s, want cancelled", got)
	}
	engCheckStorage(t, b.ReaderDB()) // and the state after it is consistent too
}
