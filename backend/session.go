package backend

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// The writer session: the connection engine write transactions run on.
//
// database/sql's Tx has the driver parse BEGIN and COMMIT on every
// transaction and starts a goroutine per transaction to watch its
// context; with three short transactions per job, doing without it made
// the lifecycle about a third faster at one worker. So on a file database the group commit leader runs
// its transactions on one writer connection held for the backend's life,
// issuing BEGIN IMMEDIATE, COMMIT, ROLLBACK and the savepoint statements
// itself, each prepared once on that connection like the hot statements.
// The writer pool has a second connection for everything else that writes
// through WriterDB (migrations, journal mode). An in-memory database has
// one connection for reads and writes, so its session borrows that
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

// Transaction control statements, prepared on the held connection.
const (
	qBegin    = "BEGIN IMMEDIATE"
	qCommit   = "COMMIT"
	qRollback = "ROLLBACK"
)

// session is a writer connection and, when held, its prepared statements.
// Only the group commit leader uses it, one transaction at a time.
type session struct {
	conn  *sql.Conn
	stmts map[string]*sql.Stmt // nil: nothing is prepared (borrowed)
}

// errSessionClosed is returned to writes that start after Close.
var errSessionClosed = errors.New("backend is closed")

// sessions hands out the writer session of one backend.
type sessions struct {
	db   *sql.DB
	hold bool // keep one connection and its statements (file databases)

	// mu is held while a group transaction uses the held session, so
	// close waits for the transaction in progress.
	mu     sync.Mutex
	held   *session
	closed bool
}

// acquire returns the session for one group transaction and the function
// that ends its use, which the caller must call.
func (ss *sessions) acquire(ctx context.Context) (*session, func(), error) {
	if !ss.hold {
		conn, err := ss.db.Conn(ctx)
		if err != nil {
			return nil, nil, err
		}
		return &session{conn: conn}, func() { conn.Close() }, nil
	}
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return nil, nil, errSessionClosed
	}
	if ss.held == nil {
		conn, err := ss.db.Conn(ctx)
		if err != nil {
			ss.mu.Unlock()
			return nil, nil, err
		}
		ss.held = &session{conn: conn, stmts: map[string]*sql.Stmt{}}
	}
	return ss.held, ss.mu.Unlock, nil
}

// close waits for the transaction in progress, if any, then closes the
// held session's statements and gives its connection back to the pool,
// which closes it.
func (ss *sessions) close() error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.closed = true
	if ss.held == nil {
		return nil
	}
	var errs []error
	for _, st := range ss.held.stmts {
		errs = append(errs, st.Close())
	}
	errs = append(errs, ss.held.conn.Close())
	ss.held = nil
	return errors.Join(errs...)
}

// stmt returns q prepared on a held session when q is a hot or control
// statement, preparing it on first use; nil means run q unprepared (a
// borrowed session, another statement, or a failed prepare, whose error
// the unprepared run reports).
func (s *session) stmt(ctx context.Context, q string) *sql.Stmt {
	if s.stmts == nil || !preparedQueries[q] {
		return nil
	}
	if st := s.stmts[q]; st != nil {
		return st
	}
	st, err := s.conn.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	s.stmts[q] = st
	return st
}

// begin starts the transaction: BEGIN IMMEDIATE, under ctx while it
// waits for the write lock.
func (s *session) begin(ctx context.Context) error {
	if st := s.stmt(ctx, qBegin); st != nil {
		_, err := st.ExecContext(ctx)
		return err
	}
	_, err := s.conn.ExecContext(ctx, qBegin)
	return err
}

// exec, query and queryRow run a statement inside the transaction. A
// prepared statement fails with ctx's error if ctx has ended and otherwise
// runs to completion; any other statement ends when ctx does.
func (s *session) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := s.stmt(ctx, q); st != nil {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return st.ExecContext(context.WithoutCancel(ctx), args...)
	}
	return s.conn.ExecContext(ctx, q, args...)
}

func (s *session) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := s.stmt(ctx, q); st != nil {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return st.QueryContext(context.WithoutCancel(ctx), args...)
	}
	return s.conn.QueryContext(ctx, q, args...)
}

func (s *session) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := s.stmt(ctx, q); st != nil {
		if ctx.Err() != nil {
			// Runs nothing: database/sql gives a Row carrying ctx's error.
			return st.QueryRowContext(ctx, args...)
		}
		return st.QueryRowContext(context.WithoutCancel(ctx), args...)
	}
	return s.conn.QueryRowContext(ctx, q, args...)
}

// rollback ends the open transaction, if any. A failed COMMIT or an
// interrupted statement may have ended it already; that error is moot.
func (s *session) rollback() {
	_, _ = s.exec(context.Background(), qRollback)
}
