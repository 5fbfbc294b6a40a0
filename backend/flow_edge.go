package backend

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/google/uuid"
)

// Dependency edges: staging (route 20), applying to the child (route 21)
// and the Go API's edge-group policies.

// Edge states, ff_edge.policy.edge_state (docs/storage.md): staged,
// applied and waiting for its upstream, resolved by the upstream's
// success, made impossible by any other outcome.
const (
	EdgePending     = "pending"
	EdgeUnsatisfied = "unsatisfied"
	EdgeSatisfied   = "satisfied"
	EdgeImpossible  = "impossible"
)

// DefaultDependencyKind is the only dependency kind canonical knows.
const DefaultDependencyKind = "success_only"

// maxCycleCheckNodes caps the cycle check's walk: past it, the edge is
// refused as a cycle (canonical's conservative rejection).
const maxCycleCheckNodes = 1000

// edgePolicy is ff_edge.policy as staging writes it: upstream SQLite's
// keys. Resolution adds resolved_at_ms, upstream_outcome and
// upstream_replay_count; apply adds applied_graph_revision.
type edgePolicy struct {
	DependencyKind        string `json:"dependency_kind"`
	SatisfactionCondition string `json:"satisfaction_condition"`
	DataPassingRef        string `json:"data_passing_ref"`
	EdgeState             string `json:"edge_state"`
	CreatedAtMS           int64  `json:"created_at_ms"`
	CreatedBy             string `json:"created_by"`
	StagedAtMS            int64  `json:"staged_at_ms"`
	AppliedAtMS           *int64 `json:"applied_at_ms"`
}

// StageDependencyEdgeArgs is the body of POST /v1/flows/{id}/edges
// (route 20). DependencyKind defaults to success_only; DataPassingRef,
// when non-empty, makes the child's input the upstream's result.
type StageDependencyEdgeArgs struct {
	FlowID                uuid.UUID   `json:"flow_id"`
	EdgeID                uuid.UUID   `json:"edge_id"`
	UpstreamExecutionID   ExecutionID `json:"upstream_execution_id"`
	DownstreamExecutionID ExecutionID `json:"downstream_execution_id"`
	DependencyKind        string      `json:"dependency_kind,omitempty"`
	DataPassingRef        *string     `json:"data_passing_ref,omitempty"`
	ExpectedGraphRevision uint64      `json:"expected_graph_revision"`
	Now                   int64       `json:"now"`
}

// RequiredFields lists route 20's required fields.
func (StageDependencyEdgeArgs) RequiredFields() []string {
	return []string{"flow_id", "edge_id", "upstream_execution_id", "downstream_execution_id", "expected_graph_revision", "now"}
}

// StageDependencyEdgeResult is Staged{edge_id, new_graph_revision}.
type StageDependencyEdgeResult struct {
	EdgeID           uuid.UUID `json:"edge_id"`
	NewGraphRevision uint64    `json:"new_graph_revision"`
}

// MarshalJSON renders {"Staged":{...}}.
func (r StageDependencyEdgeResult) MarshalJSON() ([]byte, error) {
	type plain StageDependencyEdgeResult
	return json.Marshal(map[string]plain{"Staged": plain(r)})
}

var (
	qEdgeByID = `SELECT upstream_eid, downstream_eid, policy FROM ff_edge
WHERE partition_key = ?1 AND flow_id = ?2 AND edge_id = ?3`

	// qOutNeighbors walks the flow's edges downstream of a node
	// (ff_edge_upstream_idx).
	qOutNeighbors = `SELECT downstream_eid FROM ff_edge WHERE partition_key = ?1 AND flow_id = ?2 AND upstream_eid = ?3`

	qInsertEdge = `INSERT INTO ff_edge (partition_key, flow_id, edge_id, upstream_eid, downstream_eid, policy, policy_version)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)`

	qBumpEdges = `UPDATE ff_flow_core SET graph_revision = graph_revision + 1,
  raw_fields = json_set(raw_fields, '$.edge_count', COALESCE(json_extract(raw_fields, '$.edge_count'), 0) + 1,
    '$.last_mutation_at_ms', ?3)
WHERE partition_key = ?1 AND flow_id = ?2
RETURNING graph_revision`
)

