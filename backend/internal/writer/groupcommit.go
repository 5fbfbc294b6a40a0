package writer

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/ffsqlite/ffsqlite/retry"
)

// Group commit. Every write is a short BEGIN IMMEDIATE transaction on the
// writer session (session.go). Concurrent writers would otherwise queue on
// that connection, each paying its own BEGIN and COMMIT and each rewriting
// the same hot pages (index leaves, sqlite_sequence, outbox tails) into
// the WAL. Instead, writers queue their requests here; the first one to
// find nobody leading becomes the leader, takes up to maxBatch queued
// requests and runs them in one transaction, each inside its own
// SAVEPOINT, and commits once. Then it hands leadership to the oldest
// request still queued, if any, and wakes the others of its batch.
//
// A request whose function fails rolls back to its savepoint and gets its
// error alone; the others still commit. A function whose error ended the
// whole transaction fails alone too: the requests that ran before it run
// again in a new transaction. A COMMIT that fails on a busy or locked
// database gives its error to every request of the batch, and each caller
// retries on its own (Write wraps every submission in retry.Serializable,
// so a busy batch reruns each function from scratch with the same attempts
// and backoff as an unbatched transaction); a BEGIN that fails gives its
// error to every request, whose functions have not run. Any other COMMIT
// failure (a deferred foreign key violation, for one) cannot say whose
// work caused it, so each request of the batch runs again alone, and only
// the guilty one gets the error. A batch of a single request runs exactly
// like an unbatched transaction: no savepoint, the request's own context
// on BEGIN and its statements, and no COMMIT once that context has ended.

// maxBatch caps the requests of one group transaction, bounding both the
// transaction's length and the wait of the requests behind it.
const maxBatch = 64

// request is one caller's write function waiting for, or running in, a
// group transaction.
type request struct {
	ctx context.Context
	fn  Func
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
	queue   []*request
	leading bool

	// running is set while the leader runs a write function (nested.go).
	running atomic.Bool

	batches atomic.Int64 // transactions run
	grouped atomic.Int64 // of which with more than one request
	maxSize atomic.Int64 // most requests in one transaction

	// onCommit, when set (before the writer is used), runs on the leader
	// after every successful COMMIT with the number of requests that
	// transaction committed.
	onCommit func(n int)

	// Test hooks, set before the writer is used: queued runs under mu
	// with the queue's length after a request joins it; batch before each
	// transaction with its number of requests; commit after each COMMIT
	// of a multi-request transaction, with COMMIT's error.
	hooks struct {
		queued func(n int)
		batch  func(n int)
		commit func(n int, err error)
	}
}

// submit runs r.fn once in a group transaction and returns its outcome; on
// success r.after holds the AfterCommit hooks. It returns once the
// transaction that ran the request has committed or failed, even if r.ctx
// ends meanwhile; a request whose context is done before its function
// starts fails with the context's error and runs nothing.
func (g *groupCommit) submit(w *Writer, r *request) error {
	r.err, r.after = nil, nil
	if r.wake == nil {
		r.wake = make(chan bool, 1)
	}
	g.mu.Lock()
	g.queue = append(g.queue, r)
	if g.hooks.queued != nil {
		g.hooks.queued(len(g.queue))
	}
	if g.leading {
		g.mu.Unlock()
		if lead := <-r.wake; !lead {
			return r.err
		}
	} else {
		g.leading = true
		g.mu.Unlock()
	}
	g.lead(w)
	return r.err
}

