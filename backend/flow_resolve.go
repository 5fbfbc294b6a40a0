package backend

import (
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
)

// Dependency resolution: every terminal transition of a flow member
// (terminate) resolves the applied edges out of it, in the same
// transaction. A success satisfies an edge; any other outcome makes it
// impossible. Each resolution updates the child's edge group, and the
// group's decision moves the child: satisfied → eligible (waiting),
// impossible → terminal skipped, which is itself a terminal transition
// whose edges resolve in turn. The cascade runs from a worklist, not by
// recursion, so a chain of any depth finishes in one transaction with a
// constant stack.

// outcomeSkipped is the terminal outcome of a child whose dependencies
// can no longer be satisfied.
const outcomeSkipped = "skipped"

// Edge-group policy kinds and on_satisfied actions (ff_edge_group.policy).
const (
	GroupAllOf  = "all_of"
	GroupAnyOf  = "any_of"
	GroupQuorum = "quorum"

	OnSatisfiedCancelRemaining = "cancel_remaining"
	OnSatisfiedLetRun          = "let_run"
)

// EdgeGroupPolicy is how a child's incoming edges combine (upstream's
// EdgeDependencyPolicy, stored as ff_edge_group.policy): all_of (every
// upstream must succeed; the default and the only one over REST),
// any_of (one success suffices) or quorum (K successes). any_of and
// quorum say what happens to the upstreams still running once the group
// has decided: cancel_remaining cancels them (operator override), let_run
// leaves them.
type EdgeGroupPolicy struct {
	Kind        string `json:"kind"`
	K           uint32 `json:"k,omitempty"`
	OnSatisfied string `json:"on_satisfied,omitempty"`
}

// need is the number of successes that satisfy the group (0 for all_of:
// every edge).
func (p EdgeGroupPolicy) need() int64 {
	switch p.Kind {
	case GroupAnyOf:
		return 1
	case GroupQuorum:
		return max(int64(p.K), 1)
	}
	return 0
}

// Group decisions.
const (
	decisionPending = iota
	decisionSatisfied
	decisionImpossible
)

// groupCounts is a child's edge group: its policy and its applied edges
// by state (success: satisfied; fail: impossible by a failed, cancelled
// or expired upstream; skip: impossible by a skipped one; running: not
// resolved yet).
type groupCounts struct {
	policy                       EdgeGroupPolicy
	success, fail, skip, running int64
}

// decision evaluates the group: all_of is impossible at the first
// non-success and satisfied when nothing is left unresolved; any_of and
// quorum(k) are satisfied at k successes and impossible once more than
// n − k edges failed or were skipped (and at least one did: while fewer
// than k edges are applied and none failed, the group waits for more).
func (g groupCounts) decision() int {
	bad := g.fail + g.skip
	if k := g.policy.need(); k > 0 {
		n := g.success + bad + g.running
		switch {
		case g.success >= k:
			return decisionSatisfied
		case bad > 0 && bad > n-k:
			return decisionImpossible
		}
		return decisionPending
	}
	switch {
	case bad > 0:
		return decisionImpossible
	case g.running == 0:
		return decisionSatisfied
	}
	return decisionPending
}

// parseGroupPolicy reads ff_edge_group.policy; anything unreadable is
// all_of (upstream's default).
func parseGroupPolicy(s string) EdgeGroupPolicy {
	var p EdgeGroupPolicy
	if json.Unmarshal([]byte(s), &p) != nil || (p.Kind != GroupAnyOf && p.Kind != GroupQuorum) {
		return EdgeGroupPolicy{Kind: GroupAllOf}
	}
	return p
}

// upstreamEnd is an upstream's terminal transition: its outcome and its
// replay count (which run of it ended).
type upstreamEnd struct {
	id      ExecutionID
	flow    []byte
	outcome string
	run     int64
}

// outEdge is one applied, unresolved edge out of an upstream.
type outEdge struct {
	part      int64 // the flow's partition (where its edges are stored)
	edge      []byte
	child     []byte // the downstream's uuid bytes
	childPart int64  // the downstream's partition; -1: not known yet
	ref       string // data_passing_ref
}

