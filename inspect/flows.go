package inspect

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
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
	// FlowKind, Namespace and, once cancelled, CancellationPolicy and
	// CancelReason come from raw_fields (null when absent).
	FlowKind           *string         `json:"flow_kind"`
	Namespace          *string         `json:"namespace"`
	CancellationPolicy *string         `json:"cancellation_policy"`
	CancelReason       *string         `json:"cancel_reason"`
	RawFields          json.RawMessage `json:"raw_fields"`
	// EdgeStates counts edges by edge_state (only states present).
	EdgeStates map[string]int64 `json:"edge_states"`
	// EdgeGroups are the children's edge groups (ff_edge_group), in
	// member order.
	EdgeGroups []FlowEdgeGroup `json:"edge_groups"`
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
	EdgeID         string  `json:"edge_id"`
	Upstream       string  `json:"upstream"`
	Downstream     string  `json:"downstream"`
	DependencyKind *string `json:"dependency_kind"`
	// EdgeState is pending (staged), unsatisfied (applied, waiting for
	// its upstream), satisfied or impossible (docs/storage.md).
	EdgeState *string `json:"edge_state"`
	// DataPassingRef is set when the upstream's result becomes the
	// child's input; UpstreamOutcome is the outcome that resolved it.
	DataPassingRef  *string         `json:"data_passing_ref"`
	UpstreamOutcome *string         `json:"upstream_outcome"`
	PolicyVersion   int64           `json:"policy_version"`
	Policy          json.RawMessage `json:"policy"`
}

// FlowEdgeGroup is a child's edge group: its policy kind (all_of,
// any_of, quorum), the quorum's k, and its applied edges by state.
type FlowEdgeGroup struct {
	Downstream  string          `json:"downstream"`
	Kind        string          `json:"kind"`
	K           int64           `json:"k"`
	Policy      json.RawMessage `json:"policy"`
	Satisfied   int64           `json:"satisfied"`
	Failed      int64           `json:"failed"`
	Skipped     int64           `json:"skipped"`
	Unsatisfied int64           `json:"unsatisfied"`
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
	rf := fields(raw)
	d.FlowKind, d.Namespace = fieldStr(rf, "flow_kind"), fieldStr(rf, "namespace")
	d.CancellationPolicy, d.CancelReason = fieldStr(rf, "cancellation_policy"), fieldStr(rf, "cancel_reason")
	d.Members, d.Edges, d.Roots = []FlowMember{}, []FlowEdge{}, []string{}
	d.EdgeStates, d.EdgeGroups = map[string]int64{}, []FlowEdgeGroup{}

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
		e.UpstreamOutcome = fieldStr(f, "upstream_outcome")
		if ref := fieldStr(f, "data_passing_ref"); ref != nil && *ref != "" {
			e.DataPassingRef = ref
		}
		if e.EdgeState != nil {
			d.EdgeStates[*e.EdgeState]++
		}
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
	if err := flowGroups(ctx, tx, &d, id, idOf, pos); err != nil {
		return nil, err
	}
	return &d, nil
}

// Summary is the group in one line: "all_of 1/2 satisfied", "quorum 2:
// 1/3 satisfied, 1 failed" (inspect flow and the dashboard print it).
func (g FlowEdgeGroup) Summary() string {
	n := g.Satisfied + g.Failed + g.Skipped + g.Unsatisfied
	s := g.Kind
	if g.Kind == "quorum" {
		s += " " + strconv.FormatInt(g.K, 10) + ":"
	}
	s += fmt.Sprintf(" %d/%d satisfied", g.Satisfied, n)
	if g.Failed > 0 {
		s += fmt.Sprintf(", %d failed", g.Failed)
	}
	if g.Skipped > 0 {
		s += fmt.Sprintf(", %d skipped", g.Skipped)
	}
	return s
}

// flowGroups reads the flow's edge groups, in member order.
func flowGroups(ctx context.Context, q queryer, d *FlowDetail, id []byte, idOf func([]byte) string, pos func(string) int) error {
	rows, err := q.QueryContext(ctx, `SELECT downstream_eid, policy, success_count, fail_count, skip_count, running_count
		FROM ff_edge_group WHERE partition_key = ? AND flow_id = ?`, d.PartitionKey, id)
	if err != nil {
		return fmt.Errorf("read flow edge groups: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var g FlowEdgeGroup
		var down []byte
		var policy string
		if err := rows.Scan(&down, &policy, &g.Satisfied, &g.Failed, &g.Skipped, &g.Unsatisfied); err != nil {
			return err
		}
		g.Downstream, g.Policy = idOf(down), rawJSON(sql.NullString{String: policy, Valid: true})
		f := fields(policy)
		g.Kind = "all_of"
		if k := fieldStr(f, "kind"); k != nil && (*k == "any_of" || *k == "quorum") {
			g.Kind = *k
		}
		switch g.Kind {
		case "any_of":
			g.K = 1
		case "quorum":
			if k := fieldInt(f, "k"); k != nil {
				g.K = *k
			}
		}
		d.EdgeGroups = append(d.EdgeGroups, g)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	slices.SortFunc(d.EdgeGroups, func(a, b FlowEdgeGroup) int {
		if c := pos(a.Downstream) - pos(b.Downstream); c != 0 {
			return c
		}
		return strings.Compare(a.Downstream, b.Downstream)
	})
	return nil
}
