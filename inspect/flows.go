package inspect

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// FlowList is `inspect flows`, newest first.
type FlowList struct {
	Flows     []FlowRow `json:"flows"`
	Limit     int       `json:"limit"`
	Truncated bool      `json:"truncated"`
}

// FlowRow summarises one flow.
type FlowRow struct {
	ID              string `json:"id"`
	PartitionKey    int64  `json:"partition_key"`
	PublicFlowState string `json:"public_flow_state"`
	GraphRevision   int64  `json:"graph_revision"`
	CreatedAtMS     int64  `json:"created_at_ms"`
	TerminalAtMS    *int64 `json:"terminal_at_ms"`
	Members         int64  `json:"members"`
	Edges           int64  `json:"edges"`
	// MemberStates counts members by public state (only states present).
	MemberStates map[string]int64 `json:"member_states"`
}

// FlowDetail is `inspect flow ID`.
type FlowDetail struct {
	FlowRow
	RawFields json.RawMessage `json:"raw_fields"`
	// Members sorted by created_at_ms, then id.
	Members []FlowMember `json:"members"`
	// Edges sorted by upstream, then downstream member.
	Edges []FlowEdge `json:"edges"`
	// Roots are the members no edge points to, in member order.
	Roots []string `json:"roots"`
}

// FlowMember is one execution of the flow.
type FlowMember struct {
	ID          string `json:"id"`
	Lane        string `json:"lane"`
	PublicState string `json:"public_state"`
	CreatedAtMS int64  `json:"created_at_ms"`
}

// FlowEdge is one dependency edge (upstream must finish before
// downstream).
type FlowEdge struct {
	EdgeID         string          `json:"edge_id"`
	Upstream       string          `json:"upstream"`
	Downstream     string          `json:"downstream"`
	DependencyKind *string         `json:"dependency_kind"`
	EdgeState      *string         `json:"edge_state"`
	PolicyVersion  int64           `json:"policy_version"`
	Policy         json.RawMessage `json:"policy"`
}

