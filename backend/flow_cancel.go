package backend

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sync"

	"github.com/google/uuid"
)

// Cancelling a flow (route 19): the header flips the flow to cancelled;
// with cancellation_policy cancel_all its members are then cancelled one
// transaction each (an operator override with the flow's reason), at once
// with ?wait=true or in the background otherwise, and a durable backlog
// (ff_cancel_backlog, ff_cancel_backlog_member) lets the cancel-backlog
// reconciler finish what the live dispatch missed.

// CancelAllPolicy is the one cancellation policy that cancels members
// (engine-canonical.md C5); any other string only flips the flow.
const CancelAllPolicy = "cancel_all"

// Flow cancel limits (canonical's).
const (
	// flowCancelGraceMS is how long the reconciler leaves a backlog to
	// the live dispatch before taking over.
	flowCancelGraceMS = 30_000
	// flowCancelParallel is how many member cancels are in flight at once.
	flowCancelParallel = 16
	// alreadyTerminalMemberCap caps the member list of a repeated cancel.
	alreadyTerminalMemberCap = 1000
)

// CancelFlowArgs is the body of POST /v1/flows/{id}/cancel (route 19).
type CancelFlowArgs struct {
	FlowID             uuid.UUID `json:"flow_id"`
	Reason             string    `json:"reason"`
	CancellationPolicy string    `json:"cancellation_policy"`
	Now                int64     `json:"now"`
}

// RequiredFields lists route 19's required fields.
func (CancelFlowArgs) RequiredFields() []string {
	return []string{"flow_id", "reason", "cancellation_policy", "now"}
}

// CancelFlowOutcome names the variant of a CancelFlowResult.
type CancelFlowOutcome int

// The variants of CancelFlowResult.
const (
	// FlowCancelled: the flow is cancelled and so is every member the
	// policy asked for (none unless cancel_all), or the flow was already
	// cancelled.
	FlowCancelled CancelFlowOutcome = iota
	// FlowCancellationScheduled: the flow is cancelled; its members'
	// cancels run in the background.
	FlowCancellationScheduled
	// FlowPartiallyCancelled: ?wait=true, and some member cancels failed
	// (the reconciler retries them).
	FlowPartiallyCancelled
)

// CancelFlowResult is route 19's answer: Cancelled{cancellation_policy,
// member_execution_ids}, CancellationScheduled{cancellation_policy,
// member_count, member_execution_ids} or
// PartiallyCancelled{cancellation_policy, member_execution_ids,
// failed_member_execution_ids}.
type CancelFlowResult struct {
	Outcome                  CancelFlowOutcome
	CancellationPolicy       string
	MemberExecutionIDs       []string
	FailedMemberExecutionIDs []string
}

// MarshalJSON renders the externally tagged wire shape.
func (r CancelFlowResult) MarshalJSON() ([]byte, error) {
	members := r.MemberExecutionIDs
	if members == nil {
		members = []string{}
	}
	switch r.Outcome {
	case FlowCancellationScheduled:
		return json.Marshal(map[string]any{"CancellationScheduled": struct {
			CancellationPolicy string   `json:"cancellation_policy"`
			MemberCount        uint32   `json:"member_count"`
			MemberExecutionIDs []string `json:"member_execution_ids"`
		}{r.CancellationPolicy, uint32(len(members)), members}})
	case FlowPartiallyCancelled:
		failed := r.FailedMemberExecutionIDs
		if failed == nil {
			failed = []string{}
		}
		return json.Marshal(map[string]any{"PartiallyCancelled": struct {
			CancellationPolicy       string   `json:"cancellation_policy"`
			MemberExecutionIDs       []string `json:"member_execution_ids"`
			FailedMemberExecutionIDs []string `json:"failed_member_execution_ids"`
		}{r.CancellationPolicy, members, failed}})
	}
	return json.Marshal(map[string]any{"Cancelled": struct {
		CancellationPolicy string   `json:"cancellation_policy"`
		MemberExecutionIDs []string `json:"member_execution_ids"`
	}{r.CancellationPolicy, members}})
}

