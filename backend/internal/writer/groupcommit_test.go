package writer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/retry"
)

func TestGroupCommitBatchesConcurrentWrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	eight := make(chan struct{})
	var once sync.Once
	e.w.gc.hooks.queued = func(n int) {
		if n >= 8 {
			once.Do(func() { close(eight) })
		}
	}
	// Hold the writer until several writers queue, so that at least one
	// batch is certain; the rest batch as they happen to.
	blocked := make(chan struct{})
	blockDone := make(chan error, 1)
	go func() {
		blockDone <- e.w.Write(bg, func(ctx context.Context, tx *Tx) error {
			close(blocked)
			<-eight
			return nil
		})
	}()
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
				err := e.w.Write(bg, func(ctx context.Context, tx *Tx) error {
					tx.AfterCommit(func() { hooks.Add(1) })
					return insert(id)(ctx, tx)
				})
				if err != nil {
					t.Errorf("insert %d: %v", id, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := <-blockDone; err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM t`); n != writers*each {
		t.Fatalf("%d rows committed, want %d", n, writers*each)
	}
	if h := hooks.Load(); h != writers*each {
		t.Fatalf("%d AfterCommit hooks ran, want %d", h, writers*each)
	}
	st := e.w.Stats()
	if st.Grouped < 1 || st.MaxBatch < 2 {
		t.Fatalf("no batch carried more than one request: %+v", st)
	}
	if st.MaxBatch > maxBatch {
		t.Fatalf("batch of %d exceeds the cap %d", st.MaxBatch, maxBatch)
	}
	if st.Batches >= writers*each+1 {
		t.Fatalf("%d transactions for %d writes: nothing was batched", st.Batches, writers*each+1)
	}
}

func TestGroupCommitSingleRequestRunsAlone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	var ctl []string
	e.w.sessions.failControl = func(q string) error { ctl = append(ctl, q); return nil }
	if err := e.w.Write(bg, insert(1)); err != nil {
		t.Fatal(err)
	}
	if st := e.w.Stats(); st.Batches != 1 || st.Grouped != 0 {
		t.Fatalf("stats %+v after one write", st)
	}
	if got := strings.Join(ctl, ", "); got != "BEGIN IMMEDIATE, COMMIT" {
		t.Fatalf("control statements %q, want BEGIN IMMEDIATE, COMMIT (no savepoint)", got)
	}
}

// A failing request in the middle of a batch leaves no trace; the others
// commit and only their AfterCommit hooks run, after the commit.
func TestGroupCommitFailureIsolated(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	var sizes []int
	e.w.gc.hooks.batch = func(n int) { sizes = append(sizes, n) }
	errBoom := errors.New("boom")
	var ran sync.Map // hook name -> committed ids seen by the reader when it ran
	hook := func(tx *Tx, name string) {
		tx.AfterCommit(func() {
			var n int
			if err := e.reader.QueryRow(`SELECT count(*) FROM t WHERE id IN (1, 5)`).Scan(&n); err != nil {
				t.Error(err)
			}
			ran.Store(name, n)
		})
	}
	errs := e.batch(nil,
		func(ctx context.Context, tx *Tx) error {
			hook(tx, "ok1")
			return insert(1)(ctx, tx)
		},
		func(ctx context.Context, tx *Tx) error {
			hook(tx, "boom")
			if err := insert(2, 3)(ctx, tx); err != nil {
				return err
			}
			return errBoom
		},
		func(ctx context.Context, tx *Tx) error {
			hook(tx, "dup")
			return insert(4, 1)(ctx, tx) // 1 is ok1's, in this same transaction
		},
		func(ctx context.Context, tx *Tx) error {
			hook(tx, "ok2")
			return insert(5)(ctx, tx)
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
	if got := e.ids(); got != "[1 5]" {
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

// Every request of a batch failing: each gets its own error, nothing
// commits and no COMMIT runs.
func TestGroupCommitEveryRequestFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	var commits atomic.Int64
	e.w.gc.hooks.commit = func(int, error) { commits.Add(1) }
	fail := func(i int) Func {
		return func(ctx context.Context, tx *Tx) error {
			if err := insert(10+i)(ctx, tx); err != nil {
				return err
			}
			return fmt.Errorf("request %d fails", i)
		}
	}
	errs := e.batch(nil, fail(0), fail(1), fail(2))
	for i, err := range errs {
		if err == nil || err.Error() != fmt.Sprintf("request %d fails", i) {
			t.Errorf("request %d: %v, want its own error", i, err)
		}
	}
	if got := e.ids(); got != "[]" {
		t.Fatalf("committed ids %s, want none", got)
	}
	if n := commits.Load(); n != 0 {
		t.Fatalf("%d COMMITs of a batch whose every request failed", n)
	}
	if st := e.w.Stats(); st.Grouped != 1 || st.MaxBatch != 3 {
		t.Fatalf("stats %+v, want the three failing requests in one transaction", st)
	}
}

// A request whose context ends while it is queued runs nothing and gets
// the context's error; the rest of its batch commits.
func TestGroupCommitCancelledBeforeRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	queued := e.queueWatch()
	blocked, release := make(chan struct{}), make(chan struct{})
	blockDone := make(chan error, 1)
	go func() {
		blockDone <- e.w.Write(bg, func(ctx context.Context, tx *Tx) error {
			close(blocked)
			<-release
			return nil
		})
	}()
	<-blocked
	drain(queued)
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	var ran atomic.Bool
	fns := []Func{
		insert(1),
		func(ctx context.Context, tx *Tx) error { ran.Store(true); return insert(2)(ctx, tx) },
		insert(3),
	}
	ctxs := []context.Context{bg, ctx, bg}
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.w.Write(ctxs[i], fns[i])
		}()
		waitQueued(t, queued, i+1)
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
	if got := e.ids(); got != "[1 3]" {
		t.Fatalf("committed ids %s, want [1 3]", got)
	}
}

// A lone request whose context ends while its function runs is rolled
// back: no COMMIT once the caller's context has ended.
func TestGroupCommitNoCommitAfterContextEnded(t *testing.T) {
	t.Parallel()
	for _, memory := range []bool{false, true} {
		t.Run(fmt.Sprintf("memory=%v", memory), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, opts{memory: memory})
			var ctl []string
			e.w.sessions.failControl = func(q string) error { ctl = append(ctl, q); return nil }
			ctx, cancel := context.WithCancel(bg)
			var hooks atomic.Int64
			err := e.w.Write(ctx, func(ctx context.Context, tx *Tx) error {
				tx.AfterCommit(func() { hooks.Add(1) })
				if err := insert(1)(ctx, tx); err != nil {
					return err
				}
				cancel() // the caller gives up; the function itself succeeds
				return nil
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if got := strings.Join(ctl, ", "); got != "BEGIN IMMEDIATE, ROLLBACK" {
				t.Fatalf("control statements %q, want BEGIN IMMEDIATE, ROLLBACK", got)
			}
			if got := e.ids(); got != "[]" || hooks.Load() != 0 {
				t.Fatalf("committed ids %s, %d hooks ran; want none", got, hooks.Load())
			}
		})
	}
}

// A function whose error ends the whole transaction (an interrupted write
// rolls everything back) fails alone: the requests that already ran in
// that transaction run again and commit.
func TestGroupCommitTransactionLostReruns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	var runs1 atomic.Int64
	killCtx, kill := context.WithCancel(bg)
	defer kill()
	errs := e.batch([]context.Context{nil, killCtx, nil},
		func(ctx context.Context, tx *Tx) error {
			runs1.Add(1)
			return insert(1)(ctx, tx)
		},
		func(ctx context.Context, tx *Tx) error {
			if err := insert(10)(ctx, tx); err != nil {
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
		insert(2),
	)
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("other requests: %v", errs)
	}
	if errs[1] == nil {
		t.Fatal("interrupted request succeeded")
	}
	if got := e.ids(); got != "[1 2]" {
		t.Fatalf("committed ids %s, want [1 2]", got)
	}
	if n := runs1.Load(); n != 2 {
		t.Fatalf("first request ran %d times, want 2 (once more after the transaction was lost)", n)
	}
}

// The same with a trigger's RAISE(ROLLBACK), and in its two forms: the
// function returns the error (ROLLBACK TO fails), or swallows it and
// returns nil (RELEASE fails, and the caller still gets an error: its work
// is gone).
func TestGroupCommitRaiseRollbackReruns(t *testing.T) {
	t.Parallel()
	for _, swallow := range []bool{false, true} {
		t.Run(fmt.Sprintf("swallow=%v", swallow), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, opts{})
			var ctl []string
			e.w.sessions.failControl = func(q string) error { ctl = append(ctl, q); return nil }
			var runs [3]atomic.Int64
			counted := func(i int, fn Func) Func {
				return func(ctx context.Context, tx *Tx) error { runs[i].Add(1); return fn(ctx, tx) }
			}
			errs := e.batch(nil,
				counted(0, insert(1)),
				counted(1, func(ctx context.Context, tx *Tx) error {
					_, err := tx.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (10, 'lose')`)
					if err == nil || !strings.Contains(err.Error(), "transaction lost") {
						return fmt.Errorf("insert: %v, want the trigger's RAISE", err)
					}
					if swallow {
						return nil
					}
					return err
				}),
				counted(2, insert(2)),
			)
			if errs[0] != nil || errs[2] != nil {
				t.Fatalf("other requests: %v", errs)
			}
			if errs[1] == nil {
				t.Fatal("the request whose transaction was lost succeeded")
			}
			if got := e.ids(); got != "[1 2]" {
				t.Fatalf("committed ids %s, want [1 2]", got)
			}
			if r := [3]int64{runs[0].Load(), runs[1].Load(), runs[2].Load()}; r != [3]int64{2, 1, 1} {
				t.Fatalf("runs %v, want [2 1 1]: the first again, the lost one once, the last once", r)
			}
			failed := "ROLLBACK TO ff_group"
			if swallow {
				failed = "RELEASE ff_group"
			}
			if !strings.Contains(strings.Join(ctl, ", "), "SAVEPOINT ff_group, "+failed+", ROLLBACK, BEGIN IMMEDIATE") {
				t.Fatalf("control statements %q: want %s to fail, then a new transaction", ctl, failed)
			}
		})
	}
}