// StageDependencyEdge records an edge upstream → downstream in a flow
// (route 20), checked in canonical order: a self edge (409
// self_referencing_edge), the flow missing (404) or cancelled
// (flow_already_terminal), graph_revision != expected_graph_revision
// (409 contention: StaleGraphRevision, retryable), either end not a
// member (409 state_conflict: ExecutionNotInFlow), a path downstream →
// upstream already existing or a walk past 1,000 nodes (409
// cycle_detected), the edge id taken (409 dependency_already_exists). The
// edge is stored pending; graph_revision and edge_count go up by one.
func (b *Backend) StageDependencyEdge(ctx context.Context, args StageDependencyEdgeArgs) (StageDependencyEdgeResult, error) {
	const op = "stage_dependency_edge"
	if err := validateStageEdge(op, args); err != nil {
		return StageDependencyEdgeResult{}, err
	}
	var out StageDependencyEdgeResult
	err := b.write(ctx, op, func(w *wtx) error {
		var err error
		out, err = w.stageEdge(op, args)
		return err
	})
	return out, err
}

// validateStageEdge checks what route 20 checks before the database.
func validateStageEdge(op string, args StageDependencyEdgeArgs) error {
	switch {
	case args.EdgeID == uuid.Nil:
		return validation(op, "invalid_input", "edge_id: required")
	case args.UpstreamExecutionID.IsZero():
		return validation(op, "invalid_input", "upstream_execution_id: required")
	case args.DownstreamExecutionID.IsZero():
		return validation(op, "invalid_input", "downstream_execution_id: required")
	case args.ExpectedGraphRevision > 1<<62:
		return validation(op, "invalid_input", "expected_graph_revision: %d is out of range", args.ExpectedGraphRevision)
	}
	return nil
}

// stageEdge runs route 20 inside w.
func (w *wtx) stageEdge(op string, args StageDependencyEdgeArgs) (StageDependencyEdgeResult, error) {
	out := StageDependencyEdgeResult{EdgeID: args.EdgeID}
	if args.UpstreamExecutionID.UUID == args.DownstreamExecutionID.UUID {
		return out, &Error{Kind: KindConflict, Op: op, Code: "self_referencing_edge", Msg: "SelfReferencingEdge"}
	}
	f, err := w.flow(op, args.FlowID)
	if err != nil {
		return out, err
	}
	if flowTerminalState(f.state) {
		return out, flowTerminalErr(op)
	}
	if uint64(f.revision) != args.ExpectedGraphRevision {
		return out, &Error{Kind: KindContention, Op: op, Code: "stale_graph_revision", Msg: "StaleGraphRevision"}
	}
	fk := flowKey(args.FlowID)
	for _, id := range []ExecutionID{args.UpstreamExecutionID, args.DownstreamExecutionID} {
		member, err := w.isMember(id, fk)
		if err != nil {
			return out, err
		}
		if !member {
			return out, &Error{Kind: KindState, Op: op, Code: "execution_not_in_flow", Msg: "ExecutionNotInFlow"}
		}
	}
	_, up := args.UpstreamExecutionID.key()
	_, down := args.DownstreamExecutionID.key()
	cycle, err := w.reaches(f.part, fk, down, up)
	if err != nil {
		return out, err
	}
	if cycle {
		return out, &Error{Kind: KindConflict, Op: op, Code: "cycle_detected", Msg: "CycleDetected"}
	}
	ek := flowKey(args.EdgeID)
	var a, c []byte
	var p string
	switch err := w.queryRow(qEdgeByID, f.part, fk, ek).Scan(&a, &c, &p); {
	case err == nil:
		return out, &Error{Kind: KindConflict, Op: op, Code: "dependency_already_exists",
			Msg: "DependencyAlreadyExists { edge_id: " + args.EdgeID.String() + " }"}
	case !errors.Is(err, sql.ErrNoRows):
		return out, err
	}
	kind := args.DependencyKind
	if kind == "" {
		kind = DefaultDependencyKind
	}
	ref := ""
	if args.DataPassingRef != nil {
		ref = *args.DataPassingRef
	}
	pol := jsonString(edgePolicy{DependencyKind: kind, SatisfactionCondition: "all_required", DataPassingRef: ref,
		EdgeState: EdgePending, CreatedAtMS: w.now, CreatedBy: "engine", StagedAtMS: w.now})
	if _, err := w.exec(qInsertEdge, f.part, fk, ek, up, down, pol); err != nil {
		return out, err
	}
	var rev int64
	if err := w.queryRow(qBumpEdges, f.part, fk, w.now).Scan(&rev); err != nil {
		return out, err
	}
	out.NewGraphRevision = uint64(rev)
	return out, nil
}

// isMember reports whether execution id exists with flow_id fk.
func (w *wtx) isMember(id ExecutionID, fk []byte) (bool, error) {
	part, key := id.key()
	var cur []byte
	switch err := w.queryRow(qMemberOf, part, key).Scan(&cur); {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, err
	}
	return string(cur) == string(fk), nil
}

