package backend

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"

	"github.com/google/uuid"
)

// Flow reads: describe a flow, list its edges, list flows. They read
// through the query-only pool.

// FlowInfo describes a flow (GET /v1/flows/{id}, an ffsqlite
// extension): its header (upstream's FlowSnapshot fields), its members
// with their public states, oldest first, and its edge groups in member
// order.
type FlowInfo struct {
	FlowID             uuid.UUID         `json:"flow_id"`
	FlowKind           string            `json:"flow_kind"`
	Namespace          string            `json:"namespace"`
	PublicFlowState    string            `json:"public_flow_state"`
	GraphRevision      uint64            `json:"graph_revision"`
	NodeCount          uint32            `json:"node_count"`
	EdgeCount          uint32            `json:"edge_count"`
	CreatedAt          int64             `json:"created_at"`
	LastMutationAt     int64             `json:"last_mutation_at"`
	CancelledAt        *int64            `json:"cancelled_at"`
	CancelReason       *string           `json:"cancel_reason"`
	CancellationPolicy *string           `json:"cancellation_policy"`
	Members            []FlowMemberInfo  `json:"members"`
	EdgeGroups         []EdgeGroupInfo   `json:"edge_groups"`
	MemberStates       map[string]uint32 `json:"member_states"`
}

// FlowMemberInfo is one member of a flow.
type FlowMemberInfo struct {
	ExecutionID ExecutionID `json:"execution_id"`
	PublicState string      `json:"public_state"`
	LaneID      string      `json:"lane_id"`
	// BlockingDetail says what a waiting_children member waits for.
	BlockingDetail string `json:"blocking_detail,omitempty"`
}

// EdgeGroupInfo is a child's edge group: its policy and its applied
// edges by state.
type EdgeGroupInfo struct {
	DownstreamExecutionID string          `json:"downstream_execution_id"`
	Policy                EdgeGroupPolicy `json:"policy"`
	Satisfied             uint32          `json:"satisfied"`
	Failed                uint32          `json:"failed"`
	Skipped               uint32          `json:"skipped"`
	Unsatisfied           uint32          `json:"unsatisfied"`
	// State is the group's decision: pending, satisfied or impossible.
	State string `json:"state"`
}

var decisionNames = map[int]string{decisionPending: "pending", decisionSatisfied: "satisfied", decisionImpossible: "impossible"}

