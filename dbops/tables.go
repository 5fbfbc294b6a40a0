// Package dbops holds the operations on a whole ffsqlite database file that
// a dev or CI set-up script runs around the engine: snapshot (a
// consistent copy of a live file), restore (replace a file with a checked
// snapshot), reset (empty the engine's tables, keep the schema, ledgers
// and keys) and seed (load fixtures through the engine's create paths).
package dbops

import (
	"context"
	"database/sql"
	"fmt"
)

// Where every table of the schema stands for reset: it empties the engine
// state and keeps the schema's bookkeeping and configuration. The lists
// cover the whole schema; TestTablesCoverTheSchema fails when a migration
// adds a table neither lists.

// emptiedTables hold engine state; reset deletes every row. In an order
// that needs no foreign keys (the schema declares none).
func emptiedTables() []string {
	return []string{
		// executions and their attempts, capabilities and leases
		"ff_exec_core", "ff_attempt", "ff_execution_capabilities", "ff_lane_registry", "ff_claim_grant",
		// flows and edges
		"ff_flow_core", "ff_edge", "ff_edge_group", "ff_pending_cancel_groups",
		"ff_cancel_backlog", "ff_cancel_backlog_member", "ff_cancel_dispatch_outbox",
		// waitpoints, suspensions, signals
		"ff_waitpoint_pending", "ff_suspension_current", "ff_suspend_dedup",
		// streams
		"ff_stream_frame", "ff_stream_meta", "ff_stream_summary",
		// budgets' usage and quotas' windows (the policies are kept)
		"ff_budget_usage", "ff_budget_usage_dedup", "ff_budget_usage_by_exec",
		"ff_quota_window", "ff_quota_admitted",
		// events (the outboxes)
		"ff_completion_event", "ff_lease_event", "ff_signal_event", "ff_operator_event",
		// workers
		"ff_worker_registry", "ff_worker_registry_event",
	}
}

// keptTables survive reset, each with why.
func keptTables() map[string]string {
	return map[string]string{
		"goose_db_version":        "ffsqlite's migration ledger",
		"_sqlx_migrations":        "upstream's migration ledger",
		"ff_migration_annotation": "written by the migrations",
		"ff_partition_config":     "written by the migrations",
		"ff_waitpoint_hmac":       "the waitpoint HMAC keys",
		"ff_budget_policy":        "budget definitions (their breach counters and reset schedule start over)",
		"ff_quota_policy":         "quota definitions (their active count starts over)",
		"sqlite_sequence":         "event ids keep growing, so a cursor held outside never sees an id twice",
	}
}

// Counts is how much a database holds, for the snapshot, restore and
// reset reports.
type Counts struct {
	Executions int64 `json:"executions"`
	Attempts   int64 `json:"attempts"`
	Flows      int64 `json:"flows"`
	Budgets    int64 `json:"budgets"`
	Quotas     int64 `json:"quotas"`
	Workers    int64 `json:"workers"`
	// Events counts the rows of the four outboxes.
	Events int64 `json:"events"`
}

// rowQuerier is a *sql.DB, *sql.Conn, *sql.Tx or *backend.Txn.
type rowQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// tableSet lists the tables of the main schema.
func tableSet(ctx context.Context, q rowQuerier) (map[string]bool, error) {
	rows, err := q.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE type = 'table'")
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("list tables: %w", err)
		}
		out[n] = true
	}
	return out, rows.Err()
}

// countRows fills Counts from db; tables a schema lacks count 0.
func countRows(ctx context.Context, q rowQuerier) (Counts, error) {
	var c Counts
	present, err := tableSet(ctx, q)
	if err != nil {
		return c, err
	}
	for _, f := range []struct {
		dst    *int64
		tables []string
	}{
		{&c.Executions, []string{"ff_exec_core"}},
		{&c.Attempts, []string{"ff_attempt"}},
		{&c.Flows, []string{"ff_flow_core"}},
		{&c.Budgets, []string{"ff_budget_policy"}},
		{&c.Quotas, []string{"ff_quota_policy"}},
		{&c.Workers, []string{"ff_worker_registry"}},
		{&c.Events, []string{"ff_completion_event", "ff_lease_event", "ff_signal_event", "ff_operator_event"}},
	} {
		for _, t := range f.tables {
			if !present[t] {
				continue
			}
			var n int64
			if err := q.QueryRowContext(ctx, "SELECT count(*) FROM "+t).Scan(&n); err != nil {
				return c, fmt.Errorf("count %s: %w", t, err)
			}
			*f.dst += n
		}
	}
	return c, nil
}