// flowTx is a write transaction's cascade: the terminal transitions of
// flow members whose edges are still to resolve.
type flowTx struct {
	queue    []upstreamEnd
	draining bool
}

var (
	// edgePartsCTE enumerates the partitions holding edges, as ep(p).
	edgePartsCTE = partitionCTE("ep", "ff_edge", "")

	// qOutEdges: an upstream's applied, unresolved edges, on whichever
	// partition its flow's edges live (ff_edge_upstream_idx).
	// Each row names the child's partition too (found by primary key on
	// the partitions present, in the one statement; -1 if the child is
	// gone), so resolving it needs no lookup.
	qOutEdges = hotStmt(`WITH RECURSIVE ` + edgePartsCTE + `, ` + partsCTE + `
SELECT e.partition_key, e.edge_id, e.downstream_eid, COALESCE(json_extract(e.policy, '$.data_passing_ref'), ''),
  COALESCE((SELECT c.partition_key FROM parts CROSS JOIN ff_exec_core c
            ON c.partition_key = parts.p AND c.execution_id = e.downstream_eid LIMIT 1), -1)
FROM ep CROSS JOIN ff_edge e ON e.partition_key = ep.p AND e.flow_id = ?1 AND e.upstream_eid = ?2
WHERE json_extract(e.policy, '$.edge_state') = 'unsatisfied'`)

	// qResolveEdge resolves an unsatisfied edge (no-op once resolved).
	qResolveEdge = hotStmt(`UPDATE ff_edge SET policy = json_set(policy, '$.edge_state', ?4, '$.resolved_at_ms', ?5,
    '$.upstream_outcome', ?6, '$.upstream_replay_count', ?7)
WHERE partition_key = ?1 AND flow_id = ?2 AND edge_id = ?3 AND json_extract(policy, '$.edge_state') = 'unsatisfied'`)

	// qGroupResolve moves one edge of the group from running to its
	// bucket and reads the group back.
	qGroupResolve = hotStmt(`UPDATE ff_edge_group SET running_count = max(running_count - 1, 0),
  success_count = success_count + ?4, fail_count = fail_count + ?5, skip_count = skip_count + ?6
WHERE partition_key = ?1 AND flow_id = ?2 AND downstream_eid = ?3
RETURNING policy, success_count, fail_count, skip_count, running_count`)

	qGroup = hotStmt(`SELECT policy, success_count, fail_count, skip_count, running_count FROM ff_edge_group
WHERE partition_key = ?1 AND flow_id = ?2 AND downstream_eid = ?3`)

	// qGroupRecount recomputes a group's counters from its edges' states
	// (replay, the reconciler), creating an all_of group if none exists
	// and the child has edges (a member without any gets no group row).
	qGroupRecount = `INSERT INTO ff_edge_group (partition_key, flow_id, downstream_eid, policy,
  success_count, fail_count, skip_count, running_count)
SELECT ?1, ?2, ?3, '{"kind":"all_of"}',
  COALESCE(sum(st = 'satisfied'), 0), COALESCE(sum(st = 'impossible' AND oc IS NOT 'skipped'), 0),
  COALESCE(sum(st = 'impossible' AND oc IS 'skipped'), 0), COALESCE(sum(st = 'unsatisfied'), 0)
FROM (SELECT json_extract(policy, '$.edge_state') AS st, json_extract(policy, '$.upstream_outcome') AS oc
      FROM ff_edge WHERE partition_key = ?1 AND flow_id = ?2 AND downstream_eid = ?3) WHERE true
HAVING count(*) > 0
ON CONFLICT (partition_key, flow_id, downstream_eid) DO UPDATE SET success_count = excluded.success_count,
  fail_count = excluded.fail_count, skip_count = excluded.skip_count, running_count = excluded.running_count`

	// qFindExec finds an execution by uuid on any partition, with what
	// resolution needs of it.
	qFindExec = hotStmt(`WITH RECURSIVE ` + partsCTE + `
SELECT e.partition_key, e.flow_id, e.lifecycle_phase, e.ownership_state, e.eligibility_state, e.attempt_state,
  COALESCE(json_extract(e.raw_fields, '$.terminal_outcome'), 'none')
FROM parts CROSS JOIN ff_exec_core e ON e.partition_key = parts.p AND e.execution_id = ?1
LIMIT 1`)

	// qPassData replaces a non-terminal child's input with the upstream's
	// stored result; a void completion (NULL result) changes nothing.
	qPassData = hotStmt(`UPDATE ff_exec_core SET payload = (SELECT u.result FROM ff_exec_core u
    WHERE u.partition_key = ?3 AND u.execution_id = ?4)
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase <> 'terminal'
  AND (SELECT u.result FROM ff_exec_core u WHERE u.partition_key = ?3 AND u.execution_id = ?4) IS NOT NULL`)

	// qUnblockChild puts a child whose dependencies are satisfied back in
	// the eligible set; the attempt state is kept (a paused attempt
	// resumes, a reclaim stays a reclaim).
	qUnblockChild = hotStmt(`UPDATE ff_exec_core SET eligibility_state = 'eligible_now', blocking_reason = 'waiting_for_worker',
  public_state = 'waiting',
  attempt_state = CASE WHEN attempt_state = 'none' THEN 'pending_first_attempt' ELSE attempt_state END,
  raw_fields = json_remove(raw_fields, '$.blocking_detail')
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase = 'runnable' AND ownership_state = 'unowned'
  AND eligibility_state = 'blocked_by_dependencies'`)

	// qSiblings: every upstream of the child's in-set, staged, applied or
	// resolved (canonical's sibling scan); cancelSiblings skips the ended.
	qSiblings = hotStmt(`SELECT upstream_eid FROM ff_edge WHERE partition_key = ?1 AND flow_id = ?2 AND downstream_eid = ?3`)

	qReplayCount = hotStmt(`SELECT COALESCE(json_extract(raw_fields, '$.replay_count'), 0) FROM ff_exec_core
WHERE partition_key = ?1 AND execution_id = ?2`)
)