// A SAVEPOINT that fails (injected: SQLite only fails it on errors this
// test cannot cause, such as running out of memory) fails its request,
// whose function never runs; the transaction is rolled back and the
// requests before it run again.
func TestGroupCommitSavepointFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	errSavepoint := errors.New("savepoint failed")
	var savepoints atomic.Int64
	e.w.sessions.failControl = func(q string) error {
		// The blocker runs alone (no savepoint); the batch's second
		// SAVEPOINT fails.
		if q == qSavepoint && savepoints.Add(1) == 2 {
			return errSavepoint
		}
		return nil
	}
	var runs [3]atomic.Int64
	counted := func(i int, fn Func) Func {
		return func(ctx context.Context, tx *Tx) error { runs[i].Add(1); return fn(ctx, tx) }
	}
	errs := e.batch(nil, counted(0, insert(1)), counted(1, insert(10)), counted(2, insert(2)))
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("other requests: %v", errs)
	}
	if !errors.Is(errs[1], errSavepoint) {
		t.Fatalf("request whose SAVEPOINT failed: %v", errs[1])
	}
	if got := e.ids(); got != "[1 2]" {
		t.Fatalf("committed ids %s, want [1 2]", got)
	}
	if r := [3]int64{runs[0].Load(), runs[1].Load(), runs[2].Load()}; r != [3]int64{2, 0, 1} {
		t.Fatalf("runs %v, want [2 0 1]", r)
	}
}