// DescribeFlow reads a flow; a missing flow is 404 not found: flow.
func (b *Backend) DescribeFlow(ctx context.Context, flowID uuid.UUID) (*FlowInfo, error) {
	const op = "describe_flow"
	tx, err := b.in.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, transport(op, err)
	}
	defer tx.Rollback()
	f, err := loadFlow(ctx, tx, op, flowID)
	if err != nil {
		return nil, transport(op, err)
	}
	info := &FlowInfo{FlowID: flowID, FlowKind: f.raw.FlowKind, Namespace: f.raw.Namespace, PublicFlowState: f.state,
		GraphRevision: uint64(f.revision), NodeCount: uint32(max(f.raw.NodeCount, 0)), EdgeCount: uint32(max(f.raw.EdgeCount, 0)),
		CreatedAt: f.created, LastMutationAt: f.raw.LastMutationAtMS, CancelledAt: f.raw.CancelledAtMS,
		CancelReason: f.raw.CancelReason, CancellationPolicy: f.raw.CancellationPolicy,
		Members: []FlowMemberInfo{}, EdgeGroups: []EdgeGroupInfo{}, MemberStates: map[string]uint32{}}
	fk := flowKey(flowID)
	rows, err := tx.QueryContext(ctx, `WITH RECURSIVE `+memberPartsCTE+`
SELECT e.partition_key, e.execution_id, e.public_state, e.lane_id, COALESCE(json_extract(e.raw_fields, '$.blocking_detail'), '')
FROM mp CROSS JOIN ff_exec_core e ON e.partition_key = mp.p AND e.flow_id = ?1
ORDER BY e.created_at_ms, e.rowid`, fk)
	if err != nil {
		return nil, transport(op, err)
	}
	wire := map[string]string{}
	for rows.Next() {
		var part int64
		var key []byte
		var m FlowMemberInfo
		if err := rows.Scan(&part, &key, &m.PublicState, &m.LaneID, &m.BlockingDetail); err != nil {
			rows.Close()
			return nil, transport(op, err)
		}
		if m.ExecutionID, err = execIDFromRow(part, key); err != nil {
			rows.Close()
			return nil, err
		}
		if m.PublicState != StateWaitingChildren {
			m.BlockingDetail = ""
		}
		wire[string(key)] = m.ExecutionID.String()
		info.Members = append(info.Members, m)
		info.MemberStates[m.PublicState]++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, transport(op, err)
	}
	rows, err = tx.QueryContext(ctx, `SELECT downstream_eid, policy, success_count, fail_count, skip_count, running_count
FROM ff_edge_group WHERE partition_key = ?1 AND flow_id = ?2`, f.part, fk)
	if err != nil {
		return nil, transport(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var down []byte
		var pol string
		var g groupCounts
		if err := rows.Scan(&down, &pol, &g.success, &g.fail, &g.skip, &g.running); err != nil {
			return nil, transport(op, err)
		}
		g.policy = parseGroupPolicy(pol)
		info.EdgeGroups = append(info.EdgeGroups, EdgeGroupInfo{DownstreamExecutionID: memberWire(wire, f.part, down),
			Policy: g.policy, Satisfied: uint32(g.success), Failed: uint32(g.fail), Skipped: uint32(g.skip),
			Unsatisfied: uint32(g.running), State: decisionNames[g.decision()]})
	}
	if err := rows.Err(); err != nil {
		return nil, transport(op, err)
	}
	pos := map[string]int{}
	for i, m := range info.Members {
		pos[m.ExecutionID.String()] = i
	}
	slices.SortStableFunc(info.EdgeGroups, func(a, b EdgeGroupInfo) int {
		return pos[a.DownstreamExecutionID] - pos[b.DownstreamExecutionID]
	})
	return info, nil
}

// memberWire names an edge endpoint by its wire id: the member's, or,
// for a uuid that is not (or no longer) a member, one on the flow's
// partition.
func memberWire(wire map[string]string, part int64, key []byte) string {
	if w, ok := wire[string(key)]; ok {
		return w
	}
	if id, err := execIDFromRow(part, key); err == nil {
		return id.String()
	}
	return uuidString(key)
}

// FlowEdgeInfo is one edge of a flow (GET /v1/flows/{id}/edges).
type FlowEdgeInfo struct {
	EdgeID                uuid.UUID `json:"edge_id"`
	UpstreamExecutionID   string    `json:"upstream_execution_id"`
	DownstreamExecutionID string    `json:"downstream_execution_id"`
	DependencyKind        string    `json:"dependency_kind"`
	DataPassingRef        *string   `json:"data_passing_ref"`
	// EdgeState is pending (staged), unsatisfied (applied, waiting),
	// satisfied or impossible.
	EdgeState       string  `json:"edge_state"`
	StagedAt        int64   `json:"staged_at"`
	AppliedAt       *int64  `json:"applied_at"`
	ResolvedAt      *int64  `json:"resolved_at"`
	UpstreamOutcome *string `json:"upstream_outcome"`
}

