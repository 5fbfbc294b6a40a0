package writer

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver

	"github.com/ffsqlite/ffsqlite/internal/leakcheck"
)

// Tests of the writer on real SQLite files and memory URIs, each on a
// table of its own: t(id INTEGER PRIMARY KEY, v TEXT), with a trigger that
// rolls back the whole transaction (RAISE(ROLLBACK)) on v = 'lose', and
// parent/child tables whose foreign key is checked at COMMIT.

// TestMain fails the suite when a test leaves goroutines running (a
// checkpointer, a writer's refusal pool, a stuck leader).
func TestMain(m *testing.M) { leakcheck.Main(m) }

var bg = context.Background()

const schema = `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
CREATE TRIGGER t_lose BEFORE INSERT ON t WHEN NEW.v = 'lose' BEGIN SELECT RAISE(ROLLBACK, 'transaction lost'); END;
CREATE TABLE log (seq INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);
CREATE TABLE parent (id INTEGER PRIMARY KEY);
CREATE TABLE child (pid INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)`

// opts shape a test writer.
type opts struct {
	memory bool
	// rollbackJournal keeps the rollback journal instead of WAL.
	rollbackJournal bool
	busy            time.Duration // busy_timeout; default 5 s
	hot             func(string) bool
	checkpointEvery int // > 0: background checkpoints on a file
}

// env is a writer on a fresh database with the test schema.
type env struct {
	t      *testing.T
	w      *Writer
	db     *sql.DB // the writer pool
	reader *sql.DB // reads; the writer pool itself on memory
	path   string  // file path or memory URI
	dsn    string  // path and the writer's parameters
	queued <-chan int
}

var memSeq atomic.Int64

func newEnv(t *testing.T, o opts) *env {
	t.Helper()
	if o.busy == 0 {
		o.busy = 5 * time.Second
	}
	e := &env{t: t}
	params := []string{
		fmt.Sprintf("_pragma=busy_timeout(%d)", o.busy.Milliseconds()),
		"_pragma=foreign_keys(1)", "_txlock=immediate", "_pragma=temp_store(MEMORY)",
	}
	conns := 2 // the held connection and one more, as in the backend
	if o.memory {
		e.path = fmt.Sprintf("file:writer-%d?mode=memory&cache=shared", memSeq.Add(1))
		conns = 1
	} else {
		e.path = filepath.Join(t.TempDir(), "w.db")
		if !o.rollbackJournal {
			params = append(params, "_pragma=journal_mode(WAL)")
		}
		if o.checkpointEvery > 0 {
			params = append(params, fmt.Sprintf("_pragma=wal_autocheckpoint(%d)", BackstopPages))
		}
	}
	sep := "?"
	if strings.Contains(e.path, "?") {
		sep = "&"
	}
	e.dsn = e.path + sep + strings.Join(params, "&")
	e.db = openPool(t, e.dsn, conns)
	if _, err := e.db.ExecContext(bg, schema); err != nil {
		t.Fatal(err)
	}
	e.reader = e.db
	if o.memory {
		// Keeps the memory database alive whatever the pool does.
		sentinel, err := openPool(t, e.path, 1).Conn(bg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sentinel.Close() })
	} else {
		e.reader = openPool(t, e.path, 2)
	}
	cfg := Config{DB: e.db, Hold: !o.memory, Hot: o.hot}
	if o.checkpointEvery > 0 {
		cfg.Checkpoint = openPool(t, e.path, 1)
		cfg.CheckpointEvery = o.checkpointEvery
	}
	e.w = New(cfg)
	t.Cleanup(func() {
		// Bounded: a stuck writer fails the test instead of hanging it.
		within(t, "Close", func() {
			if err := e.w.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	})
	return e
}

// openPool opens a pool closed at the end of the test (after the writer,
// whose clean-up registers later).
func openPool(t *testing.T, dsn string, conns int) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	t.Cleanup(func() { db.Close() })
	return db
}

const qInsert = `INSERT INTO t (id, v) VALUES (?, 'x')`

// insert returns a write function inserting the given ids.
func insert(ids ...int) Func {
	return func(ctx context.Context, tx *Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, qInsert, id); err != nil {
				return err
			}
		}
		return nil
	}
}

// ids returns the committed ids of t.
func (e *env) ids() string {
	e.t.Helper()
	rows, err := e.reader.QueryContext(bg, `SELECT id FROM t ORDER BY id`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var ids []int
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			e.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return fmt.Sprint(ids)
}

// count runs a count(*) query.
func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.reader.QueryRowContext(bg, q, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// queueWatch makes the writer signal every change of its queue's length.
// Set before the first write.
func (e *env) queueWatch() <-chan int {
	ch := make(chan int, 1024)
	e.w.gc.hooks.queued = func(n int) { ch <- n }
	return ch
}

// drain discards the queue signals sent so far (a blocking write's own,
// before it ran).
func drain(ch <-chan int) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// waitQueued waits until the queue holds n requests.
func waitQueued(t *testing.T, ch <-chan int, n int) {
	t.Helper()
	timeout := time.After(30 * time.Second) // only if the writer is stuck
	for {
		select {
		case got := <-ch:
			if got == n {
				return
			}
		case <-timeout:
			t.Fatalf("timed out waiting for %d queued requests", n)
		}
	}
}

// batch runs fns as one batch, in order: a blocking write holds the writer
// until every fn's request is queued behind it, one at a time. It returns
// each fn's result. ctxs, when not nil, gives the requests' contexts (nil
// entries: background). The writer must have been built without a
// queued hook; batch installs one on its first call.
func (e *env) batch(ctxs []context.Context, fns ...Func) []error {
	e.t.Helper()
	if e.w.gc.hooks.queued == nil {
		e.queued = e.queueWatch()
	}
	blocked, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	blockDone := make(chan error, 1)
	go func() {
		blockDone <- e.w.Write(bg, func(ctx context.Context, tx *Tx) error {
			once.Do(func() { close(blocked) })
			<-release
			return nil
		})
	}()
	<-blocked
	drain(e.queued)
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		ctx := bg
		if ctxs != nil && ctxs[i] != nil {
			ctx = ctxs[i]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.w.Write(ctx, fn)
		}()
		waitQueued(e.t, e.queued, i+1)
	}
	close(release)
	wg.Wait()
	if err := <-blockDone; err != nil {
		e.t.Fatalf("blocking write: %v", err)
	}
	return errs
}

// within fails the test unless f returns within a generous bound: for
// calls that used to hang.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s hangs", what)
	}
}
