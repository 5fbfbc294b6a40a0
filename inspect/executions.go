package inspect

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// DefaultLimit is how many rows list views return when no limit is given.
const DefaultLimit = 50

// ExecutionFilter selects executions for Executions. Zero values match
// everything.
type ExecutionFilter struct {
	State string // public state
	Lane  string
	Flow  string // flow uuid
	// Limit caps the rows (DefaultLimit when 0, no cap when negative).
	Limit int
}

// ExecutionList is `inspect executions`.
type ExecutionList struct {
	Executions []ExecutionRow `json:"executions"`
	Limit      int            `json:"limit"`
	// Truncated is set when more executions match than Limit.
	Truncated bool `json:"truncated"`
}

// ExecutionRow is one execution in a list, newest first.
type ExecutionRow struct {
	ID             string  `json:"id"`
	Lane           string  `json:"lane"`
	PublicState    string  `json:"public_state"`
	LifecyclePhase string  `json:"lifecycle_phase"`
	AttemptIndex   int64   `json:"attempt_index"`
	Priority       int64   `json:"priority"`
	FlowID         *string `json:"flow_id"`
	Namespace      *string `json:"namespace"`
	ExecutionKind  *string `json:"execution_kind"`
	CreatedAtMS    int64   `json:"created_at_ms"`
	StartedAtMS    *int64  `json:"started_at_ms"`
	TerminalAtMS   *int64  `json:"terminal_at_ms"`
}

// ValidState reports whether s is a public state.
func ValidState(s string) bool { return slices.Contains(PublicStates, s) }

// Executions lists executions matching f, newest first (created_at_ms
// descending, then id). The filter's row selection runs first on narrow
// columns; raw_fields is read only for the rows returned.
func Executions(ctx context.Context, db *sql.DB, f ExecutionFilter) (*ExecutionList, error) {
	cat, err := loadCatalog(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := cat.need("ff_exec_core"); err != nil {
		return nil, err
	}
	if f.State != "" && !ValidState(f.State) {
		return nil, fmt.Errorf("unknown state %q (one of %s)", f.State, strings.Join(PublicStates, ", "))
	}
	limit := f.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	var where []string
	var args []any
	if f.Lane != "" {
		where = append(where, "partition_key IN "+partitionsOf("ff_exec_core", "")+" AND lane_id = ?")
		args = append(args, f.Lane)
	}
	if f.Flow != "" {
		fid, err := ParseUUID(f.Flow)
		if err != nil {
			return nil, fmt.Errorf("invalid flow id: %w", err)
		}
		where = append(where, "partition_key IN "+partitionsOf("ff_exec_core", "flow_id IS NOT NULL")+" AND flow_id = ?")
		args = append(args, fid)
	}
	if f.State != "" {
		where = append(where, "public_state = ?")
		args = append(args, f.State)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	lim := ""
	if limit > 0 {
		lim = fmt.Sprintf(" LIMIT %d", limit+1)
	}
	started := cat.col("ff_exec_core", "started_at_ms")
	q := fmt.Sprintf(`SELECT partition_key, execution_id, lane_id, public_state, lifecycle_phase, attempt_index, priority,
		flow_id, json_extract(raw_fields, '$.namespace'), json_extract(raw_fields, '$.execution_kind'),
		created_at_ms, %s, terminal_at_ms
		FROM ff_exec_core WHERE rowid IN (SELECT rowid FROM ff_exec_core%s ORDER BY created_at_ms DESC, partition_key, execution_id%s)
		ORDER BY created_at_ms DESC, partition_key, execution_id`, started, cond, lim)
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list executions: %w", err)
	}
	defer rows.Close()
	out := &ExecutionList{Executions: []ExecutionRow{}, Limit: max(limit, 0)}
	for rows.Next() {
		var r ExecutionRow
		var part int64
		var id, flow []byte
		var ns, kind sql.NullString
		var st, term sql.NullInt64
		if err := rows.Scan(&part, &id, &r.Lane, &r.PublicState, &r.LifecyclePhase, &r.AttemptIndex, &r.Priority,
			&flow, &ns, &kind, &r.CreatedAtMS, &st, &term); err != nil {
			return nil, err
		}
		r.ID = ExecID(part, id)
		if flow != nil {
			s := UUIDString(flow)
			r.FlowID = &s
		}
		r.Namespace, r.ExecutionKind = nullStr(ns), nullStr(kind)
		r.StartedAtMS, r.TerminalAtMS = nullInt(st), nullInt(term)
		out.Executions = append(out.Executions, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if limit > 0 && len(out.Executions) > limit {
		out.Executions, out.Truncated = out.Executions[:limit], true
	}
	return out, nil
}