// A COMMIT that fails for a reason that is not busy (here a deferred
// foreign key violation of one request) cannot say whose work caused it:
// every request of the batch runs again alone, the guilty one gets the
// error and the others commit.
func TestGroupCommitFailedCommitIsolated(t *testing.T) {
	t.Parallel()
	for _, memory := range []bool{false, true} {
		t.Run(fmt.Sprintf("memory=%v", memory), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, opts{memory: memory})
			var sizes []int
			e.w.gc.hooks.batch = func(n int) { sizes = append(sizes, n) }
			var commitErrs []error
			e.w.gc.hooks.commit = func(_ int, err error) { commitErrs = append(commitErrs, err) }
			var hooks [3]atomic.Int64
			withHook := func(i int, fn Func) Func {
				return func(ctx context.Context, tx *Tx) error {
					tx.AfterCommit(func() { hooks[i].Add(1) })
					return fn(ctx, tx)
				}
			}
			errs := e.batch(nil,
				withHook(0, insert(1)),
				withHook(1, func(ctx context.Context, tx *Tx) error {
					_, err := tx.ExecContext(ctx, `INSERT INTO child (pid) VALUES (99)`) // no parent 99
					return err
				}),
				withHook(2, insert(2)),
			)
			if errs[0] != nil || errs[2] != nil {
				t.Fatalf("innocent requests: %v", errs)
			}
			if errs[1] == nil || !strings.Contains(errs[1].Error(), "FOREIGN KEY") {
				t.Fatalf("guilty request: %v, want the foreign key failure", errs[1])
			}
			if len(commitErrs) != 1 || commitErrs[0] == nil || retry.IsRetryableBusy(commitErrs[0]) {
				t.Fatalf("group COMMIT errors %v, want one non-busy failure", commitErrs)
			}
			if got := e.ids(); got != "[1 2]" {
				t.Fatalf("committed ids %s, want [1 2]", got)
			}
			if n := e.count(`SELECT count(*) FROM child`); n != 0 {
				t.Fatalf("%d orphan children committed", n)
			}
			if h := [3]int64{hooks[0].Load(), hooks[1].Load(), hooks[2].Load()}; h != [3]int64{1, 0, 1} {
				t.Fatalf("AfterCommit runs %v, want [1 0 1]", h)
			}
			if fmt.Sprint(sizes) != "[1 3 1 1 1]" {
				t.Fatalf("batch sizes %v, want [1 3 1 1 1]: the blocker, the batch, then each request alone", sizes)
			}
		})
	}
}

