package backend

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Test-only access to the claim's ready index (readyindex.go), for the
// external tests that compare it with the schema-only claim query and
// check its query plans.

// ClaimPickSchemaSQLForTest returns the schema-only claim query: ?1 lane,
// ?2 now, ?3 capabilities as a JSON array; rows (partition_key,
// execution_id, attempt_state).
func ClaimPickSchemaSQLForTest() string { return qClaimPickSchema }

// ReadyRebuildsForTest returns how many times the ready index was rebuilt.
func (b *Backend) ReadyRebuildsForTest() int64 { return b.in.readyRebuilds.Load() }

// ReadyDriftForTest brings the ready index up to date as a claim would,
// then compares it row by row with what a rebuild from ff_exec_core would
// hold now, in one write transaction that it rolls back. It returns the
// differences ("" when none).
func (b *Backend) ReadyDriftForTest(ctx context.Context) (string, error) {
	var drift string
	errRollback := fmt.Errorf("roll back")
	err := b.write(ctx, "ready_drift", func(w *wtx) error {
		if err := w.refreshReady(); err != nil {
			return err
		}
		q := `SELECT 'extra', * FROM (SELECT * FROM ffsqlite_ready EXCEPT SELECT ` + readyValues("e") +
			` FROM main.ff_exec_core e WHERE ` + readyCond("e") + `)
UNION ALL
SELECT 'missing', * FROM (SELECT ` + readyValues("e") + ` FROM main.ff_exec_core e WHERE ` + readyCond("e") +
			` EXCEPT SELECT * FROM ffsqlite_ready)`
		rows, err := w.QueryContext(w.ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var (
				what        string
				rowid, prio int64
				lane        string
				created     int64
				due         any
			)
			if err := rows.Scan(&what, &rowid, &lane, &prio, &created, &due); err != nil {
				return err
			}
			out = append(out, fmt.Sprintf("%s rowid=%d lane=%s prio=%d created=%d due=%v", what, rowid, lane, prio, created, due))
		}
		if err := rows.Err(); err != nil {
			return err
		}
		drift = strings.Join(out, "; ")
		return errRollback
	})
	if errors.Is(err, errRollback) {
		err = nil
	}
	return drift, err
}

// ReadyPickPlanForTest returns EXPLAIN QUERY PLAN of the ready index's
// pick, on the writer connection (the only one with the index), one
// detail per line.
func (b *Backend) ReadyPickPlanForTest(ctx context.Context) (string, error) {
	var plan []string
	err := b.write(ctx, "ready_plan", func(w *wtx) error {
		plan = nil
		if err := w.refreshReady(); err != nil {
			return err
		}
		rows, err := w.QueryContext(w.ctx, `EXPLAIN QUERY PLAN `+qReadyPick, "default", int64(0), "[]")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				return err
			}
			plan = append(plan, detail)
		}
		return rows.Err()
	})
	return strings.Join(plan, "\n"), err
}

// ReadyRefreshThenFailForTest brings the ready index up to date as a
// claim would, inside a write that then fails (and so rolls back).
func (b *Backend) ReadyRefreshThenFailForTest(ctx context.Context) error {
	return b.write(ctx, "ready_fail", func(w *wtx) error {
		if err := w.refreshReady(); err != nil {
			return err
		}
		return fmt.Errorf("failing on purpose after the refresh")
	})
}

// ReadyPickSQLForTest is the ready index's pick.
func ReadyPickSQLForTest() string { return qReadyPick }

// ReadyIndexOffForTest makes b's claims use the schema-only query (no
// ready index, no triggers); call it before the first claim.
func (b *Backend) ReadyIndexOffForTest() { b.in.readyOff = true }

// ReadyRefreshTwiceForTest brings the ready index up to date twice in one
// write transaction, as two claims of one group transaction do before its
// commit.
func (b *Backend) ReadyRefreshTwiceForTest(ctx context.Context) error {
	return b.write(ctx, "ready_refresh_twice", func(w *wtx) error {
		if err := w.refreshReady(); err != nil {
			return err
		}
		return w.refreshReady()
	})
}
