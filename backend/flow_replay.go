package backend

import (
	"database/sql"
	"strconv"

	"github.com/google/uuid"
)

// Replay of a flow member resets its dependency state, so that it and
// the DAG below it can run again.

var (
	// qResetImpossible turns a child's impossible edges back into
	// unsatisfied ones. upstream_replay_count stays as the marker of the
	// upstream run that made the edge impossible: the edge now waits for
	// a later run of that upstream.
	qResetImpossible = `UPDATE ff_edge SET policy = json_set(json_remove(policy, '$.resolved_at_ms', '$.upstream_outcome'),
    '$.edge_state', 'unsatisfied')
WHERE partition_key = ?1 AND flow_id = ?2 AND downstream_eid = ?3 AND json_extract(policy, '$.edge_state') = 'impossible'`

	// qInEdges: a child's applied, unresolved edges with the upstream run
	// each last saw (NULL: none).
	qInEdges = `SELECT edge_id, upstream_eid, COALESCE(json_extract(policy, '$.data_passing_ref'), ''),
  json_extract(policy, '$.upstream_replay_count')
FROM ff_edge WHERE partition_key = ?1 AND flow_id = ?2 AND downstream_eid = ?3
  AND json_extract(policy, '$.edge_state') = 'unsatisfied'`

	qPublicState = `SELECT public_state FROM ff_exec_core WHERE partition_key = ?1 AND execution_id = ?2`
)

// inEdge is one unresolved edge into a child.
type inEdge struct {
	edge, upstream []byte
	ref            string
	seen           sql.NullInt64
}

// replayDependencies resets the dependency state of execution id, just
// replayed (runnable, eligible), when it is a flow member: its impossible
// incoming edges become unsatisfied again and its group is recounted;
// an unsatisfied edge whose upstream has ended in a run the edge has not
// seen resolves now; then the child waits (blocked_by_dependencies,
// waiting_children) while any edge is unresolved, runs when its group is
// satisfied, or is skipped again when a newer upstream run failed. An
// edge made impossible by an upstream that has not run again waits for
// that upstream's replay (replay the upstream, in either order). Satisfied
// edges stay satisfied (canonical). It returns the public state the
// replay leaves and adds the branch to the replayed event's details.
func (w *wtx) replayDependencies(id ExecutionID, wasSkipped bool, details map[string]any) (string, error) {
	part, key := id.key()
	var flow []byte
	if err := w.queryRow(qMemberOf, part, key).Scan(&flow); err != nil {
		return "", err
	}
	fid, err := uuid.FromBytes(flow)
	if flow == nil || err != nil {
		return StateWaiting, nil
	}
	f, err := w.flow("replay_execution", fid)
	if KindOf(err) == KindNotFound {
		return StateWaiting, nil
	}
	if err != nil {
		return "", err
	}
	reset, err := w.affected(qResetImpossible, f.part, flow, key)
	if err != nil {
		return "", err
	}
	if _, err := w.recountGroup(f.part, flow, key); err != nil {
		return "", err
	}
	edges, err := w.inEdges(f.part, flow, key)
	if err != nil {
		return "", err
	}
	for _, e := range edges {
		upID, uh, err := w.findExec(e.upstream, part, f.part)
		if err != nil {
			return "", err
		}
		if uh == nil || uh.lifecycle != "terminal" {
			continue
		}
		up, _ := upID.key()
		var phase, outcome string
		var run int64
		if err := w.queryRow(qTerminalOf, up, e.upstream).Scan(&phase, &outcome, &run); err != nil {
			return "", err
		}
		if e.seen.Valid && run <= e.seen.Int64 {
			continue // the run that made it impossible: wait for the upstream's replay
		}
		if err := w.resolveEdge(upstreamEnd{id: upID, flow: flow, outcome: outcome, run: run},
			outEdge{part: f.part, edge: e.edge, child: key, childPart: part, ref: e.ref}); err != nil {
			return "", err
		}
	}
	g, err := w.group(f.part, flow, key)
	if err != nil {
		return "", err
	}
	if g.decision() == decisionPending {
		detail := strconv.FormatInt(g.running, 10) + " dep(s) unsatisfied after replay"
		if _, err := w.exec(qBlockChild, part, key, detail); err != nil {
			return "", err
		}
	}
	if wasSkipped {
		details["branch"] = "skipped_flow_member"
	}
	details["dependencies_reset"] = reset
	details["unsatisfied"] = g.running
	var public string
	err = w.queryRow(qPublicState, part, key).Scan(&public)
	return public, err
}

// inEdges reads a child's unresolved edges.
func (w *wtx) inEdges(part int64, flow, child []byte) ([]inEdge, error) {
	rows, err := w.QueryContext(w.ctx, qInEdges, part, flow, child)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []inEdge
	for rows.Next() {
		var e inEdge
		if err := rows.Scan(&e.edge, &e.upstream, &e.ref, &e.seen); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