// FlowEdges lists a flow's edges in staging order; a missing flow
// is 404 not found: flow.
func (b *Backend) FlowEdges(ctx context.Context, flowID uuid.UUID) ([]FlowEdgeInfo, error) {
	const op = "list_flow_edges"
	tx, err := b.in.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, transport(op, err)
	}
	defer tx.Rollback()
	f, err := loadFlow(ctx, tx, op, flowID)
	if err != nil {
		return nil, transport(op, err)
	}
	fk := flowKey(flowID)
	rows, err := tx.QueryContext(ctx, `WITH RECURSIVE `+memberPartsCTE+`
SELECT e.partition_key, e.execution_id FROM mp CROSS JOIN ff_exec_core e ON e.partition_key = mp.p AND e.flow_id = ?1`, fk)
	if err != nil {
		return nil, transport(op, err)
	}
	ids, err := scanExecIDs(rows)
	if err != nil {
		return nil, transport(op, err)
	}
	wire := map[string]string{}
	for _, id := range ids {
		_, key := id.key()
		wire[string(key)] = id.String()
	}
	rows, err = tx.QueryContext(ctx, `SELECT edge_id, upstream_eid, downstream_eid, policy FROM ff_edge
WHERE partition_key = ?1 AND flow_id = ?2
ORDER BY COALESCE(json_extract(policy, '$.staged_at_ms'), 0), rowid`, f.part, fk)
	if err != nil {
		return nil, transport(op, err)
	}
	defer rows.Close()
	out := []FlowEdgeInfo{}
	for rows.Next() {
		var eid, up, down []byte
		var raw string
		if err := rows.Scan(&eid, &up, &down, &raw); err != nil {
			return nil, transport(op, err)
		}
		var p struct {
			edgePolicy
			ResolvedAtMS    *int64  `json:"resolved_at_ms"`
			UpstreamOutcome *string `json:"upstream_outcome"`
		}
		_ = json.Unmarshal([]byte(raw), &p) // a damaged policy reads as empty fields
		e := FlowEdgeInfo{UpstreamExecutionID: memberWire(wire, f.part, up), DownstreamExecutionID: memberWire(wire, f.part, down),
			DependencyKind: p.DependencyKind, EdgeState: p.EdgeState, StagedAt: p.StagedAtMS, AppliedAt: p.AppliedAtMS,
			ResolvedAt: p.ResolvedAtMS, UpstreamOutcome: p.UpstreamOutcome}
		if u, err := uuid.FromBytes(eid); err == nil {
			e.EdgeID = u
		}
		if p.DataPassingRef != "" {
			e.DataPassingRef = &p.DataPassingRef
		}
		if e.EdgeState == "" {
			e.EdgeState = EdgePending
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, transport(op, err)
	}
	return out, nil
}

// FlowSummary is one flow of ListFlows.
type FlowSummary struct {
	FlowID          uuid.UUID `json:"flow_id"`
	FlowKind        string    `json:"flow_kind"`
	Namespace       string    `json:"namespace"`
	PublicFlowState string    `json:"public_flow_state"`
	GraphRevision   uint64    `json:"graph_revision"`
	NodeCount       uint32    `json:"node_count"`
	EdgeCount       uint32    `json:"edge_count"`
	CreatedAt       int64     `json:"created_at"`
}

// ListFlows lists up to limit flows (<= 0: 50, at most 1,000), newest
// first.
func (b *Backend) ListFlows(ctx context.Context, limit int) ([]FlowSummary, error) {
	const op = "list_flows"
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	rows, err := b.in.reader.QueryContext(ctx, `SELECT flow_id, public_flow_state, graph_revision, created_at_ms, raw_fields
FROM ff_flow_core ORDER BY created_at_ms DESC, partition_key, flow_id LIMIT ?1`, limit)
	if err != nil {
		return nil, transport(op, err)
	}
	defer rows.Close()
	out := []FlowSummary{}
	for rows.Next() {
		var id []byte
		var raw string
		var s FlowSummary
		var rev int64
		if err := rows.Scan(&id, &s.PublicFlowState, &rev, &s.CreatedAt, &raw); err != nil {
			return nil, transport(op, err)
		}
		var fr flowRaw
		_ = json.Unmarshal([]byte(raw), &fr)
		if u, err := uuid.FromBytes(id); err == nil {
			s.FlowID = u
		}
		s.FlowKind, s.Namespace, s.GraphRevision = fr.FlowKind, fr.Namespace, uint64(rev)
		s.NodeCount, s.EdgeCount = uint32(max(fr.NodeCount, 0)), uint32(max(fr.EdgeCount, 0))
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, transport(op, err)
	}
	return out, nil
}