// A COMMIT that finds the database busy fails the batch; every request
// reruns from scratch (retry.Serializable) and commits, and each request's
// AfterCommit hooks run once.
func TestGroupCommitBusyCommitRetries(t *testing.T) {
	t.Parallel()
	// Rollback journal: COMMIT needs an EXCLUSIVE lock that a reader's
	// SHARED lock blocks (in WAL mode COMMIT never waits for readers).
	e := newEnv(t, opts{rollbackJournal: true, busy: 20 * time.Millisecond})
	reader, err := e.reader.BeginTx(bg, nil)
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
	e.w.gc.hooks.commit = func(n int, err error) {
		if n > 1 && retry.IsRetryableBusy(err) {
			busyCommits.Add(1)
			once.Do(func() { reader.Rollback() })
		}
	}
	var runs [3]atomic.Int64
	var hooks [3]atomic.Int64
	fns := make([]Func, 3)
	for i := range fns {
		fns[i] = func(ctx context.Context, tx *Tx) error {
			runs[i].Add(1)
			tx.AfterCommit(func() { hooks[i].Add(1) })
			return insert(i+1)(ctx, tx)
		}
	}
	errs := e.batch(nil, fns...)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if busyCommits.Load() == 0 {
		t.Fatal("no batch COMMIT was busy")
	}
	if got := e.ids(); got != "[1 2 3]" {
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

// lockWriter takes the database's write lock on a connection of its own
// and returns the function that releases it.
func lockWriter(t *testing.T, e *env) func() {
	t.Helper()
	other := openPool(t, e.path+"?_txlock=immediate", 1)
	lock, err := other.BeginTx(bg, nil) // BEGIN IMMEDIATE: the write lock
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release := func() { once.Do(func() { lock.Rollback() }) }
	t.Cleanup(release)
	return release
}

// A BEGIN that finds another connection writing retries.
func TestGroupCommitBusyBeginRetries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{busy: 20 * time.Millisecond})
	unlock := lockWriter(t, e)
	var attempts atomic.Int64
	e.w.gc.hooks.batch = func(int) {
		if attempts.Add(1) == 2 {
			unlock()
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.w.Write(bg, insert(i+1))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if got := e.ids(); got != "[1 2 3 4]" {
		t.Fatalf("committed ids %s, want [1 2 3 4]", got)
	}
}

// A batch whose BEGIN keeps failing (another connection holds the write
// lock through every attempt) gives every request the busy error once its
// attempts are spent; no function runs. Once the lock is gone, writes
// commit again.
func TestGroupCommitBeginFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{busy: 20 * time.Millisecond})
	var unlock func()
	var sizes []int
	e.w.gc.hooks.batch = func(n int) {
		sizes = append(sizes, n)
		if n == 3 && unlock == nil {
			unlock = lockWriter(t, e) // between the blocker's COMMIT and the batch's BEGIN
		}
	}
	var ran atomic.Int64
	fn := func(i int) Func {
		return func(ctx context.Context, tx *Tx) error { ran.Add(1); return insert(i)(ctx, tx) }
	}
	errs := e.batch(nil, fn(1), fn(2), fn(3))
	for i, err := range errs {
		if !retry.IsRetryableBusy(err) {
			t.Errorf("request %d: %v, want the busy BEGIN's error", i, err)
		}
	}
	if n := ran.Load(); n != 0 {
		t.Fatalf("%d functions ran without a transaction", n)
	}
	if len(sizes) < 2 || sizes[1] != 3 {
		t.Fatalf("batch sizes %v, want the three requests in one batch after the blocker", sizes)
	}
	unlock()
	if err := e.w.Write(bg, insert(7)); err != nil {
		t.Fatalf("write after the lock is gone: %v", err)
	}
	if got := e.ids(); got != "[7]" {
		t.Fatalf("committed ids %s, want [7]", got)
	}
}