// reaches reports whether target is reachable from start along the
// flow's edges (breadth first, canonical's detect_cycle): true also when
// the walk visits more than maxCycleCheckNodes nodes.
func (w *wtx) reaches(part int64, fk, start, target []byte) (bool, error) {
	visited := map[string]bool{}
	queue := [][]byte{start}
	for len(queue) > 0 {
		var next [][]byte
		for _, n := range queue {
			if string(n) == string(target) {
				return true, nil
			}
			if visited[string(n)] {
				continue
			}
			visited[string(n)] = true
			if len(visited) > maxCycleCheckNodes {
				return true, nil
			}
			rows, err := w.QueryContext(w.ctx, qOutNeighbors, part, fk, n)
			if err != nil {
				return false, err
			}
			for rows.Next() {
				var d []byte
				if err := rows.Scan(&d); err != nil {
					rows.Close()
					return false, err
				}
				if !visited[string(d)] {
					next = append(next, d)
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return false, err
			}
		}
		queue = next
	}
	return false, nil
}

// ApplyDependencyToChildArgs is the body of POST
// /v1/flows/{id}/edges/apply (route 21). GraphRevision is stored, never
// compared; a non-empty DataPassingRef replaces the staged one.
type ApplyDependencyToChildArgs struct {
	FlowID                uuid.UUID   `json:"flow_id"`
	EdgeID                uuid.UUID   `json:"edge_id"`
	DownstreamExecutionID ExecutionID `json:"downstream_execution_id"`
	UpstreamExecutionID   ExecutionID `json:"upstream_execution_id"`
	GraphRevision         uint64      `json:"graph_revision"`
	DependencyKind        string      `json:"dependency_kind,omitempty"`
	DataPassingRef        *string     `json:"data_passing_ref,omitempty"`
	Now                   int64       `json:"now"`
}

// RequiredFields lists route 21's required fields.
func (ApplyDependencyToChildArgs) RequiredFields() []string {
	return []string{"flow_id", "edge_id", "downstream_execution_id", "upstream_execution_id", "graph_revision", "now"}
}

// ApplyDependencyToChildResult is Applied{unsatisfied_count} or the bare
// string "AlreadyApplied".
type ApplyDependencyToChildResult struct {
	AlreadyApplied   bool
	UnsatisfiedCount uint32
}

// MarshalJSON renders the externally tagged wire shape.
func (r ApplyDependencyToChildResult) MarshalJSON() ([]byte, error) {
	if r.AlreadyApplied {
		return json.Marshal("AlreadyApplied")
	}
	return json.Marshal(map[string]map[string]uint32{"Applied": {"unsatisfied_count": r.UnsatisfiedCount}})
}

var (
	// qChildHead reads what apply and resolution need of a child.
	qChildHead = hotStmt(`SELECT flow_id, lifecycle_phase, ownership_state, eligibility_state, attempt_state,
  COALESCE(json_extract(raw_fields, '$.terminal_outcome'), 'none')
FROM ff_exec_core WHERE partition_key = ?1 AND execution_id = ?2`)

	qApplyEdge = `UPDATE ff_edge SET policy = json_set(policy, '$.edge_state', 'unsatisfied', '$.applied_at_ms', ?4,
    '$.applied_graph_revision', ?5, '$.data_passing_ref', COALESCE(?6, json_extract(policy, '$.data_passing_ref')))
WHERE partition_key = ?1 AND flow_id = ?2 AND edge_id = ?3`

	// qGroupApply counts one more unsatisfied edge in the child's group,
	// creating the group with the default all_of policy.
	qGroupApply = `INSERT INTO ff_edge_group (partition_key, flow_id, downstream_eid, policy, running_count)
VALUES (?1, ?2, ?3, '{"kind":"all_of"}', 1)
ON CONFLICT (partition_key, flow_id, downstream_eid) DO UPDATE SET running_count = running_count + 1`

	// qBlockChild takes a runnable child out of the eligible set.
	qBlockChild = `UPDATE ff_exec_core SET eligibility_state = 'blocked_by_dependencies',
  blocking_reason = 'waiting_for_children', public_state = 'waiting_children',
  raw_fields = json_set(json_remove(raw_fields, '$.delay_until'), '$.blocking_detail', ?3)
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase = 'runnable'`

	// qTerminalOf reads an upstream's terminal outcome ('none' while it
	// runs) and its replay count.
	qTerminalOf = `SELECT lifecycle_phase, COALESCE(json_extract(raw_fields, '$.terminal_outcome'), 'none'),
  COALESCE(json_extract(raw_fields, '$.replay_count'), 0)
FROM ff_exec_core WHERE partition_key = ?1 AND execution_id = ?2`
)

// childHead is a child's state as apply and resolution read it.
type childHead struct {
	flow                                       []byte
	lifecycle, ownership, eligibility, attempt string
	outcome                                    string
}

func (w *wtx) childHead(id ExecutionID) (*childHead, error) {
	part, key := id.key()
	h := &childHead{}
	err := w.queryRow(qChildHead, part, key).Scan(&h.flow, &h.lifecycle, &h.ownership, &h.eligibility, &h.attempt, &h.outcome)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return h, err
}

// ApplyDependencyToChild applies a staged edge to its downstream
// execution (route 21), checked in order: the child missing (404 not
// found: execution), the child a member of another flow (409
// execution_already_in_flow), the edge not staged in this flow or not
// joining the given executions (400 invalid_input: edge_not_found), the
// edge already applied ("AlreadyApplied"). The edge becomes unsatisfied
// and counts in the child's edge group (all_of unless SetEdgeGroupPolicy
// said otherwise). A runnable child, eligible or delayed, leaves the
// eligible set (blocked_by_dependencies / waiting_for_children /
// waiting_children); an active child keeps running. When the upstream
// has already ended the edge resolves at once, in the same transaction.
// The answer is the child's unsatisfied edge count once apply is done.
func (b *Backend) ApplyDependencyToChild(ctx context.Context, args ApplyDependencyToChildArgs) (ApplyDependencyToChildResult, error) {
	const op = "apply_dependency_to_child"
	if args.DownstreamExecutionID.IsZero() || args.UpstreamExecutionID.IsZero() {
		return ApplyDependencyToChildResult{}, validation(op, "invalid_input", "downstream_execution_id and upstream_execution_id: required")
	}
	if args.GraphRevision > 1<<62 {
		return ApplyDependencyToChildResult{}, validation(op, "invalid_input", "graph_revision: %d is out of range", args.GraphRevision)
	}
	var out ApplyDependencyToChildResult
	err := b.write(ctx, op, func(w *wtx) error {
		var err error
		out, err = w.applyEdge(op, args)
		return err
	})
	return out, err
}

// applyEdge runs route 21 inside w.
func (w *wtx) applyEdge(op string, args ApplyDependencyToChildArgs) (ApplyDependencyToChildResult, error) {
	var out ApplyDependencyToChildResult
	child := args.DownstreamExecutionID
	h, err := w.childHead(child)
	if err != nil {
		return out, err
	}
	if h == nil {
		return out, notFound(op, "execution")
	}
	fk := flowKey(args.FlowID)
	if h.flow != nil && string(h.flow) != string(fk) {
		return out, &Error{Kind: KindConflict, Op: op, Code: "execution_already_in_flow", Msg: "ExecutionAlreadyInFlow"}
	}
	edgeMissing := validation(op, "invalid_input", "edge_not_found")
	f, err := w.flow(op, args.FlowID)
	if KindOf(err) == KindNotFound {
		return out, edgeMissing
	}
	if err != nil {
		return out, err
	}
	ek := flowKey(args.EdgeID)
	var up, down []byte
	var raw string
	switch err := w.queryRow(qEdgeByID, f.part, fk, ek).Scan(&up, &down, &raw); {
	case errors.Is(err, sql.ErrNoRows):
		return out, edgeMissing
	case err != nil:
		return out, err
	}
	_, childKey := child.key()
	_, upKey := args.UpstreamExecutionID.key()
	if string(down) != string(childKey) || string(up) != string(upKey) {
		return out, validation(op, "invalid_input", "edge_not_found: edge %s does not join %s to %s",
			args.EdgeID, args.UpstreamExecutionID, child)
	}
	var pol edgePolicy
	if err := json.Unmarshal([]byte(raw), &pol); err != nil {
		return out, &Error{Kind: KindTransport, Op: op, Code: "corruption", Msg: "ff_edge.policy of edge " + args.EdgeID.String() + " is not a JSON object", Err: err}
	}
	if pol.AppliedAtMS != nil || (pol.EdgeState != "" && pol.EdgeState != EdgePending) {
		out.AlreadyApplied = true
		return out, nil
	}
	var ref any
	if args.DataPassingRef != nil && *args.DataPassingRef != "" {
		ref = *args.DataPassingRef
	}
	if _, err := w.exec(qApplyEdge, f.part, fk, ek, w.now, int64(args.GraphRevision), ref); err != nil {
		return out, err
	}
	if _, err := w.exec(qGroupApply, f.part, fk, childKey); err != nil {
		return out, err
	}
	g, err := w.group(f.part, fk, childKey)
	if err != nil {
		return out, err
	}
	if g.decision() == decisionPending && h.lifecycle == "runnable" && h.outcome == "none" {
		part, key := child.key()
		if _, err := w.exec(qBlockChild, part, key, blockingDetail(g.running, args.EdgeID.String())); err != nil {
			return out, err
		}
	}
	// An upstream that already ended resolves the edge now.
	upPart, _ := args.UpstreamExecutionID.key()
	var phase, outcome string
	var run int64
	switch err := w.queryRow(qTerminalOf, upPart, upKey).Scan(&phase, &outcome, &run); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return out, err
	case phase == "terminal":
		e := outEdge{part: f.part, edge: ek, child: childKey, childPart: int64(child.Partition), ref: pol.DataPassingRef}
		if s, ok := ref.(string); ok {
			e.ref = s
		}
		if err := w.resolveEdge(upstreamEnd{id: args.UpstreamExecutionID, flow: fk, outcome: outcome, run: run}, e); err != nil {
			return out, err
		}
		if g, err = w.group(f.part, fk, childKey); err != nil {
			return out, err
		}
	}
	out.UnsatisfiedCount = uint32(max(g.running, 0))
	return out, nil
}

