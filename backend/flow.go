package backend

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/google/uuid"
)

// Flows: a flow groups executions into a DAG (spec §4.9,
// engine-canonical.md §2.1). This file holds the flow header (create,
// add member) and the lookups every flow operation shares; edges are in
// flow_edge.go, resolution in flow_resolve.go, cancel in flow_cancel.go.

// Public flow states. public_flow_state only ever moves open → cancelled
// (canonical: nothing writes completed or failed to it).
const (
	FlowStateOpen      = "open"
	FlowStateCancelled = "cancelled"
)

// flowTerminalState reports whether a public_flow_state refuses
// mutations (upstream's terminal set).
func flowTerminalState(s string) bool {
	return s == FlowStateCancelled || s == "completed" || s == "failed"
}

// CreateFlowArgs is the body of POST /v1/flows (route 17). Now is
// accepted for wire compatibility; the engine clock is authoritative.
type CreateFlowArgs struct {
	FlowID    uuid.UUID `json:"flow_id"`
	FlowKind  string    `json:"flow_kind"`
	Namespace string    `json:"namespace"`
	Now       int64     `json:"now"`
}

// RequiredFields lists route 17's required fields.
func (CreateFlowArgs) RequiredFields() []string {
	return []string{"flow_id", "flow_kind", "namespace", "now"}
}

// CreateFlowResult is Created{flow_id} or, when the flow already
// existed, AlreadySatisfied{flow_id}.
type CreateFlowResult struct {
	Created bool
	FlowID  uuid.UUID
}

// MarshalJSON renders the externally tagged wire shape.
func (r CreateFlowResult) MarshalJSON() ([]byte, error) {
	tag := "AlreadySatisfied"
	if r.Created {
		tag = "Created"
	}
	return json.Marshal(map[string]map[string]uuid.UUID{tag: {"flow_id": r.FlowID}})
}

// flowRaw is ff_flow_core.raw_fields (docs/storage.md): upstream's keys
// plus the cancel fields.
type flowRaw struct {
	FlowKind           string  `json:"flow_kind"`
	Namespace          string  `json:"namespace"`
	NodeCount          int64   `json:"node_count"`
	EdgeCount          int64   `json:"edge_count"`
	LastMutationAtMS   int64   `json:"last_mutation_at_ms"`
	CancelledAtMS      *int64  `json:"cancelled_at_ms,omitempty"`
	CancelReason       *string `json:"cancel_reason,omitempty"`
	CancellationPolicy *string `json:"cancellation_policy,omitempty"`
}

// flowRow is a flow header as the engine reads it.
type flowRow struct {
	part     int64
	id       uuid.UUID
	state    string
	revision int64
	created  int64
	terminal sql.NullInt64
	raw      flowRaw
}

// flowKey is the stored flow id (16 raw bytes).
func flowKey(id uuid.UUID) []byte {
	b := make([]byte, 16)
	copy(b, id[:])
	return b
}

var (
	// flowPartsCTE enumerates the partitions holding flows, as fp(p).
	flowPartsCTE = partitionCTE("fp", "ff_flow_core", "")

	// A flow is found by id on whichever partition holds it: one primary
	// key probe per partition present.
	qFlowByID = `WITH RECURSIVE ` + flowPartsCTE + `
SELECT f.partition_key, f.public_flow_state, f.graph_revision, f.created_at_ms, f.terminal_at_ms, f.raw_fields
FROM fp CROSS JOIN ff_flow_core f ON f.partition_key = fp.p AND f.flow_id = ?1
LIMIT 1`

	qFlowPartitions = `SELECT COALESCE((SELECT num_flow_partitions FROM ff_partition_config LIMIT 1), 1)`

	qInsertFlow = `INSERT INTO ff_flow_core (partition_key, flow_id, graph_revision, public_flow_state, created_at_ms, raw_fields)
VALUES (?1, ?2, 0, 'open', ?3, ?4)`

	// qMemberOf reads an execution's flow_id (NULL: no flow).
	qMemberOf = `SELECT flow_id FROM ff_exec_core WHERE partition_key = ?1 AND execution_id = ?2`

	qSetMember = `UPDATE ff_exec_core SET flow_id = ?3 WHERE partition_key = ?1 AND execution_id = ?2`

	// qBumpMembers: a new member bumps node_count and graph_revision
	// (engine-canonical.md C1).
	qBumpMembers = `UPDATE ff_flow_core SET graph_revision = graph_revision + 1,
  raw_fields = json_set(raw_fields, '$.node_count', COALESCE(json_extract(raw_fields, '$.node_count'), 0) + 1,
    '$.last_mutation_at_ms', ?3)
WHERE partition_key = ?1 AND flow_id = ?2
RETURNING json_extract(raw_fields, '$.node_count')`
)

