package backend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/retry"
)

// Group commit tests (groupcommit.go) on a plain table of their own; no
// migrations needed. FF_DEV_MODE comes from TestMain (open_test.go).

var gcCtx = context.Background()

// gcOpen opens a fresh file backend with table t(id, v). Hooks must be
// installed by the caller before the first concurrent write.
func gcOpen(t *testing.T, o Options) *Backend {
	t.Helper()
	o.Logger = slog.New(slog.DiscardHandler)
	b, err := Open(gcCtx, filepath.Join(t.TempDir(), "gc.db"), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(gcCtx) })
	if err := b.WriteTx(gcCtx, "setup", func(ctx context.Context, tx *Txn) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return b
}

// gcInsert returns a write function inserting the given ids.
func gcInsert(ids ...int) func(context.Context, *Txn) error {
	return func(ctx context.Context, tx *Txn) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, 'x')`, id); err != nil {
				return err
			}
		}
		return nil
	}
}

// gcIDs returns the committed ids, read through the reader pool.
func gcIDs(t *testing.T, b *Backend) []int {
	t.Helper()
	rows, err := b.ReaderDB().QueryContext(gcCtx, `SELECT id FROM t ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func (g *groupCommit) queued() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}

func gcWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// gcBatch runs fns as one batch, in order: a blocking write holds the
// writer until every fn's request is queued behind it, one at a time. It
// returns each fn's writeTx result.
func gcBatch(t *testing.T, b *Backend, ctxs []context.Context, fns ...func(context.Context, *Txn) error) []error {
	t.Helper()
	g := &b.in.gc
	blocked, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	blockDone := make(chan error, 1)
	go func() {
		blockDone <- b.WriteTx(gcCtx, "block", func(ctx context.Context, tx *Txn) error {
			once.Do(func() { close(blocked) })
			<-release
			return nil
		})
	}()
	<-blocked
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		ctx := gcCtx
		if ctxs != nil && ctxs[i] != nil {
			ctx = ctxs[i]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.WriteTx(ctx, fmt.Sprint("w", i), fn)
		}()
		gcWaitFor(t, "request queued", func() bool { return g.queued() == i+1 })
	}
	close(release)
	wg.Wait()
	if err := <-blockDone; err != nil {
		t.Fatalf("blocking write: %v", err)
	}
	return errs
}