// SetEdgeGroupPolicyArgs sets how a child's incoming edges combine (Go
// API only: upstream has no REST route for it, so over HTTP every group is
// all_of).
type SetEdgeGroupPolicyArgs struct {
	FlowID                uuid.UUID       `json:"flow_id"`
	DownstreamExecutionID ExecutionID     `json:"downstream_execution_id"`
	Policy                EdgeGroupPolicy `json:"policy"`
}

// SetEdgeGroupPolicy declares the edge-group policy of a child before
// its first edge is applied (canonical's ff_set_edge_group_policy). Kind
// is all_of, any_of or quorum; quorum needs K >= 1; any_of and quorum
// need OnSatisfied cancel_remaining or let_run. A missing flow is 404; a
// child that is not a member is 409 state_conflict: ExecutionNotInFlow;
// once an edge is applied the policy is fixed (invalid_input:
// edge_group_policy_already_fixed), except that restating the same kind
// is accepted and changes nothing.
func (b *Backend) SetEdgeGroupPolicy(ctx context.Context, args SetEdgeGroupPolicyArgs) error {
	const op = "set_edge_group_policy"
	p := args.Policy
	switch p.Kind {
	case GroupAllOf:
		p = EdgeGroupPolicy{Kind: GroupAllOf}
	case GroupAnyOf, GroupQuorum:
		if p.Kind == GroupQuorum && p.K < 1 {
			return validation(op, "invalid_input", "quorum k must be >= 1")
		}
		if p.OnSatisfied != OnSatisfiedCancelRemaining && p.OnSatisfied != OnSatisfiedLetRun {
			return validation(op, "invalid_input", "on_satisfied required for any_of/quorum: cancel_remaining | let_run")
		}
		if p.Kind == GroupAnyOf {
			p.K = 0
		}
	default:
		return validation(op, "invalid_input", "unsupported_policy_variant: %s", p.Kind)
	}
	if args.DownstreamExecutionID.IsZero() {
		return validation(op, "invalid_input", "downstream_execution_id: required")
	}
	return b.write(ctx, op, func(w *wtx) error {
		f, err := w.flow(op, args.FlowID)
		if err != nil {
			return err
		}
		fk := flowKey(args.FlowID)
		member, err := w.isMember(args.DownstreamExecutionID, fk)
		if err != nil {
			return err
		}
		if !member {
			return &Error{Kind: KindState, Op: op, Code: "execution_not_in_flow", Msg: "ExecutionNotInFlow"}
		}
		_, key := args.DownstreamExecutionID.key()
		var pol string
		var applied int64
		err = w.queryRow(`SELECT policy, success_count + fail_count + skip_count + running_count FROM ff_edge_group
WHERE partition_key = ?1 AND flow_id = ?2 AND downstream_eid = ?3`, f.part, fk, key).Scan(&pol, &applied)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case parseGroupPolicy(pol).Kind == p.Kind:
			return nil
		case applied > 0:
			return validation(op, "invalid_input", "edge_group_policy_already_fixed: dependencies already staged")
		}
		_, err = w.exec(`INSERT INTO ff_edge_group (partition_key, flow_id, downstream_eid, policy, k_target)
VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (partition_key, flow_id, downstream_eid) DO UPDATE SET policy = excluded.policy, k_target = excluded.k_target`,
			f.part, fk, key, jsonString(p), p.need())
		return err
	})
}