// loadFlow reads a flow header by id (any partition); a missing flow is
// the KindNotFound error "not found: flow".
func loadFlow(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, op string, id uuid.UUID) (*flowRow, error) {
	f := &flowRow{id: id}
	var raw string
	err := q.QueryRowContext(ctx, qFlowByID, flowKey(id)).Scan(&f.part, &f.state, &f.revision, &f.created, &f.terminal, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(op, "flow")
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(raw), &f.raw); err != nil {
		return nil, &Error{Kind: KindTransport, Op: op, Code: "corruption",
			Msg: "ff_flow_core.raw_fields of flow " + id.String() + " is not a JSON object", Err: err}
	}
	return f, nil
}

// flow reads a flow header in the transaction.
func (w *wtx) flow(op string, id uuid.UUID) (*flowRow, error) {
	return loadFlow(w.ctx, w.Txn, op, id)
}

// flowPartition is the partition a new flow is stored on: canonical's
// crc16-XMODEM of the flow id's 16 bytes modulo num_flow_partitions
// (ff_partition_config; SQLite seeds 1, so 0). The partition is a label:
// every lookup enumerates the partitions present.
func (w *wtx) flowPartition(id uuid.UUID) (int64, error) {
	var n int64
	if err := w.queryRow(qFlowPartitions).Scan(&n); err != nil {
		return 0, err
	}
	if n <= 0 || n > 1<<16 {
		n = 1
	}
	return int64(crc16XMODEM(id[:])) % n, nil
}