func TestGroupCommitBatchesConcurrentWrites(t *testing.T) {
	b := gcOpen(t, Options{})
	g := &b.in.gc
	before := b.GroupCommitStats()
	// Hold the writer until several writers queue, so that at least one
	// batch is certain; the rest batch as they happen to.
	blocked := make(chan struct{})
	go b.WriteTx(gcCtx, "block", func(ctx context.Context, tx *Txn) error {
		close(blocked)
		for g.queued() < 8 {
			time.Sleep(time.Millisecond)
		}
		return nil
	})
	<-blocked
	const writers, each = 32, 20
	var wg sync.WaitGroup
	var hooks atomic.Int64
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := 1 + w*each + i
				err := b.WriteTx(gcCtx, "insert", func(ctx context.Context, tx *Txn) error {
					tx.AfterCommit(func() { hooks.Add(1) })
					return gcInsert(id)(ctx, tx)
				})
				if err != nil {
					t.Errorf("insert %d: %v", id, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := len(gcIDs(t, b)); n != writers*each {
		t.Fatalf("%d rows committed, want %d", n, writers*each)
	}
	if h := hooks.Load(); h != writers*each {
		t.Fatalf("%d AfterCommit hooks ran, want %d", h, writers*each)
	}
	st := b.GroupCommitStats()
	if st.Grouped-before.Grouped < 1 || st.MaxBatch < 2 {
		t.Fatalf("no batch carried more than one request: %+v", st)
	}
	if st.MaxBatch > maxBatch {
		t.Fatalf("batch of %d exceeds the cap %d", st.MaxBatch, maxBatch)
	}
	if tx := st.Batches - before.Batches; tx >= writers*each+1 {
		t.Fatalf("%d transactions for %d writes: nothing was batched", tx, writers*each+1)
	}
}

func TestGroupCommitSingleRequestRunsAlone(t *testing.T) {
	b := gcOpen(t, Options{})
	before := b.GroupCommitStats()
	if err := b.WriteTx(gcCtx, "one", gcInsert(1)); err != nil {
		t.Fatal(err)
	}
	st := b.GroupCommitStats()
	if st.Batches-before.Batches != 1 || st.Grouped != before.Grouped {
		t.Fatalf("stats %+v after one write (before %+v)", st, before)
	}
}

// A failing request in the middle of a batch leaves no trace; the others
// commit and only their AfterCommit hooks run, after the commit.
func TestGroupCommitFailureIsolated(t *testing.T) {
	b := gcOpen(t, Options{})
	var sizes []int
	b.in.gc.hooks.batch = func(n int) { sizes = append(sizes, n) }
	errBoom := errors.New("boom")
	var ran sync.Map // hook name -> committed ids seen by the reader when it ran
	hook := func(tx *Txn, name string) {
		tx.AfterCommit(func() {
			var n int
			if err := b.ReaderDB().QueryRow(`SELECT count(*) FROM t WHERE id IN (1, 5)`).Scan(&n); err != nil {
				t.Error(err)
			}
			ran.Store(name, n)
		})
	}
	errs := gcBatch(t, b, nil,
		func(ctx context.Context, tx *Txn) error {
			hook(tx, "ok1")
			return gcInsert(1)(ctx, tx)
		},
		func(ctx context.Context, tx *Txn) error {
			hook(tx, "boom")
			if err := gcInsert(2, 3)(ctx, tx); err != nil {
				return err
			}
			return errBoom
		},
		func(ctx context.Context, tx *Txn) error {
			hook(tx, "dup")
			return gcInsert(4, 1)(ctx, tx) // 1 is ok1's, in this same transaction
		},
		func(ctx context.Context, tx *Txn) error {
			hook(tx, "ok2")
			return gcInsert(5)(ctx, tx)
		},
	)
	if errs[0] != nil || errs[3] != nil {
		t.Fatalf("successful requests failed: %v", errs)
	}
	if !errors.Is(errs[1], errBoom) {
		t.Fatalf("failing request: %v, want boom", errs[1])
	}
	if errs[2] == nil || retry.IsRetryableBusy(errs[2]) {
		t.Fatalf("duplicate insert: %v, want a constraint error", errs[2])
	}
	if got := fmt.Sprint(gcIDs(t, b)); got != "[1 5]" {
		t.Fatalf("committed ids %s, want [1 5]", got)
	}
	for _, name := range []string{"boom", "dup"} {
		if _, ok := ran.Load(name); ok {
			t.Errorf("AfterCommit of failed request %s ran", name)
		}
	}
	for _, name := range []string{"ok1", "ok2"} {
		if n, ok := ran.Load(name); !ok || n != 2 {
			t.Errorf("AfterCommit of %s: ran %v, saw %v committed rows; want it to run after both committed", name, ok, n)
		}
	}
	if fmt.Sprint(sizes) != "[1 4]" {
		t.Fatalf("batch sizes %v, want [1 4] (the blocker, then the four requests together)", sizes)
	}
}

// A request whose context ends while it is queued runs nothing and gets
// the context's error; the rest of its batch commits.
func TestGroupCommitCancelledBeforeRun(t *testing.T) {
	b := gcOpen(t, Options{})
	g := &b.in.gc
	blocked, release := make(chan struct{}), make(chan struct{})
	blockDone := make(chan error, 1)
	go func() {
		blockDone <- b.WriteTx(gcCtx, "block", func(ctx context.Context, tx *Txn) error {
			close(blocked)
			<-release
			return nil
		})
	}()
	<-blocked
	ctx, cancel := context.WithCancel(gcCtx)
	defer cancel()
	var ran atomic.Bool
	fns := []func(context.Context, *Txn) error{
		gcInsert(1),
		func(ctx context.Context, tx *Txn) error { ran.Store(true); return gcInsert(2)(ctx, tx) },
		gcInsert(3),
	}
	ctxs := []context.Context{gcCtx, ctx, gcCtx}
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.WriteTx(ctxs[i], "w", fns[i])
		}()
		gcWaitFor(t, "request queued", func() bool { return g.queued() == i+1 })
	}
	cancel() // while queued behind the blocker
	close(release)
	wg.Wait()
	if err := <-blockDone; err != nil {
		t.Fatal(err)
	}
	if ran.Load() {
		t.Fatal("the cancelled request's function ran")
	}
	if !errors.Is(errs[1], context.Canceled) {
		t.Fatalf("cancelled request: %v, want context.Canceled", errs[1])
	}
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("other requests: %v", errs)
	}
	if got := fmt.Sprint(gcIDs(t, b)); got != "[1 3]" {
		t.Fatalf("committed ids %s, want [1 3]", got)
	}
}

