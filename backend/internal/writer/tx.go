package writer

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
)

// Tx is a write transaction in progress on the writer connection, handed
// to a write function. Its statements run inside the transaction (and the
// function's savepoint); hot statements run prepared (session.go).
// Statements that would end or restart the transaction are refused with a
// *TxControlError before they reach SQLite (txcontrol.go).
type Tx struct {
	s     *session
	w     *Writer
	after []func()
}

// ExecContext runs statements that return no rows. A prepared statement
// fails with ctx's error if ctx has ended and otherwise runs to
// completion; any other statement ends when ctx does.
func (t *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.s.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st != nil {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return st.ExecContext(context.WithoutCancel(ctx), args...)
	}
	return t.s.conn.ExecContext(ctx, query, args...)
}

// QueryContext runs a query that returns rows, with ExecContext's context
// rules.
func (t *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := t.s.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st != nil {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return st.QueryContext(context.WithoutCancel(ctx), args...)
	}
	return t.s.conn.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a query that returns at most one row, with
// ExecContext's context rules; a refused statement's Row returns the
// *TxControlError from Scan.
func (t *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := t.s.stmt(ctx, query)
	if err != nil {
		if t.w.refuse == nil {
			t.w.refuse = sql.OpenDB(refuseConnector{})
		}
		return t.w.refuse.QueryRowContext(context.Background(), "", err)
	}
	if st != nil {
		if ctx.Err() != nil {
			// Runs nothing: the driver gives a Row carrying ctx's error.
			return st.QueryRowContext(ctx, args...)
		}
		return st.QueryRowContext(context.WithoutCancel(ctx), args...)
	}
	return t.s.conn.QueryRowContext(ctx, query, args...)
}

// PrepareContext prepares a statement on the transaction's connection, for
// a function that runs one statement many times; close it before the
// function returns.
func (t *Tx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	if err := checkStatements(query); err != nil {
		return nil, err
	}
	return t.s.conn.PrepareContext(ctx, query)
}

// AfterCommit schedules f to run once the transaction has committed, on
// the caller's goroutine after Write's commit.
func (t *Tx) AfterCommit(f func()) { t.after = append(t.after, f) }

// refuseConnector is a database/sql driver whose one connection answers
// every query with the error passed as the query's only argument:
// database/sql builds a *sql.Row only from a driver's answer, and
// QueryRowContext must return one whose Scan gives the refusal.
type refuseConnector struct{}

func (refuseConnector) Connect(context.Context) (driver.Conn, error) { return refuseConn{}, nil }
func (refuseConnector) Driver() driver.Driver                        { return refuseDriver{} }

type refuseDriver struct{}

func (refuseDriver) Open(string) (driver.Conn, error) { return refuseConn{}, nil }

type refuseConn struct{}

var errRefuseOnly = errors.New("writer: the refusal connection only answers queries")

func (refuseConn) Prepare(string) (driver.Stmt, error) { return nil, errRefuseOnly }
func (refuseConn) Close() error                        { return nil }
func (refuseConn) Begin() (driver.Tx, error)           { return nil, errRefuseOnly }

// CheckNamedValue lets the error argument through unconverted.
func (refuseConn) CheckNamedValue(*driver.NamedValue) error { return nil }

func (refuseConn) QueryContext(_ context.Context, _ string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) == 1 {
		if err, ok := args[0].Value.(error); ok {
			return nil, err
		}
	}
	return nil, errRefuseOnly
}