// A write function that panics, alone or in the middle of a batch, gets a
// *PanicError; its work is rolled back, the rest of its batch commits,
// and the writer is free again: later writes and other connections are
// not locked out.
func TestGroupCommitPanicIsContained(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	var wp *PanicError
	err := e.w.Write(bg, func(ctx context.Context, tx *Tx) error {
		if err := insert(7)(ctx, tx); err != nil {
			return err
		}
		panic("bug")
	})
	if !errors.As(err, &wp) || wp.Value != "bug" || len(wp.Stack) == 0 {
		t.Fatalf("lone panic: %v", err)
	}
	errs := e.batch(nil,
		insert(1),
		func(ctx context.Context, tx *Tx) error {
			if err := insert(2)(ctx, tx); err != nil {
				return err
			}
			panic("bug in a batch")
		},
		insert(3),
	)
	if errs[0] != nil || errs[2] != nil || !errors.As(errs[1], &wp) {
		t.Fatalf("batch with a panic: %v", errs)
	}
	if got := e.ids(); got != "[1 3]" {
		t.Fatalf("committed ids %s, want [1 3]", got)
	}
	within(t, "a write after the panics", func() {
		if err := e.w.Write(bg, insert(9)); err != nil {
			t.Errorf("write after the panics: %v", err)
		}
	})
	other := openPool(t, e.path+"?_pragma=busy_timeout(0)", 1)
	if _, err := other.Exec("BEGIN IMMEDIATE; ROLLBACK"); err != nil {
		t.Fatalf("another connection cannot take the write lock after a panic: %v", err)
	}
}

// When COMMIT itself fails (here a deferred foreign key violation, which
// SQLite reports at COMMIT and which leaves the transaction open), the
// writer session rolls back, nothing of the function's work stays, and the
// next write starts a fresh transaction on the same connection.
func TestFailedCommitLeavesNoTransaction(t *testing.T) {
	t.Parallel()
	for _, memory := range []bool{false, true} {
		t.Run(fmt.Sprintf("memory=%v", memory), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, opts{memory: memory})
			err := e.w.Write(bg, func(ctx context.Context, tx *Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO child (pid) VALUES (99)`)
				return err
			})
			if err == nil || !strings.Contains(err.Error(), "FOREIGN KEY") {
				t.Fatalf("orphan insert: err = %v, want the deferred foreign key failure at COMMIT", err)
			}
			if err := e.w.Write(bg, func(ctx context.Context, tx *Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO parent (id) VALUES (1)`); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `INSERT INTO child (pid) VALUES (1)`)
				return err
			}); err != nil {
				t.Fatalf("write after the failed COMMIT: %v", err)
			}
			if n := e.count(`SELECT count(*) FROM child`); n != 1 {
				t.Fatalf("child holds %d rows, want only the valid one", n)
			}
		})
	}
}

// TestGroupCommitMemory: a memory database's writer borrows its one
// connection per transaction and batches like a file's.
func TestGroupCommitMemory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{memory: true})
	errs := e.batch(nil, insert(1), insert(2), func(ctx context.Context, tx *Tx) error {
		return insert(1)(ctx, tx) // duplicate of the first's
	})
	if errs[0] != nil || errs[1] != nil || errs[2] == nil {
		t.Fatalf("errors %v, want only the duplicate to fail", errs)
	}
	if got := e.ids(); got != "[1 2]" {
		t.Fatalf("committed ids %s, want [1 2]", got)
	}
	if st := e.db.Stats(); st.InUse != 0 {
		t.Fatalf("%d connections in use between writes, want the one given back", st.InUse)
	}
}