// A function whose error ends the whole transaction (an interrupted write
// rolls everything back) fails alone: the requests that already ran in
// that transaction run again and commit.
func TestGroupCommitTransactionLostReruns(t *testing.T) {
	b := gcOpen(t, Options{})
	var runs1 atomic.Int64
	killCtx, kill := context.WithCancel(gcCtx)
	defer kill()
	errs := gcBatch(t, b, []context.Context{nil, killCtx, nil},
		func(ctx context.Context, tx *Txn) error {
			runs1.Add(1)
			return gcInsert(1)(ctx, tx)
		},
		func(ctx context.Context, tx *Txn) error {
			if err := gcInsert(10)(ctx, tx); err != nil {
				return err
			}
			time.AfterFunc(20*time.Millisecond, kill)
			// A long write, interrupted by the cancel.
			_, err := tx.ExecContext(ctx, `WITH RECURSIVE c(i) AS (SELECT 100 UNION ALL SELECT i + 1 FROM c WHERE i < 1000000000)
INSERT INTO t (id, v) SELECT i, 'long' FROM c`)
			if err == nil {
				return errors.New("long insert finished")
			}
			return err
		},
		gcInsert(2),
	)
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("other requests: %v", errs)
	}
	if errs[1] == nil {
		t.Fatal("interrupted request succeeded")
	}
	if got := fmt.Sprint(gcIDs(t, b)); got != "[1 2]" {
		t.Fatalf("committed ids %s, want [1 2]", got)
	}
	if n := runs1.Load(); n != 2 {
		t.Fatalf("first request ran %d times, want 2 (once more after the transaction was lost)", n)
	}
}