// Flows lists flows, newest first.
func Flows(ctx context.Context, db *sql.DB, limit int) (*FlowList, error) {
	cat, err := loadCatalog(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := cat.need("ff_flow_core", "ff_exec_core", "ff_edge"); err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = DefaultLimit
	}
	lim := ""
	if limit > 0 {
		lim = fmt.Sprintf(" LIMIT %d", limit+1)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT partition_key, flow_id, public_flow_state, graph_revision, created_at_ms, terminal_at_ms
		FROM ff_flow_core ORDER BY created_at_ms DESC, partition_key, flow_id`+lim)
	if err != nil {
		return nil, fmt.Errorf("list flows: %w", err)
	}
	out := &FlowList{Flows: []FlowRow{}, Limit: max(limit, 0)}
	var ids [][]byte
	for rows.Next() {
		r, id, err := scanFlowRow(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out.Flows = append(out.Flows, r)
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if limit > 0 && len(out.Flows) > limit {
		out.Flows, ids, out.Truncated = out.Flows[:limit], ids[:limit], true
	}
	for i := range out.Flows {
		if err := flowCounts(ctx, tx, &out.Flows[i], ids[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanFlowRow(s scanner) (FlowRow, []byte, error) {
	var r FlowRow
	var id []byte
	var term sql.NullInt64
	if err := s.Scan(&r.PartitionKey, &id, &r.PublicFlowState, &r.GraphRevision, &r.CreatedAtMS, &term); err != nil {
		return r, nil, err
	}
	r.ID, r.TerminalAtMS, r.MemberStates = UUIDString(id), nullInt(term), map[string]int64{}
	return r, id, nil
}

// flowCounts fills members, member states and edges of one flow through
// the partition-led flow and edge indexes.
func flowCounts(ctx context.Context, q queryer, r *FlowRow, id []byte) error {
	rows, err := q.QueryContext(ctx, `SELECT public_state, count(*) FROM ff_exec_core
		WHERE partition_key IN `+partitionsOf("ff_exec_core", "flow_id IS NOT NULL")+` AND flow_id = ? GROUP BY public_state`, id)
	if err != nil {
		return fmt.Errorf("count flow members: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return err
		}
		r.MemberStates[s] = n
		r.Members += n
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return q.QueryRowContext(ctx, "SELECT count(*) FROM ff_edge WHERE partition_key = ? AND flow_id = ?", r.PartitionKey, id).Scan(&r.Edges)
}

// Flow reads one flow with its members and edges.
func Flow(ctx context.Context, db *sql.DB, flowID string) (*FlowDetail, error) {
	id, err := ParseUUID(flowID)
	if err != nil {
		return nil, fmt.Errorf("invalid flow id: %w", err)
	}
	cat, err := loadCatalog(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := cat.need("ff_flow_core", "ff_exec_core", "ff_edge"); err != nil {
		return nil, err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var raw string
	var d FlowDetail
	var term sql.NullInt64
	err = tx.QueryRowContext(ctx, `SELECT partition_key, flow_id, public_flow_state, graph_revision, created_at_ms, terminal_at_ms, raw_fields
		FROM ff_flow_core WHERE partition_key IN `+partitionsOf("ff_flow_core", "")+` AND flow_id = ?`, id).
		Scan(&d.PartitionKey, new([]byte), &d.PublicFlowState, &d.GraphRevision, &d.CreatedAtMS, &term, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &NotFoundError{What: "flow", ID: flowID}
	}
	if err != nil {
		return nil, fmt.Errorf("read flow: %w", err)
	}
	d.ID, d.TerminalAtMS, d.MemberStates = UUIDString(id), nullInt(term), map[string]int64{}
	d.RawFields = rawJSON(sql.NullString{String: raw, Valid: true})
	d.Members, d.Edges, d.Roots = []FlowMember{}, []FlowEdge{}, []string{}

	rows, err := tx.QueryContext(ctx, `SELECT partition_key, execution_id, lane_id, public_state, created_at_ms FROM ff_exec_core
		WHERE partition_key IN `+partitionsOf("ff_exec_core", "flow_id IS NOT NULL")+` AND flow_id = ?
		ORDER BY created_at_ms, partition_key, execution_id`, id)
	if err != nil {
		return nil, fmt.Errorf("read flow members: %w", err)
	}
	wire := map[string]string{} // uuid → wire id
	for rows.Next() {
		var m FlowMember
		var part int64
		var eid []byte
		if err := rows.Scan(&part, &eid, &m.Lane, &m.PublicState, &m.CreatedAtMS); err != nil {
			rows.Close()
			return nil, err
		}
		m.ID = ExecID(part, eid)
		wire[string(eid)] = m.ID
		d.Members = append(d.Members, m)
		d.MemberStates[m.PublicState]++
		d.FlowRow.Members++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = tx.QueryContext(ctx, `SELECT edge_id, upstream_eid, downstream_eid, policy, policy_version FROM ff_edge
		WHERE partition_key = ? AND flow_id = ?`, d.PartitionKey, id)
	if err != nil {
		return nil, fmt.Errorf("read flow edges: %w", err)
	}
	defer rows.Close()
	idOf := func(b []byte) string {
		if w, ok := wire[string(b)]; ok {
			return w
		}
		return ExecID(d.PartitionKey, b) // not (or no longer) a member: assume the flow's partition
	}
	hasUp := map[string]bool{}
	for rows.Next() {
		var e FlowEdge
		var eid, up, down []byte
		var policy string
		if err := rows.Scan(&eid, &up, &down, &policy, &e.PolicyVersion); err != nil {
			return nil, err
		}
		e.EdgeID, e.Upstream, e.Downstream = UUIDString(eid), idOf(up), idOf(down)
		e.Policy = rawJSON(sql.NullString{String: policy, Valid: true})
		f := fields(policy)
		e.DependencyKind, e.EdgeState = fieldStr(f, "dependency_kind"), fieldStr(f, "edge_state")
		hasUp[e.Downstream] = true
		d.Edges = append(d.Edges, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	order := map[string]int{}
	for i, m := range d.Members {
		order[m.ID] = i
	}
	pos := func(id string) int {
		if i, ok := order[id]; ok {
			return i
		}
		return len(order)
	}
	slices.SortFunc(d.Edges, func(a, b FlowEdge) int {
		if c := pos(a.Upstream) - pos(b.Upstream); c != 0 {
			return c
		}
		if c := pos(a.Downstream) - pos(b.Downstream); c != 0 {
			return c
		}
		return strings.Compare(a.Upstream+a.Downstream, b.Upstream+b.Downstream)
	})
	d.FlowRow.Edges = int64(len(d.Edges))
	for _, m := range d.Members {
		if !hasUp[m.ID] {
			d.Roots = append(d.Roots, m.ID)
		}
	}
	return &d, nil
}
