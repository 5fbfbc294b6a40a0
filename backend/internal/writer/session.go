package writer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// The writer session: the connection write transactions run on.
//
// database/sql's Tx has the driver parse BEGIN and COMMIT on every
// transaction and starts a goroutine per transaction to watch its
// context; with three short transactions per job, doing without it made
// the engine's lifecycle about a third faster at one worker. So with
// Config.Hold the group commit leader runs its transactions on one
// connection held for the writer's life, issuing BEGIN IMMEDIATE, COMMIT,
// ROLLBACK and the savepoint statements itself, each prepared once on that
// connection like the hot statements (Config.Hot). Without Hold (a memory
// database, whose one connection also serves reads) the session borrows a
// connection for one group transaction at a time and prepares nothing.
//
// Contexts: BEGIN IMMEDIATE, which may wait for another process's write
// lock, runs under the caller's context and ends when it does, and so does
// any statement a write function runs, except the prepared ones: those
// check the context before they start and then run to completion. The
// driver watches a cancellable context with a goroutine per statement,
// which for a request context (every HTTP call) cost more than the hot
// statements themselves, and those are short, index-driven statements
// inside a transaction that already holds the write lock.

// Transaction control statements, prepared on the held connection. One
// savepoint name serves every request: each is released before the next
// request's opens.
const (
	qBegin      = "BEGIN IMMEDIATE"
	qCommit     = "COMMIT"
	qRollback   = "ROLLBACK"
	qSavepoint  = "SAVEPOINT ff_group"
	qRollbackTo = "ROLLBACK TO ff_group"
	qRelease    = "RELEASE ff_group"
)

// session is a writer connection and, when held, its prepared statements.
// Only the group commit leader uses it, one transaction at a time.
type session struct {
	conn *sql.Conn
	hot  func(string) bool
	// control holds the writer's own statements, stmts the hot statements
	// of write functions, each checked by checkStatements before it was
	// prepared. Both are nil on a borrowed connection: nothing is
	// prepared.
	control, stmts map[string]*sql.Stmt
	// failControl is sessions.failControl.
	failControl func(q string) error
}

// sessions hands out the writer session.
type sessions struct {
	db    *sql.DB
	hold  bool // keep one connection and its statements
	hot   func(string) bool
	setup func(context.Context, *sql.Conn) error // Config.Setup

	// mu is held while a group transaction uses the session, so close
	// waits for the transaction in progress.
	mu     sync.Mutex
	held   *session
	closed bool
	// setUp is the driver connection a borrowed session last ran setup
	// on (guarded by mu).
	setUp any

	// failControl, a test hook set before the first write, runs before
	// each of the writer's own statements; an error it returns is that
	// statement's, which then does not run.
	failControl func(q string) error
}

// acquire returns the session for one group transaction and the function
// that ends its use, which the caller must call.
func (ss *sessions) acquire(ctx context.Context) (*session, func(), error) {
	if !ss.hold {
		// Wait for the connection (reads may have it) without holding mu,
		// so Close does not wait for them.
		if ss.isClosed() {
			return nil, nil, ErrClosed
		}
		conn, err := ss.db.Conn(ctx)
		if err != nil {
			return nil, nil, err
		}
		ss.mu.Lock()
		if ss.closed {
			ss.mu.Unlock()
			conn.Close()
			return nil, nil, ErrClosed
		}
		if err := ss.setUpBorrowed(ctx, conn); err != nil {
			ss.mu.Unlock()
			conn.Close()
			return nil, nil, err
		}
		s := &session{conn: conn, failControl: ss.failControl}
		return s, func() { conn.Close(); ss.mu.Unlock() }, nil
	}
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return nil, nil, ErrClosed
	}
	if ss.held == nil {
		conn, err := ss.db.Conn(ctx)
		if err != nil {
			ss.mu.Unlock()
			return nil, nil, err
		}
		if ss.setup != nil {
			if err := ss.setup(ctx, conn); err != nil {
				ss.mu.Unlock()
				conn.Close()
				return nil, nil, fmt.Errorf("writer connection set-up: %w", err)
			}
		}
		hot := ss.hot
		if hot == nil {
			hot = func(string) bool { return false }
		}
		ss.held = &session{conn: conn, hot: hot, failControl: ss.failControl,
			control: map[string]*sql.Stmt{}, stmts: map[string]*sql.Stmt{}}
	}
	return ss.held, ss.mu.Unlock, nil
}

// setUpBorrowed runs the set-up on a borrowed connection unless it is the
// one set up last. The caller holds mu.
func (ss *sessions) setUpBorrowed(ctx context.Context, conn *sql.Conn) error {
	if ss.setup == nil {
		return nil
	}
	var dc any
	if err := conn.Raw(func(c any) error { dc = c; return nil }); err != nil {
		return err
	}
	if dc == ss.setUp {
		return nil
	}
	if err := ss.setup(ctx, conn); err != nil {
		return fmt.Errorf("writer connection set-up: %w", err)
	}
	ss.setUp = dc
	return nil
}

func (ss *sessions) isClosed() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.closed
}

// close waits for the transaction in progress, if any, then closes the
// held session's statements and gives its connection back to the pool.
func (ss *sessions) close() error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.closed = true
	if ss.held == nil {
		return nil
	}
	var errs []error
	for _, m := range []map[string]*sql.Stmt{ss.held.control, ss.held.stmts} {
		for _, st := range m {
			errs = append(errs, st.Close())
		}
	}
	errs = append(errs, ss.held.conn.Close())
	ss.held = nil
	return errors.Join(errs...)
}

// prepared returns the statement cached under q in m, preparing and
// caching it first when ok; nil means run q unprepared (a borrowed
// session, a statement that is not to be prepared, or a failed prepare,
// whose error the unprepared run reports).
func (s *session) prepared(ctx context.Context, m map[string]*sql.Stmt, q string, ok bool) *sql.Stmt {
	if m == nil {
		return nil
	}
	if st := m[q]; st != nil {
		return st
	}
	if !ok {
		return nil
	}
	st, err := s.conn.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	m[q] = st
	return st
}

// ctl runs one of the writer's own statements. BEGIN runs under ctx while
// it waits for the write lock; the others run to completion.
func (s *session) ctl(ctx context.Context, q string) error {
	if s.failControl != nil {
		if err := s.failControl(q); err != nil {
			return err
		}
	}
	if st := s.prepared(ctx, s.control, q, true); st != nil {
		_, err := st.ExecContext(ctx)
		return err
	}
	_, err := s.conn.ExecContext(ctx, q)
	return err
}

// begin starts the transaction: BEGIN IMMEDIATE, under ctx while it
// waits for the write lock.
func (s *session) begin(ctx context.Context) error { return s.ctl(ctx, qBegin) }

// rollback ends the open transaction, if any. A failed COMMIT or an
// interrupted statement may have ended it already; that error is moot.
func (s *session) rollback() { _ = s.ctl(context.Background(), qRollback) }

// stmt returns the prepared statement for a write function's q: cached,
// or prepared now when q is hot and passes checkStatements. It returns
// nil and the check's error for a refused statement, and nil, nil for a
// statement to run unprepared. Only a statement not yet cached is
// checked: the hot path is one map lookup.
func (s *session) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if s.stmts != nil {
		if st := s.stmts[q]; st != nil {
			return st, nil
		}
	}
	if err := checkStatements(q); err != nil {
		return nil, err
	}
	if s.stmts == nil {
		return nil, nil
	}
	return s.prepared(ctx, s.stmts, q, s.hot(q)), nil
}
