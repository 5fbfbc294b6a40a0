package backend

import (
	"context"
	"database/sql"
	"errors"

	"github.com/google/uuid"
)

// The dependency reconciler (canonical's dependency_reconciler, 15 s):
// the safety net for dependency state the terminal transitions did not
// resolve. In this engine every terminal transition of a member resolves
// its edges in its own transaction, so the net catches what other writers
// leave: another process's backend completing a member (upstream's
// SQLite resolves nothing), a cancel with source flow_cascade (canonical
// publishes no outcome for it), edges or counters written by hand.

var (
	// qStaleEdges: applied, unresolved edges whose upstream has ended in
	// a run the edge has not seen (an edge reset by its child's replay
	// keeps waiting for the upstream's next run). Every edge is read:
	// nothing indexes edge_state.
	qStaleEdges = `WITH RECURSIVE ` + edgePartsCTE + `, ` + partsCTE + `
SELECT e.partition_key, e.flow_id, e.edge_id
FROM ep CROSS JOIN ff_edge e ON e.partition_key = ep.p
JOIN parts ON parts.p IS NOT NULL
JOIN ff_exec_core u ON u.partition_key = parts.p AND u.execution_id = e.upstream_eid
WHERE json_extract(e.policy, '$.edge_state') = 'unsatisfied' AND u.lifecycle_phase = 'terminal'
  AND (json_extract(e.policy, '$.upstream_replay_count') IS NULL
       OR COALESCE(json_extract(u.raw_fields, '$.replay_count'), 0) > json_extract(e.policy, '$.upstream_replay_count'))
LIMIT ?2`

	// qSettledBlocked: flow members still blocked by dependencies although
	// none of their edges is unresolved (so their group has decided).
	qSettledBlocked = `WITH RECURSIVE ` + memberPartsCTE + `, ` + edgePartsCTE + `
SELECT e.partition_key, e.execution_id
FROM mp CROSS JOIN ff_exec_core e ON e.partition_key = mp.p AND e.flow_id IS NOT NULL
WHERE e.lifecycle_phase = 'runnable' AND e.eligibility_state = 'blocked_by_dependencies'
  AND NOT EXISTS (SELECT 1 FROM ep CROSS JOIN ff_edge x
                  ON x.partition_key = ep.p AND x.flow_id = e.flow_id AND x.downstream_eid = e.execution_id
                  WHERE json_extract(x.policy, '$.edge_state') = 'unsatisfied')
LIMIT ?2`

	qEdgeForResolve = `SELECT upstream_eid, downstream_eid, COALESCE(json_extract(policy, '$.data_passing_ref'), ''),
  json_extract(policy, '$.edge_state'), json_extract(policy, '$.upstream_replay_count')
FROM ff_edge WHERE partition_key = ?1 AND flow_id = ?2 AND edge_id = ?3`
)

// staleEdge is one edge the reconciler found.
type staleEdge struct {
	part       int64
	flow, edge []byte
}

// ReconcileDependencies is the dependency reconciler: for up to limit
// items it resolves applied, unresolved edges whose upstream has ended
// (in a run the edge has not seen), with the cascade that follows, and
// settles blocked members whose edges are all resolved (eligible when
// their group is satisfied, skipped when it is impossible). Processed
// counts edges resolved and members moved.
func (b *Backend) ReconcileDependencies(ctx context.Context, nowMS int64, limit int) (SweepReport, error) {
	const op = "reconcile_dependencies"
	if limit <= 0 {
		return SweepReport{}, nil
	}
	rows, err := b.in.reader.QueryContext(ctx, qStaleEdges, nowMS, limit)
	if err != nil {
		return SweepReport{}, transport(op, err)
	}
	var edges []staleEdge
	for rows.Next() {
		var e staleEdge
		if err := rows.Scan(&e.part, &e.flow, &e.edge); err != nil {
			rows.Close()
			return SweepReport{}, transport(op, err)
		}
		edges = append(edges, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return SweepReport{}, transport(op, err)
	}
	rep := sweepItems(ctx, b, op, nowMS, edges, func(w *wtx, e staleEdge) (bool, error) {
		return w.reconcileEdge(e)
	}, func(e staleEdge) []any { return []any{"edge_id", uuidString(e.edge), "flow_id", uuidString(e.flow)} })

	left := limit - rep.Processed - rep.Errors
	if left <= 0 || ctx.Err() != nil {
		return rep, nil
	}
	rows, err = b.in.reader.QueryContext(ctx, qSettledBlocked, nowMS, left)
	if err != nil {
		return rep, transport(op, err)
	}
	cands, err := scanExecIDs(rows)
	if err != nil {
		return rep, transport(op, err)
	}
	items := make([]sweepCandidate, len(cands))
	for i, id := range cands {
		items[i] = sweepCandidate{id: id}
	}
	rep.Add(b.sweepRows(ctx, op, nowMS, items, func(w *wtx, c sweepCandidate) (bool, error) {
		return w.reconcileBlocked(c.id)
	}))
	return rep, nil
}

// reconcileEdge resolves one stale edge, re-checked in the transaction.
func (w *wtx) reconcileEdge(e staleEdge) (bool, error) {
	var up, down []byte
	var ref, state string
	var seen sql.NullInt64
	switch err := w.queryRow(qEdgeForResolve, e.part, e.flow, e.edge).Scan(&up, &down, &ref, &state, &seen); {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, err
	}
	if state != EdgeUnsatisfied {
		return false, nil
	}
	upID, uh, err := w.findExec(up, e.part)
	if err != nil || uh == nil || uh.lifecycle != "terminal" {
		return false, err
	}
	upPart, _ := upID.key()
	var phase, outcome string
	var run int64
	if err := w.queryRow(qTerminalOf, upPart, up).Scan(&phase, &outcome, &run); err != nil {
		return false, err
	}
	if seen.Valid && run <= seen.Int64 {
		return false, nil
	}
	err = w.resolveEdge(upstreamEnd{id: upID, flow: e.flow, outcome: outcome, run: run},
		outEdge{part: e.part, edge: e.edge, child: down, childPart: -1, ref: ref})
	return err == nil, err
}

// reconcileBlocked settles a blocked member whose edges are all
// resolved, from its recounted group.
func (w *wtx) reconcileBlocked(id ExecutionID) (bool, error) {
	ch, err := w.childHead(id)
	if err != nil || ch == nil || ch.lifecycle != "runnable" || ch.eligibility != "blocked_by_dependencies" {
		return false, err
	}
	fid, err := uuid.FromBytes(ch.flow)
	if err != nil {
		return false, nil
	}
	f, err := w.flow("reconcile_dependencies", fid)
	if err != nil {
		return false, skipNotFound(err)
	}
	_, key := id.key()
	g, err := w.recountGroup(f.part, ch.flow, key)
	if err != nil {
		return false, err
	}
	d := g.decision()
	if d == decisionPending {
		return false, nil
	}
	return true, w.settleChild(id, ch, d, "its dependencies were resolved by the reconciler")
}