// crc16XMODEM is CRC-16/XMODEM (polynomial 0x1021, initial 0), the
// checksum canonical partitions flows with.
func crc16XMODEM(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// CreateFlow creates an open flow (route 17): graph_revision 0, no
// members or edges. A flow id that exists already (on any partition)
// answers AlreadySatisfied and changes nothing.
func (b *Backend) CreateFlow(ctx context.Context, args CreateFlowArgs) (CreateFlowResult, error) {
	const op = "create_flow"
	if err := validateCreateFlow(op, args); err != nil {
		return CreateFlowResult{}, err
	}
	var out CreateFlowResult
	err := b.write(ctx, op, func(w *wtx) error {
		var err error
		out, err = w.createFlow(op, args)
		return err
	})
	return out, err
}

// validateCreateFlow checks what route 17 checks before the database.
func validateCreateFlow(op string, args CreateFlowArgs) error {
	if args.FlowID == uuid.Nil {
		return validation(op, "invalid_input", "flow_id: required")
	}
	return nil
}

// createFlow runs a validated create inside w.
func (w *wtx) createFlow(op string, args CreateFlowArgs) (CreateFlowResult, error) {
	out := CreateFlowResult{FlowID: args.FlowID}
	switch _, err := w.flow(op, args.FlowID); {
	case err == nil:
		return out, nil
	case KindOf(err) != KindNotFound:
		return out, err
	}
	part, err := w.flowPartition(args.FlowID)
	if err != nil {
		return out, err
	}
	raw := jsonString(flowRaw{FlowKind: args.FlowKind, Namespace: args.Namespace, LastMutationAtMS: w.now})
	if _, err := w.exec(qInsertFlow, part, flowKey(args.FlowID), w.now, raw); err != nil {
		return out, err
	}
	out.Created = true
	return out, nil
}

// AddExecutionToFlowArgs is the body of POST /v1/flows/{id}/members
// (route 18).
type AddExecutionToFlowArgs struct {
	FlowID      uuid.UUID   `json:"flow_id"`
	ExecutionID ExecutionID `json:"execution_id"`
	Now         int64       `json:"now"`
}

// RequiredFields lists route 18's required fields.
func (AddExecutionToFlowArgs) RequiredFields() []string {
	return []string{"flow_id", "execution_id", "now"}
}

// AddExecutionToFlowResult is Added{execution_id, new_node_count} or
// AlreadyMember{execution_id, node_count}.
type AddExecutionToFlowResult struct {
	AlreadyMember bool
	ExecutionID   ExecutionID
	NodeCount     uint32
}

// MarshalJSON renders the externally tagged wire shape.
func (r AddExecutionToFlowResult) MarshalJSON() ([]byte, error) {
	if r.AlreadyMember {
		return json.Marshal(map[string]any{"AlreadyMember": struct {
			ExecutionID ExecutionID `json:"execution_id"`
			NodeCount   uint32      `json:"node_count"`
		}{r.ExecutionID, r.NodeCount}})
	}
	return json.Marshal(map[string]any{"Added": struct {
		ExecutionID  ExecutionID `json:"execution_id"`
		NewNodeCount uint32      `json:"new_node_count"`
	}{r.ExecutionID, r.NodeCount}})
}

// flowTerminalErr is route 18–20's refusal of a cancelled flow.
func flowTerminalErr(op string) error {
	return &Error{Kind: KindState, Op: op, Code: "flow_already_terminal", Msg: "FlowAlreadyTerminal"}
}

// AddExecutionToFlow makes an execution a member of a flow (route 18),
// checked in canonical order: the flow exists (404 not found: flow) and
// is open (flow_already_terminal), the execution exists (404 not found:
// execution), it is already a member (AlreadyMember, nothing bumped), it
// is a member of another flow (invalid_input:
// already_member_of_different_flow:<uuid>). A new member gets flow_id
// stamped and bumps node_count and graph_revision by one. Its state does
// not change: a member without applied edges stays claimable.
func (b *Backend) AddExecutionToFlow(ctx context.Context, args AddExecutionToFlowArgs) (AddExecutionToFlowResult, error) {
	const op = "add_execution_to_flow"
	if args.ExecutionID.IsZero() {
		return AddExecutionToFlowResult{}, validation(op, "invalid_input", "execution_id: required")
	}
	var out AddExecutionToFlowResult
	err := b.write(ctx, op, func(w *wtx) error {
		var err error
		out, err = w.addMember(op, args)
		return err
	})
	return out, err
}

// addMember runs route 18 inside w.
func (w *wtx) addMember(op string, args AddExecutionToFlowArgs) (AddExecutionToFlowResult, error) {
	out := AddExecutionToFlowResult{ExecutionID: args.ExecutionID}
	f, err := w.flow(op, args.FlowID)
	if err != nil {
		return out, err
	}
	if flowTerminalState(f.state) {
		return out, flowTerminalErr(op)
	}
	part, key := args.ExecutionID.key()
	var cur []byte
	switch err := w.queryRow(qMemberOf, part, key).Scan(&cur); {
	case errors.Is(err, sql.ErrNoRows):
		return out, notFound(op, "execution")
	case err != nil:
		return out, err
	}
	if cur != nil {
		if u, err := uuid.FromBytes(cur); err == nil && u == args.FlowID {
			out.AlreadyMember, out.NodeCount = true, uint32(max(f.raw.NodeCount, 0))
			return out, nil
		}
		other := "<corrupt>"
		if u, err := uuid.FromBytes(cur); err == nil {
			other = u.String()
		}
		return out, validation(op, "invalid_input", "already_member_of_different_flow:%s", other)
	}
	if _, err := w.exec(qSetMember, part, key, flowKey(args.FlowID)); err != nil {
		return out, err
	}
	var n int64
	if err := w.queryRow(qBumpMembers, f.part, flowKey(args.FlowID), w.now).Scan(&n); err != nil {
		return out, err
	}
	out.NodeCount = uint32(max(n, 0))
	return out, nil
}
