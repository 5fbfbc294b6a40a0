package backend

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// Group commit. Every engine write is a short BEGIN IMMEDIATE transaction
// on the writer connection the engine holds (session.go). Concurrent
// writers would otherwise queue on that connection, each paying its own
// BEGIN and COMMIT and each rewriting the same hot pages (index leaves,
// sqlite_sequence, outbox tails) into the WAL. Instead, writers queue
// their requests here; the first one to find nobody leading becomes the
// leader, takes up to maxBatch queued requests and runs them in one
// transaction, each inside its own SAVEPOINT, and commits once. Then it
// hands leadership to the oldest request still queued, if any, and wakes
// the others of its batch.
//
// A request whose function fails rolls back to its savepoint and gets its
// error alone; the others still commit. A BEGIN or COMMIT that fails gives
// its error to every request of the batch that had not failed already, and
// each caller retries on its own (writeTx wraps every submission in
// retry.Serializable, so a busy batch reruns each function from scratch
// with the same attempts and backoff as an unbatched transaction). A batch
// of a single request runs exactly like an unbatched transaction: no
// savepoint, the request's own context on BEGIN and its statements, and
// no COMMIT once that context has ended.
//
// A function runs while its batch holds the writer, so it must not start
// another write transaction (see errNestedWrite).

// maxBatch caps the requests of one group transaction, bounding both the
// transaction's length and the wait of the requests behind it.
const maxBatch = 64

// One savepoint name serves every request: each is released before the
// next request's opens.
const (
	qSavepoint  = "SAVEPOINT ff_group"
	qRollbackTo = "ROLLBACK TO ff_group"
	qRelease    = "RELEASE ff_group"
)

// errNestedWrite is returned by a write started from inside a write
// transaction's function, which would otherwise wait for its own batch
// forever.
var errNestedWrite = errors.New("write transaction started inside another write transaction")

// inWriteKey marks the context handed to write transaction functions.
type inWriteKey struct{}

func markInWrite(ctx context.Context) context.Context {
	return context.WithValue(ctx, inWriteKey{}, true)
}

func isInWrite(ctx context.Context) bool { return ctx.Value(inWriteKey{}) != nil }

// writeReq is one caller's write transaction function waiting for, or
// running in, a group transaction.
type writeReq struct {
	ctx context.Context
	fn  func(ctx context.Context, tx *Txn) error
	// Outcome of the last submission: err, or nil and the AfterCommit
	// hooks to run.
	err   error
	after []func()
	// wake receives true when the request must lead the next batch (it is
	// then at the head of the queue), false when it has been served.
	wake chan bool
}

// groupCommit is the writer's request queue and leadership token.
type groupCommit struct {
	mu      sync.Mutex
	queue   []*writeReq
	leading bool

	batches atomic.Int64 // transactions run
	grouped atomic.Int64 // of which with more than one request
	maxSize atomic.Int64 // most requests in one transaction

	// onCommit, when set (before the backend is used), runs on the
	// leader after every successful COMMIT with the number of requests
	// that transaction committed.
	onCommit func(n int)

	// Test hooks, set before the backend is used: batch runs before each
	// transaction with its number of requests; commit after each COMMIT
	// of a multi-request transaction, with COMMIT's error.
	hooks struct {
		batch  func(n int)
		commit func(n int, err error)
	}
}

// GroupCommitStats are the writer's group commit counters.
type GroupCommitStats struct {
	// Batches is the number of write transactions run, Grouped how many of
	// them carried more than one request, MaxBatch the most requests one
	// transaction carried.
	Batches, Grouped, MaxBatch int64
}

// GroupCommitStats returns the group commit counters of the shared
// backend.
func (b *Backend) GroupCommitStats() GroupCommitStats {
	g := &b.in.gc
	return GroupCommitStats{Batches: g.batches.Load(), Grouped: g.grouped.Load(), MaxBatch: g.maxSize.Load()}
}

// submit runs r.fn once in a group transaction on db and returns its
// outcome; on success r.after holds the AfterCommit hooks. It returns once
// the transaction that ran the request has committed or failed, even if
// r.ctx ends meanwhile; a request whose context is done before its
// function starts fails with the context's error and runs nothing.
func (g *groupCommit) submit(ss *sessions, r *writeReq) error {
	r.err, r.after = nil, nil
	if r.wake == nil {
		r.wake = make(chan bool, 1)
	}
	g.mu.Lock()
	g.queue = append(g.queue, r)
	if g.leading {
		g.mu.Unlock()
		if lead := <-r.wake; !lead {
			return r.err
		}
	} else {
		g.leading = true
		g.mu.Unlock()
	}
	g.lead(ss)
	return r.err
}

// lead runs one batch from the head of the queue (the leader's own request
// is first), then passes leadership on and wakes the batch's other
// requests.
func (g *groupCommit) lead(ss *sessions) {
	g.mu.Lock()
	n := min(len(g.queue), maxBatch)
	batch := make([]*writeReq, n)
	copy(batch, g.queue)
	rest := copy(g.queue, g.queue[n:])
	clear(g.queue[rest:])
	g.queue = g.queue[:rest]
	g.mu.Unlock()

	g.run(ss, batch)

	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].wake <- true
	} else {
		g.leading = false
	}
	g.mu.Unlock()
	for _, r := range batch[1:] {
		r.wake <- false
	}
}