var (
	// memberPartsCTE enumerates the partitions holding flow members, as
	// mp(p), on ff_exec_core_flow_idx (partition_key, flow_id) WHERE
	// flow_id IS NOT NULL.
	memberPartsCTE = partitionCTE("mp", "ff_exec_core", "flow_id IS NOT NULL")

	// qFlowMembers: every member of a flow, in creation order.
	qFlowMembers = `WITH RECURSIVE ` + memberPartsCTE + `
SELECT e.partition_key, e.execution_id FROM mp CROSS JOIN ff_exec_core e
  ON e.partition_key = mp.p AND e.flow_id = ?1
ORDER BY e.created_at_ms, e.rowid`

	qCancelFlowHeader = `UPDATE ff_flow_core SET public_flow_state = 'cancelled', terminal_at_ms = ?3,
  raw_fields = json_set(raw_fields, '$.cancelled_at_ms', ?3, '$.cancel_reason', ?4, '$.cancellation_policy', ?5,
    '$.last_mutation_at_ms', ?3)
WHERE partition_key = ?1 AND flow_id = ?2`

	qInsertCancelBacklog = `INSERT INTO ff_cancel_backlog (partition_key, flow_id, requested_at_ms, requester, reason,
  grace_until_ms, cancellation_policy, status)
VALUES (?1, ?2, ?3, '', ?4, ?5, ?6, 'pending')
ON CONFLICT (partition_key, flow_id) DO NOTHING`

	qInsertBacklogMember = `INSERT OR IGNORE INTO ff_cancel_backlog_member (partition_key, flow_id, execution_id) VALUES (?1, ?2, ?3)`

	// qAckMember: one member's cancel is done; the backlog goes with its
	// last member.
	qAckMember        = `DELETE FROM ff_cancel_backlog_member WHERE partition_key = ?1 AND flow_id = ?2 AND execution_id = ?3`
	qDropEmptyBacklog = `DELETE FROM ff_cancel_backlog WHERE partition_key = ?1 AND flow_id = ?2
  AND NOT EXISTS (SELECT 1 FROM ff_cancel_backlog_member m WHERE m.partition_key = ?1 AND m.flow_id = ?2)`

	// qFlowOperatorEvent records flow_cancel_requested with the flow id as
	// execution_id and the flow's namespace (upstream's shape).
	qFlowOperatorEvent = `INSERT INTO ff_operator_event (execution_id, event_type, details, occurred_at_ms, partition_key, namespace, instance_tag)
VALUES (?1, 'flow_cancel_requested', ?2, ?3, ?4, ?5, NULL)`
)

// flowCancelHeader is what the header transaction decided.
type flowCancelHeader struct {
	already bool
	policy  string
	reason  string
	part    int64
	members []ExecutionID
}

// CancelFlow cancels a flow (route 19). A missing flow is 404 not found:
// flow. A flow already cancelled answers Cancelled with its stored
// policy (the request's when none was stored) and at most 1,000 members,
// changing nothing. Otherwise the flow becomes cancelled with the
// request's reason and policy, and the answer lists every member,
// terminal ones included. Only cancel_all with members cancels them:
// with wait, here, answering Cancelled or PartiallyCancelled (the members
// whose cancel failed); without, in the background, answering
// CancellationScheduled. Each member cancel is an operator-override
// cancel with the flow's reason, and resolves the member's edges, so a
// downstream member not yet cancelled is skipped.
func (b *Backend) CancelFlow(ctx context.Context, args CancelFlowArgs, wait bool) (CancelFlowResult, error) {
	const op = "cancel_flow"
	if args.FlowID == uuid.Nil {
		return CancelFlowResult{}, validation(op, "invalid_input", "flow_id: required")
	}
	var h flowCancelHeader
	err := b.write(ctx, op, func(w *wtx) error {
		var err error
		h, err = w.cancelFlowHeader(op, args)
		return err
	})
	if err != nil {
		return CancelFlowResult{}, err
	}
	out := CancelFlowResult{CancellationPolicy: h.policy, MemberExecutionIDs: wireIDs(h.members)}
	if h.already {
		if len(out.MemberExecutionIDs) > alreadyTerminalMemberCap {
			out.MemberExecutionIDs = out.MemberExecutionIDs[:alreadyTerminalMemberCap]
		}
		return out, nil
	}
	if h.policy != CancelAllPolicy || len(h.members) == 0 {
		return out, nil
	}
	fk := flowKey(args.FlowID)
	if wait {
		failed := b.dispatchFlowCancel(ctx, h.part, fk, h.reason, h.members)
		if len(failed) > 0 {
			out.Outcome, out.FailedMemberExecutionIDs = FlowPartiallyCancelled, failed
		}
		return out, nil
	}
	out.Outcome = FlowCancellationScheduled
	b.goBackground(func(ctx context.Context) { b.dispatchFlowCancel(ctx, h.part, fk, h.reason, h.members) })
	return out, nil
}