// lead runs one batch from the head of the queue (the leader's own request
// is first), then passes leadership on and wakes the batch's other
// requests.
func (g *groupCommit) lead(w *Writer) {
	g.mu.Lock()
	n := min(len(g.queue), maxBatch)
	batch := make([]*request, n)
	copy(batch, g.queue)
	rest := copy(g.queue, g.queue[n:])
	clear(g.queue[rest:])
	g.queue = g.queue[:rest]
	g.mu.Unlock()

	g.run(w, batch)

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
func (g *groupCommit) run(w *Writer, batch []*request) {
	live := make([]*request, 0, len(batch))
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
	s, release, err := w.sessions.acquire(ctx)
	if err != nil {
		for _, r := range live {
			r.err = err
		}
		return
	}
	defer release()
	if len(live) == 1 {
		g.runAlone(w, s, live[0])
		return
	}
	// A transaction that ended early (a function's error rolled all of it
	// back) runs again without the request that failed: each round settles
	// at least one request, so this ends.
	var alone []*request
	for len(live) > 0 {
		g.count(len(live))
		live, alone = g.runGroup(w, s, live)
	}
	for _, r := range alone {
		g.runAlone(w, s, r)
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

// runAlone runs r as an unbatched transaction and sets its outcome: BEGIN
// IMMEDIATE under the caller's context, the function, then COMMIT, or
// ROLLBACK when the function fails or the context ends before COMMIT.
func (g *groupCommit) runAlone(w *Writer, s *session, r *request) {
	g.count(1)
	r.after, r.err = nil, nil
	if err := r.ctx.Err(); err != nil {
		r.err = err
		return
	}
	if err := s.begin(r.ctx); err != nil {
		r.err = err
		return
	}
	t := &Tx{s: s, w: w}
	if err := g.call(r, t); err != nil {
		s.rollback()
		r.err = err
		return
	}
	if err := r.ctx.Err(); err != nil {
		s.rollback()
		r.err = err
		return
	}
	if err := s.ctl(context.Background(), qCommit); err != nil {
		s.rollback() // a failed COMMIT can leave the transaction open
		r.err = err
		return
	}
	r.after = t.after
	if g.onCommit != nil {
		g.onCommit(1)
	}
}

// runGroup runs reqs in one transaction, each in its own savepoint, and
// commits the ones that succeeded. It returns the requests that must run
// again in a group because the transaction ended before their outcome was
// final, and those that must run again alone because COMMIT failed for a
// reason that may be any one request's.
func (g *groupCommit) runGroup(w *Writer, s *session, reqs []*request) (rerun, alone []*request) {
	// The transaction belongs to no single caller: one caller's cancelled
	// context must not roll back the others' work.
	bg := context.Background()
	if err := s.begin(bg); err != nil {
		for _, r := range reqs {
			r.err = err
		}
		return nil, nil
	}
	var ok []*request
	for i, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		if !runSavepoint(w, s, r) {
			s.rollback()
			for _, o := range ok {
				o.after = nil
			}
			return append(ok, reqs[i+1:]...), nil
		}
		if r.err == nil {
			ok = append(ok, r)
		}
	}
	if len(ok) == 0 {
		s.rollback()
		return nil, nil
	}
	err := s.ctl(bg, qCommit)
	if err != nil {
		s.rollback() // a failed COMMIT can leave the transaction open
	}
	if g.hooks.commit != nil {
		g.hooks.commit(len(reqs), err)
	}
	switch {
	case err == nil:
		if g.onCommit != nil {
			g.onCommit(len(ok))
		}
		return nil, nil
	case retry.IsRetryableBusy(err) || len(ok) == 1:
		for _, r := range ok {
			r.err, r.after = err, nil
		}
		return nil, nil
	default:
		for _, r := range ok {
			r.after = nil
		}
		return nil, ok
	}
}

// call runs r's function with running set (nested.go).
func (g *groupCommit) call(r *request, t *Tx) error {
	g.running.Store(true)
	err := callWrite(r.ctx, r.fn, t) // recovers panics: running is cleared
	g.running.Store(false)
	return err
}

// runSavepoint runs r.fn inside a savepoint of s's transaction and sets
// r's outcome: on success the savepoint is released and r.after holds r's
// hooks; on failure the savepoint is rolled back and r.err is the
// function's error.
// It reports false when the transaction did not survive: some errors (an
// interrupt from a cancelled context, a full disk) roll back the whole
// transaction, and then the savepoint is gone. r's outcome is final either
// way.
func runSavepoint(w *Writer, s *session, r *request) bool {
	bg := context.Background()
	if err := s.ctl(bg, qSavepoint); err != nil {
		r.err = err
		return false
	}
	t := &Tx{s: s, w: w}
	if err := w.gc.call(r, t); err != nil {
		r.err = err
		if rerr := s.ctl(bg, qRollbackTo); rerr != nil {
			return false
		}
		return s.ctl(bg, qRelease) == nil
	}
	if err := s.ctl(bg, qRelease); err != nil {
		r.err = err
		return false
	}
	r.err, r.after = nil, t.after
	return true
}