// A COMMIT that finds the database busy fails the batch; every request
// reruns from scratch (retry.Serializable) and commits, and each request's
// AfterCommit hooks run once.
func TestGroupCommitBusyCommitRetries(t *testing.T) {
	// Rollback journal: COMMIT needs an EXCLUSIVE lock that a reader's
	// SHARED lock blocks (in WAL mode COMMIT never waits for readers).
	b := gcOpen(t, Options{DisableWAL: true, BusyTimeout: 20 * time.Millisecond})
	other, err := sql.Open("sqlite", b.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	reader, err := other.BeginTx(gcCtx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Rollback()
	var n int
	if err := reader.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil { // takes SHARED
		t.Fatal(err)
	}
	var busyCommits atomic.Int64
	var once sync.Once
	b.in.gc.hooks.commit = func(n int, err error) {
		if n > 1 && retry.IsRetryableBusy(err) {
			busyCommits.Add(1)
			once.Do(func() { reader.Rollback() })
		}
	}
	var runs [3]atomic.Int64
	var hooks [3]atomic.Int64
	fns := make([]func(context.Context, *Txn) error, 3)
	for i := range fns {
		fns[i] = func(ctx context.Context, tx *Txn) error {
			runs[i].Add(1)
			tx.AfterCommit(func() { hooks[i].Add(1) })
			return gcInsert(i+1)(ctx, tx)
		}
	}
	errs := gcBatch(t, b, nil, fns...)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if busyCommits.Load() == 0 {
		t.Fatal("no batch COMMIT was busy")
	}
	if got := fmt.Sprint(gcIDs(t, b)); got != "[1 2 3]" {
		t.Fatalf("committed ids %s, want [1 2 3]", got)
	}
	for i := range runs {
		if runs[i].Load() < 2 {
			t.Errorf("request %d ran %d times, want a rerun after the busy COMMIT", i, runs[i].Load())
		}
		if hooks[i].Load() != 1 {
			t.Errorf("request %d: AfterCommit ran %d times, want 1", i, hooks[i].Load())
		}
	}
}

// A BEGIN that finds another connection writing retries.
func TestGroupCommitBusyBeginRetries(t *testing.T) {
	b := gcOpen(t, Options{BusyTimeout: 20 * time.Millisecond})
	other, err := sql.Open("sqlite", b.Path()+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock, err := other.BeginTx(gcCtx, nil) // BEGIN IMMEDIATE: the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	var attempts atomic.Int64
	b.in.gc.hooks.batch = func(int) {
		if attempts.Add(1) == 2 {
			lock.Rollback()
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.WriteTx(gcCtx, "w", gcInsert(i+1))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if got := fmt.Sprint(gcIDs(t, b)); got != "[1 2 3 4]" {
		t.Fatalf("committed ids %s, want [1 2 3 4]", got)
	}
}

// A write started from inside a write function fails instead of waiting
// for its own batch forever.
func TestGroupCommitNestedWriteFails(t *testing.T) {
	b := gcOpen(t, Options{})
	err := b.WriteTx(gcCtx, "outer", func(ctx context.Context, tx *Txn) error {
		return b.WriteTx(ctx, "inner", gcInsert(1))
	})
	var e *Error
	if !errors.As(err, &e) || e.Code != "nested_write" {
		t.Fatalf("nested write: %v, want code nested_write", err)
	}
	if ids := gcIDs(t, b); len(ids) != 0 {
		t.Fatalf("committed ids %v, want none", ids)
	}
}

// A write function that panics, alone or in the middle of a batch, gets a
// *WritePanicError; its work is rolled back, the rest of its batch commits,
// and the writer is free again: later writes and other connections are
// not locked out.
func TestGroupCommitPanicIsContained(t *testing.T) {
	b := gcOpen(t, Options{})
	var wp *WritePanicError
	err := b.WriteTx(gcCtx, "boom", func(ctx context.Context, tx *Txn) error {
		if err := gcInsert(7)(ctx, tx); err != nil {
			return err
		}
		panic("bug")
	})
	if !errors.As(err, &wp) || wp.Value != "bug" || len(wp.Stack) == 0 {
		t.Fatalf("lone panic: %v", err)
	}
	errs := gcBatch(t, b, nil,
		gcInsert(1),
		func(ctx context.Context, tx *Txn) error {
			if err := gcInsert(2)(ctx, tx); err != nil {
				return err
			}
			panic("bug in a batch")
		},
		gcInsert(3),
	)
	if errs[0] != nil || errs[2] != nil || !errors.As(errs[1], &wp) {
		t.Fatalf("batch with a panic: %v", errs)
	}
	if got := fmt.Sprint(gcIDs(t, b)); got != "[1 3]" {
		t.Fatalf("committed ids %s, want [1 3]", got)
	}
	done := make(chan error, 1)
	go func() { done <- b.WriteTx(gcCtx, "after", gcInsert(9)) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("write after the panics: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("writes are stuck after a panic")
	}
	other, err := sql.Open("sqlite", b.Path()+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec("BEGIN IMMEDIATE; ROLLBACK"); err != nil {
		t.Fatalf("another connection cannot take the write lock after a panic: %v", err)
	}
}

// TestFailedCommitLeavesNoTransaction: when COMMIT itself fails (here a
// deferred foreign key violation, which SQLite reports at COMMIT and which
// leaves the transaction open), the writer session rolls back, nothing of
// the function's work stays, and the next write starts a fresh
// transaction on the same held connection.
func TestFailedCommitLeavesNoTransaction(t *testing.T) {
	t.Parallel()
	for _, memory := range []bool{false, true} {
		t.Run(fmt.Sprintf("memory=%v", memory), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "fk.db")
			if memory {
				path = fmt.Sprintf("file:fk-%s?mode=memory&cache=shared", t.Name())
			}
			b, err := Open(gcCtx, path, Options{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close(gcCtx) })
			if err := b.WriteTx(gcCtx, "setup", func(ctx context.Context, tx *Txn) error {
				_, err := tx.ExecContext(ctx, `CREATE TABLE parent (id INTEGER PRIMARY KEY);
CREATE TABLE child (pid INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)`)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			err = b.WriteTx(gcCtx, "orphan", func(ctx context.Context, tx *Txn) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO child (pid) VALUES (99)`)
				return err
			})
			if err == nil || !strings.Contains(err.Error(), "FOREIGN KEY") {
				t.Fatalf("orphan insert: err = %v, want the deferred foreign key failure at COMMIT", err)
			}
			if err := b.WriteTx(gcCtx, "next", func(ctx context.Context, tx *Txn) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO parent (id) VALUES (1)`); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `INSERT INTO child (pid) VALUES (1)`)
				return err
			}); err != nil {
				t.Fatalf("write after the failed COMMIT: %v", err)
			}
			var children int
			if err := b.ReaderDB().QueryRowContext(gcCtx, `SELECT count(*) FROM child`).Scan(&children); err != nil {
				t.Fatal(err)
			}
			if children != 1 {
				t.Fatalf("child holds %d rows, want only the valid one", children)
			}
		})
	}
}