func wireIDs(ids []ExecutionID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

// cancelFlowHeader is route 19's atomic step.
func (w *wtx) cancelFlowHeader(op string, args CancelFlowArgs) (flowCancelHeader, error) {
	f, err := w.flow(op, args.FlowID)
	if err != nil {
		return flowCancelHeader{}, err
	}
	fk := flowKey(args.FlowID)
	members, err := w.flowMembers(fk)
	if err != nil {
		return flowCancelHeader{}, err
	}
	h := flowCancelHeader{part: f.part, policy: args.CancellationPolicy, reason: args.Reason, members: members}
	if flowTerminalState(f.state) {
		h.already = true
		if f.raw.CancellationPolicy != nil && *f.raw.CancellationPolicy != "" {
			h.policy = *f.raw.CancellationPolicy
		}
		return h, nil
	}
	if _, err := w.exec(qCancelFlowHeader, f.part, fk, w.now, args.Reason, args.CancellationPolicy); err != nil {
		return h, err
	}
	if args.CancellationPolicy == CancelAllPolicy && len(members) > 0 {
		if _, err := w.exec(qInsertCancelBacklog, f.part, fk, w.now, args.Reason, w.now+flowCancelGraceMS, args.CancellationPolicy); err != nil {
			return h, err
		}
		for _, m := range members {
			if _, err := w.exec(qInsertBacklogMember, f.part, fk, m.String()); err != nil {
				return h, err
			}
		}
	}
	details := jsonString(map[string]any{"flow_id": args.FlowID.String(), "cancellation_policy": args.CancellationPolicy,
		"reason": args.Reason, "member_count": len(members)})
	if _, err := w.exec(qFlowOperatorEvent, args.FlowID.String(), details, w.now, f.part, f.raw.Namespace); err != nil {
		return h, err
	}
	w.wake(OutboxOperator)
	return h, nil
}

// flowMembers lists a flow's members on every partition.
func (w *wtx) flowMembers(fk []byte) ([]ExecutionID, error) {
	rows, err := w.QueryContext(w.ctx, qFlowMembers, fk)
	if err != nil {
		return nil, err
	}
	return scanExecIDs(rows)
}

// scanExecIDs reads (partition_key, execution_id) rows.
func scanExecIDs(rows *sql.Rows) ([]ExecutionID, error) {
	defer rows.Close()
	var out []ExecutionID
	for rows.Next() {
		var part int64
		var key []byte
		if err := rows.Scan(&part, &key); err != nil {
			return nil, err
		}
		id, err := execIDFromRow(part, key)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// dispatchFlowCancel cancels members, flowCancelParallel at a time (the
// writer group-commits them), each in its own transaction together with
// its backlog acknowledgement. It returns the members whose cancel
// failed, in member order; they stay in the backlog.
func (b *Backend) dispatchFlowCancel(ctx context.Context, part int64, fk []byte, reason string, members []ExecutionID) []string {
	failed := make([]bool, len(members))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(flowCancelParallel, len(members)) {
		wg.Go(func() {
			for i := range next {
				err := b.write(ctx, "cancel_flow_member", func(w *wtx) error {
					return w.cancelMember(part, fk, members[i], reason)
				})
				if err != nil {
					failed[i] = true
					b.in.opts.Logger.Warn("flow member cancel failed", "execution_id", members[i].String(), "err", err)
				}
			}
		})
	}
	for i := range members {
		next <- i
	}
	close(next)
	wg.Wait()
	var out []string
	for i, f := range failed {
		if f {
			out = append(out, members[i].String())
		}
	}
	return out
}

// cancelMember cancels one member of a cancelled flow (operator
// override, the flow's reason) unless it has ended or is gone, and
// acknowledges it in the backlog.
func (w *wtx) cancelMember(part int64, fk []byte, id ExecutionID, reason string) error {
	const op = "cancel_flow_member"
	h, err := w.head(op, id)
	switch {
	case KindOf(err) == KindNotFound:
	case err != nil:
		return err
	case h.lifecycle != "terminal":
		if err := w.cancelExecution(op, CancelExecutionArgs{ExecutionID: id, Reason: reason}, SourceOperatorOverride); err != nil {
			return err
		}
	}
	return w.ackCancelMember(part, fk, id.String())
}

// ackCancelMember removes a member from its flow's cancel backlog, and
// the backlog once it is empty.
func (w *wtx) ackCancelMember(part int64, fk []byte, wire string) error {
	if _, err := w.exec(qAckMember, part, fk, wire); err != nil {
		return err
	}
	_, err := w.exec(qDropEmptyBacklog, part, fk)
	return err
}

// DefaultFlowReconcileBatch is how many rows one tick of the flow
// reconcilers handles.
const DefaultFlowReconcileBatch = 100

var (
	backlogPartsCTE = partitionCTE("cb", "ff_cancel_backlog", "grace_until_ms IS NOT NULL")

	// qDueBacklogMembers: members of backlogs whose grace has passed
	// (ff_cancel_backlog_grace_idx), oldest backlog first.
	qDueBacklogMembers = `WITH RECURSIVE ` + backlogPartsCTE + `
SELECT c.partition_key, c.flow_id, c.reason, m.execution_id
FROM cb CROSS JOIN ff_cancel_backlog c ON c.partition_key = cb.p AND c.grace_until_ms IS NOT NULL AND c.grace_until_ms <= ?1
JOIN ff_cancel_backlog_member m ON m.partition_key = c.partition_key AND m.flow_id = c.flow_id
ORDER BY c.grace_until_ms, c.partition_key, c.flow_id, m.execution_id
LIMIT ?2`

	// qEmptyBacklogs: due backlogs left without members (written by
	// another process, or a crash between acknowledgements).
	qEmptyBacklogs = `WITH RECURSIVE ` + backlogPartsCTE + `
SELECT c.partition_key, c.flow_id FROM cb CROSS JOIN ff_cancel_backlog c
  ON c.partition_key = cb.p AND c.grace_until_ms IS NOT NULL AND c.grace_until_ms <= ?1
WHERE NOT EXISTS (SELECT 1 FROM ff_cancel_backlog_member m WHERE m.partition_key = c.partition_key AND m.flow_id = c.flow_id)
LIMIT ?2`

	qBacklogMemberLeft = `SELECT 1 FROM ff_cancel_backlog_member WHERE partition_key = ?1 AND flow_id = ?2 AND execution_id = ?3`
)

// backlogMember is one member the cancel-backlog reconciler owes a
// cancel.
type backlogMember struct {
	part   int64
	flow   []byte
	reason string
	wire   string
}

// ReconcileFlowCancels is the cancel-backlog reconciler (canonical's
// cancel_reconciler, 15 s): for up to limit members of cancel_all
// backlogs whose grace (30 s after the cancel) has passed by nowMS, it
// cancels the member if it has not ended (operator override, the flow's
// reason) and acknowledges it; a backlog goes with its last member. A
// member whose cancel fails stays and is retried next tick. Processed
// counts acknowledged members and empty backlogs removed.
func (b *Backend) ReconcileFlowCancels(ctx context.Context, nowMS int64, limit int) (SweepReport, error) {
	const op = "reconcile_flow_cancels"
	if limit <= 0 {
		return SweepReport{}, nil
	}
	rows, err := b.in.reader.QueryContext(ctx, qDueBacklogMembers, nowMS, limit)
	if err != nil {
		return SweepReport{}, transport(op, err)
	}
	var items []backlogMember
	for rows.Next() {
		var m backlogMember
		if err := rows.Scan(&m.part, &m.flow, &m.reason, &m.wire); err != nil {
			rows.Close()
			return SweepReport{}, transport(op, err)
		}
		items = append(items, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return SweepReport{}, transport(op, err)
	}
	rep := sweepItems(ctx, b, op, nowMS, items, func(w *wtx, m backlogMember) (bool, error) {
		var one int
		switch err := w.queryRow(qBacklogMemberLeft, m.part, m.flow, m.wire).Scan(&one); {
		case errors.Is(err, sql.ErrNoRows):
			return false, nil // acknowledged meanwhile
		case err != nil:
			return false, err
		}
		id, err := ParseExecutionID(m.wire)
		if err != nil {
			// Not an id: nothing can be cancelled; drop the row.
			b.in.opts.Logger.Warn("cancel backlog member is not an execution id; dropped", "execution_id", m.wire)
			return true, w.ackCancelMember(m.part, m.flow, m.wire)
		}
		return true, w.cancelMember(m.part, m.flow, id, m.reason)
	}, func(m backlogMember) []any { return []any{"execution_id", m.wire} })
	if left := limit - rep.Processed - rep.Errors; left > 0 && ctx.Err() == nil {
		rows, err := b.in.reader.QueryContext(ctx, qEmptyBacklogs, nowMS, left)
		if err != nil {
			return rep, transport(op, err)
		}
		var empty []backlogMember
		for rows.Next() {
			var m backlogMember
			if err := rows.Scan(&m.part, &m.flow); err != nil {
				rows.Close()
				return rep, transport(op, err)
			}
			empty = append(empty, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return rep, transport(op, err)
		}
		rep.Add(sweepItems(ctx, b, op, nowMS, empty, func(w *wtx, m backlogMember) (bool, error) {
			n, err := w.affected(qDropEmptyBacklog, m.part, m.flow)
			return n == 1, err
		}, func(m backlogMember) []any { return []any{"flow_id", uuidString(m.flow)} }))
	}
	return rep, nil
}

// uuidString renders stored uuid bytes (hex when they are not 16 bytes).
func uuidString(b []byte) string {
	if u, err := uuid.FromBytes(b); err == nil {
		return u.String()
	}
	return "0x" + hex.EncodeToString(b)
}