// run executes a batch and sets every request's outcome.
func (g *groupCommit) run(ss *sessions, batch []*writeReq) {
	live := make([]*writeReq, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	ctx := context.Background() // the group's; a lone request's own below
	if len(live) == 1 {
		ctx = live[0].ctx
	}
	s, release, err := ss.acquire(ctx)
	if err != nil {
		for _, r := range live {
			r.err = err
		}
		return
	}
	defer release()
	if len(live) == 1 {
		g.count(1)
		r := live[0]
		r.after, r.err = runAlone(s, r.ctx, r.fn)
		if r.err == nil && g.onCommit != nil {
			g.onCommit(1)
		}
		return
	}
	// A transaction that ended early (a function's error rolled all of it
	// back) runs again without the request that failed: each round settles
	// at least one request, so this ends.
	for len(live) > 0 {
		g.count(len(live))
		live = g.runGroup(s, live)
	}
}

func (g *groupCommit) count(n int) {
	g.batches.Add(1)
	if n > 1 {
		g.grouped.Add(1)
	}
	for m := g.maxSize.Load(); int64(n) > m && !g.maxSize.CompareAndSwap(m, int64(n)); m = g.maxSize.Load() {
	}
	if g.hooks.batch != nil {
		g.hooks.batch(n)
	}
}

// runAlone is the unbatched transaction: BEGIN IMMEDIATE under the
// caller's context, fn, then COMMIT, or ROLLBACK when fn fails or the
// context ends before COMMIT.
func runAlone(s *session, ctx context.Context, fn func(context.Context, *Txn) error) ([]func(), error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	t := &Txn{s: s}
	if err := callWrite(ctx, fn, t); err != nil {
		s.rollback()
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		s.rollback()
		return nil, err
	}
	if _, err := s.exec(context.Background(), qCommit); err != nil {
		s.rollback() // a failed COMMIT can leave the transaction open
		return nil, err
	}
	return t.after, nil
}

// runGroup runs reqs in one transaction, each in its own savepoint, and
// commits the ones that succeeded. It returns the requests that must run
// again because the transaction ended before their outcome was final.
func (g *groupCommit) runGroup(s *session, reqs []*writeReq) (rerun []*writeReq) {
	// The transaction belongs to no single caller: one caller's cancelled
	// context must not roll back the others' work.
	bg := context.Background()
	err := s.begin(bg)
	if err != nil {
		for _, r := range reqs {
			r.err = err
		}
		return nil
	}
	var ok []*writeReq
	for i, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		if !runSavepoint(s, r) {
			s.rollback()
			for _, o := range ok {
				o.after = nil
			}
			return append(ok, reqs[i+1:]...)
		}
		if r.err == nil {
			ok = append(ok, r)
		}
	}
	if len(ok) == 0 {
		s.rollback()
		return nil
	}
	_, err = s.exec(bg, qCommit)
	if err != nil {
		s.rollback() // a failed COMMIT can leave the transaction open
		for _, r := range ok {
			r.err, r.after = err, nil
		}
	} else if g.onCommit != nil {
		g.onCommit(len(ok))
	}
	if g.hooks.commit != nil {
		g.hooks.commit(len(reqs), err)
	}
	return nil
}

// runSavepoint runs r.fn inside a savepoint of s's transaction and sets
// r's outcome: on success the savepoint is released and r.after holds r's
// hooks; on failure the savepoint is rolled back and r.err is the
// function's error.
// It reports false when the transaction did not survive: some errors (an
// interrupt from a cancelled context, a full disk) roll back the whole
// transaction, and then the savepoint is gone. r's outcome is final either
// way.
func runSavepoint(s *session, r *writeReq) bool {
	bg := context.Background()
	if _, err := s.exec(bg, qSavepoint); err != nil {
		r.err = err
		return false
	}
	t := &Txn{s: s}
	if err := callWrite(r.ctx, r.fn, t); err != nil {
		r.err = err
		if _, rerr := s.exec(bg, qRollbackTo); rerr != nil {
			return false
		}
		_, rerr := s.exec(bg, qRelease)
		return rerr == nil
	}
	if _, err := s.exec(bg, qRelease); err != nil {
		r.err = err
		return false
	}
	r.err, r.after = nil, t.after
	return true
}

// WritePanicError is returned to a caller whose write transaction
// function panicked. The panic is recovered where the function runs (often
// another caller's goroutine, the batch leader), its transaction or
// savepoint is rolled back and the group goes on, so one bug can neither
// leave the writer locked nor stall every later write.
type WritePanicError struct {
	Value any
	Stack []byte
}

func (e *WritePanicError) Error() string {
	return fmt.Sprintf("panic in write transaction: %v", e.Value)
}

// callWrite runs fn, turning a panic into a *WritePanicError.
func callWrite(ctx context.Context, fn func(context.Context, *Txn) error, t *Txn) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &WritePanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return fn(markInWrite(ctx), t)
}