// memberEnded is terminate's hook: flow member id (of flow) ended with
// outcome. Its edges resolve now; when this runs inside a cascade the
// transition is queued and the running drain reaches it.
func (w *wtx) memberEnded(id ExecutionID, flow []byte, outcome string) error {
	w.flows.queue = append(w.flows.queue, upstreamEnd{id: id, flow: flow, outcome: outcome, run: -1})
	if w.flows.draining {
		return nil
	}
	w.flows.draining = true
	defer func() { w.flows.draining, w.flows.queue = false, nil }()
	for i := 0; i < len(w.flows.queue); i++ {
		if err := w.resolveOutgoing(w.flows.queue[i]); err != nil {
			return err
		}
		if i >= 1024 { // drop what is done so a long cascade holds only its frontier
			w.flows.queue, i = w.flows.queue[i+1:], -1
		}
	}
	return nil
}

// resolveOutgoing resolves every applied, unresolved edge out of u.
func (w *wtx) resolveOutgoing(u upstreamEnd) error {
	part, key := u.id.key()
	if u.run < 0 {
		if err := w.queryRow(qReplayCount, part, key).Scan(&u.run); err != nil {
			return err
		}
	}
	rows, err := w.QueryContext(w.ctx, qOutEdges, u.flow, key)
	if err != nil {
		return err
	}
	var edges []outEdge
	for rows.Next() {
		var e outEdge
		if err := rows.Scan(&e.part, &e.edge, &e.child, &e.ref, &e.childPart); err != nil {
			rows.Close()
			return err
		}
		edges = append(edges, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, e := range edges {
		if err := w.resolveEdge(u, e); err != nil {
			return err
		}
	}
	return nil
}

// resolveEdge resolves one edge with its upstream's outcome and moves
// the child as its group decides. An edge already resolved is left
// alone (idempotent).
func (w *wtx) resolveEdge(u upstreamEnd, e outEdge) error {
	success := u.outcome == outcomeSuccess
	state, ds, df, dk := EdgeImpossible, int64(0), int64(0), int64(0)
	switch {
	case success:
		state, ds = EdgeSatisfied, 1
	case u.outcome == outcomeSkipped:
		dk = 1
	default:
		df = 1
	}
	n, err := w.affected(qResolveEdge, e.part, u.flow, e.edge, state, w.now, u.outcome, u.run)
	if err != nil || n == 0 {
		return err
	}
	g, err := w.scanGroup(w.queryRow(qGroupResolve, e.part, u.flow, e.child, ds, df, dk))
	if errors.Is(err, sql.ErrNoRows) {
		// No group row (written by another process): rebuild it from the
		// edges, which already count this one.
		g, err = w.recountGroup(e.part, u.flow, e.child)
		ds, df, dk = 0, 0, 0
	}
	if err != nil {
		return err
	}
	before := g
	before.success, before.fail, before.skip, before.running = g.success-ds, g.fail-df, g.skip-dk, g.running+ds+df+dk
	was, now := before.decision(), g.decision()

	if e.childPart < 0 {
		id, ch, err := w.findExec(e.child, int64(u.id.Partition), e.part)
		if err != nil || ch == nil {
			return err
		}
		e.childPart = int64(id.Partition)
	}
	child, err := execIDFromRow(e.childPart, e.child)
	if err != nil {
		return err
	}
	// all_of passes the data of each success; any_of and quorum only that
	// of the success that satisfies the group (canonical).
	if success && e.ref != "" && (g.policy.need() == 0 || was == decisionPending && now == decisionSatisfied) {
		// qPassData leaves a terminal child alone.
		if _, err := w.exec(qPassData, e.childPart, e.child, int64(u.id.Partition), u.id.UUID[:]); err != nil {
			return err
		}
	}
	if now != decisionPending && was == decisionPending && g.policy.OnSatisfied == OnSatisfiedCancelRemaining {
		reason := "sibling_quorum_satisfied"
		if now == decisionImpossible {
			reason = "sibling_quorum_impossible"
		}
		if err := w.cancelSiblings(e.part, u.flow, e.child, reason); err != nil {
			return err
		}
	}
	if now == decisionSatisfied {
		_, err := w.exec(qUnblockChild, e.childPart, e.child) // a no-op unless blocked
		return err
	}
	if now == decisionPending {
		return nil
	}
	ch, err := w.childHead(child)
	if err != nil || ch == nil {
		return err
	}
	return w.settleChild(child, ch, now, "upstream "+u.id.String()+" ended "+u.outcome)
}

// settleChild applies a group decision to its child: satisfied puts a
// blocked child back in the eligible set, impossible skips a child that
// has not ended, pending changes nothing.
func (w *wtx) settleChild(child ExecutionID, ch *childHead, decision int, why string) error {
	switch decision {
	case decisionSatisfied:
		part, key := child.key()
		_, err := w.exec(qUnblockChild, part, key)
		return err
	case decisionImpossible:
		if ch.outcome != "none" || ch.lifecycle == "terminal" {
			return nil
		}
		return w.skipExecution(child, ch, why)
	}
	return nil
}

// skipExecution moves a child whose dependencies can never be satisfied
// to terminal skipped, whatever it was doing: a running attempt ends
// (outcome cancelled, failure_reason dependency_impossible, epoch
// bumped, lease event revoked) so its worker's next call fails; a paused
// one (suspended, delayed, waiting for children) ends the same way in
// terminate, which closes the open waits. The attempt state becomes
// attempt_terminal if an attempt was running or interrupted, else none
// (canonical); raw_fields gets failure_reason dependency_impossible and
// skip_detail (why). The skip is a terminal transition like any other:
// terminate resolves the child's own edges.
func (w *wtx) skipExecution(child ExecutionID, ch *childHead, why string) error {
	const op = "skip_execution"
	h, err := w.head(op, child)
	if err != nil || h.lifecycle == "terminal" {
		return skipNotFound(err)
	}
	attempt := "none"
	if ch.attempt == "running_attempt" || ch.attempt == "attempt_interrupted" {
		attempt = "attempt_terminal"
	}
	if err := w.endRunning(child, h, "cancelled", `{"failure_reason":"dependency_impossible"}`, "revoked"); err != nil {
		return err
	}
	_, err = w.terminate(child, outcomeSkipped, terminal{attemptState: attempt, pausedOutcome: "cancelled",
		fields: map[string]any{"failure_reason": "dependency_impossible", "skip_detail": why}})
	return err
}

// cancelSiblings cancels the upstreams of a child's edges (staged,
// applied or resolved) that have not ended, once its any_of / quorum
// group with cancel_remaining has decided: an operator-override cancel
// with reason sibling_quorum_satisfied or sibling_quorum_impossible, in
// this transaction (so ff_pending_cancel_groups and
// ff_cancel_dispatch_outbox, canonical's queue for an asynchronous
// dispatcher, stay empty).
func (w *wtx) cancelSiblings(part int64, flow, child []byte, reason string) error {
	rows, err := w.QueryContext(w.ctx, qSiblings, part, flow, child)
	if err != nil {
		return err
	}
	var ups [][]byte
	for rows.Next() {
		var u []byte
		if err := rows.Scan(&u); err != nil {
			rows.Close()
			return err
		}
		ups = append(ups, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, u := range ups {
		id, h, err := w.findExec(u, part)
		if err != nil {
			return err
		}
		if h == nil || h.lifecycle == "terminal" {
			continue
		}
		if err := w.cancelExecution("cancel_sibling", CancelExecutionArgs{ExecutionID: id, Reason: reason}, SourceOperatorOverride); err != nil {
			return err
		}
	}
	return nil
}

// findExec finds an execution by its uuid bytes on any partition (nil
// when there is none). Edges store uuids only, so the partition is looked
// for: first on the hinted partitions (a sibling's, the flow's: canonical
// mints members on the flow's partition), each one primary-key probe,
// then on every partition present.
func (w *wtx) findExec(uuidBytes []byte, hints ...int64) (ExecutionID, *childHead, error) {
	for i, p := range hints {
		if slices.Contains(hints[:i], p) {
			continue
		}
		h := &childHead{}
		err := w.queryRow(qChildHead, p, uuidBytes).Scan(&h.flow, &h.lifecycle, &h.ownership, &h.eligibility, &h.attempt, &h.outcome)
		if err == nil {
			id, err := execIDFromRow(p, uuidBytes)
			return id, h, err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return ExecutionID{}, nil, err
		}
	}
	var part int64
	h := &childHead{}
	err := w.queryRow(qFindExec, uuidBytes).Scan(&part, &h.flow, &h.lifecycle, &h.ownership, &h.eligibility, &h.attempt, &h.outcome)
	if errors.Is(err, sql.ErrNoRows) {
		return ExecutionID{}, nil, nil
	}
	if err != nil {
		return ExecutionID{}, nil, err
	}
	id, err := execIDFromRow(part, uuidBytes)
	return id, h, err
}

// scanGroup reads a group row (qGroup's or qGroupResolve's columns).
func (w *wtx) scanGroup(row *sql.Row) (groupCounts, error) {
	var g groupCounts
	var pol string
	if err := row.Scan(&pol, &g.success, &g.fail, &g.skip, &g.running); err != nil {
		return g, err
	}
	g.policy = parseGroupPolicy(pol)
	return g, nil
}

// group reads a child's edge group; a child without one is an all_of
// group with nothing applied.
func (w *wtx) group(part int64, flow, child []byte) (groupCounts, error) {
	g, err := w.scanGroup(w.queryRow(qGroup, part, flow, child))
	if errors.Is(err, sql.ErrNoRows) {
		return groupCounts{policy: EdgeGroupPolicy{Kind: GroupAllOf}}, nil
	}
	return g, err
}

// recountGroup recomputes a child's group counters from its edges.
func (w *wtx) recountGroup(part int64, flow, child []byte) (groupCounts, error) {
	if _, err := w.exec(qGroupRecount, part, flow, child); err != nil {
		return groupCounts{}, err
	}
	return w.group(part, flow, child)
}

// blockingDetail is a blocked child's raw_fields.blocking_detail.
func blockingDetail(unresolved int64, edge string) string {
	return strconv.FormatInt(unresolved, 10) + " dep(s) unresolved incl " + edge
}
