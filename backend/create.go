package backend

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
)

// MinPriority and MaxPriority bound an execution's priority; values
// outside are clamped.
const (
	MinPriority = 0
	MaxPriority = 9000
)

// CreateExecutionArgs is the body of POST /v1/executions (spec route 2).
// Now is accepted for wire compatibility; the engine clock is
// authoritative. PartitionID is informational: the partition comes from
// the execution id.
type CreateExecutionArgs struct {
	ExecutionID         ExecutionID       `json:"execution_id"`
	Namespace           string            `json:"namespace"`
	LaneID              string            `json:"lane_id"`
	ExecutionKind       string            `json:"execution_kind"`
	InputPayload        Bytes             `json:"input_payload"`
	PayloadEncoding     *string           `json:"payload_encoding,omitempty"`
	Priority            int32             `json:"priority"`
	CreatorIdentity     string            `json:"creator_identity"`
	IdempotencyKey      *string           `json:"idempotency_key,omitempty"`
	Tags                map[string]string `json:"tags,omitempty"`
	Policy              json.RawMessage   `json:"policy,omitempty"`
	DelayUntil          *int64            `json:"delay_until,omitempty"`
	ExecutionDeadlineAt *int64            `json:"execution_deadline_at,omitempty"`
	PartitionID         uint16            `json:"partition_id"`
	Now                 int64             `json:"now"`
}

// CreateExecutionResult is Created{execution_id, public_state} or, when
// the id or the idempotency key was already used, Duplicate{execution_id}
// naming the original execution.
type CreateExecutionResult struct {
	Duplicate   bool
	ExecutionID ExecutionID
	// PublicState is "waiting" or "delayed" (empty for a duplicate).
	PublicState string
}

// MarshalJSON renders the externally tagged wire shape.
func (r CreateExecutionResult) MarshalJSON() ([]byte, error) {
	if r.Duplicate {
		return json.Marshal(map[string]any{"Duplicate": map[string]any{"execution_id": r.ExecutionID}})
	}
	return json.Marshal(map[string]any{"Created": struct {
		ExecutionID ExecutionID `json:"execution_id"`
		PublicState string      `json:"public_state"`
	}{r.ExecutionID, r.PublicState}})
}

// execRaw is ff_exec_core.raw_fields as create writes it.
type execRaw struct {
	Namespace       string            `json:"namespace"`
	ExecutionKind   string            `json:"execution_kind"`
	CreatorIdentity string            `json:"creator_identity"`
	PayloadEncoding *string           `json:"payload_encoding,omitempty"`
	IdempotencyKey  *string           `json:"idempotency_key,omitempty"`
	Tags            map[string]string `json:"tags"`
	TerminalOutcome string            `json:"terminal_outcome"`
	RetryCount      int64             `json:"retry_count"`
	ReplayCount     int64             `json:"replay_count"`
	DelayUntil      *int64            `json:"delay_until,omitempty"`
	BlockingDetail  string            `json:"blocking_detail,omitempty"`
}

var (
	qFindByUUID = hotStmt(`WITH RECURSIVE ` + partsCTE + `
SELECT e.partition_key FROM parts CROSS JOIN ff_exec_core e
  ON e.partition_key = parts.p AND e.execution_id = ?1
LIMIT 1`)

	// No index serves the idempotency key: this is a scan, only run when a
	// key is given.
	qFindByIdempotencyKey = `SELECT partition_key, execution_id FROM ff_exec_core
WHERE json_extract(raw_fields, '$.idempotency_key') = ?1
  AND json_extract(raw_fields, '$.namespace') = ?2
  AND created_at_ms + COALESCE(CASE WHEN json_valid(policy, 6) THEN json_extract(policy, '$.dedup_window_ms') END, ?4) > ?3
ORDER BY created_at_ms DESC LIMIT 1`

	// The insert happens only when the uuid is new on every partition.
	qInsertExec = hotStmt(`WITH RECURSIVE ` + partsCTE + `
INSERT INTO ff_exec_core
  (partition_key, execution_id, lane_id, attempt_index, lifecycle_phase, ownership_state,
   eligibility_state, public_state, attempt_state, blocking_reason, priority, created_at_ms,
   deadline_at_ms, payload, policy, raw_fields)
SELECT ?1, ?2, ?3, 0, 'runnable', 'unowned', ?4, ?5, 'pending_first_attempt', ?6, ?7, ?8, ?9, ?10, ?11, ?12
WHERE NOT EXISTS (SELECT 1 FROM parts CROSS JOIN ff_exec_core e
                  ON e.partition_key = parts.p AND e.execution_id = ?2)`)

	qRegisterLane = hotStmt(`INSERT OR IGNORE INTO ff_lane_registry (lane_id, registered_at_ms, registered_by)
VALUES (?1, ?2, ?3)`)

	qInsertCapability = `INSERT OR IGNORE INTO ff_execution_capabilities (execution_id, capability) VALUES (?1, ?2)`
)

// CreateExecution submits an execution (spec route 2, canonical §4.3): it
// lands waiting (runnable / eligible_now / waiting_for_worker /
// pending_first_attempt) or, with a future delay_until, delayed
// (not_eligible_until_time / waiting_for_delay). An id that already exists
// (on any partition) or an idempotency key reused in the same namespace
// within the original's dedup window (default 24 h) returns Duplicate with
// the original id and changes nothing.
func (b *Backend) CreateExecution(ctx context.Context, args CreateExecutionArgs) (CreateExecutionResult, error) {
	const op = "create_execution"
	p, err := prepareCreateExecution(op, args)
	if err != nil {
		return CreateExecutionResult{}, err
	}
	var res CreateExecutionResult
	err = b.write(ctx, op, func(w *wtx) error {
		var err error
		res, err = w.createExecution(p)
		return err
	})
	if err != nil {
		return CreateExecutionResult{}, err
	}
	return res, nil
}

// createPlan is a validated create request, ready to run in a write
// transaction (CreateExecution runs one per transaction, Seed many).
type createPlan struct {
	args      CreateExecutionArgs
	policy    *ExecutionPolicy
	policyCol any
	prio      int64
	tags      map[string]string
	part      int64
	key       []byte
	caps      []string
}

// prepareCreateExecution validates args: everything route 2 checks
// before it touches the database.
func prepareCreateExecution(op string, args CreateExecutionArgs) (*createPlan, error) {
	if args.ExecutionID.IsZero() {
		return nil, validation(op, "invalid_input", "execution_id: required")
	}
	if err := validateLane(args.LaneID); err != nil {
		return nil, engineOp(err, op)
	}
	policy, err := ParsePolicy(args.Policy)
	if err != nil {
		return nil, engineOp(err, op)
	}
	p := &createPlan{args: args, policy: policy, prio: clampPriority(int64(args.Priority)), tags: args.Tags}
	if policy != nil {
		p.policyCol = string(bytes.TrimSpace(args.Policy))
	}
	if p.tags == nil {
		p.tags = map[string]string{}
	}
	part, key := args.ExecutionID.key()
	p.part, p.key = part, key
	p.caps = policy.requiredCapabilities()
	if err := validateQuotaAttachment(op, policy); err != nil {
		return nil, err
	}
	return p, nil
}

// createExecution runs a prepared create inside the transaction w.
func (w *wtx) createExecution(p *createPlan) (CreateExecutionResult, error) {
	args, policy, part, key := p.args, p.policy, p.part, p.key
	var res CreateExecutionResult
	now := w.now
	// dupOf looks the uuid up on every partition.
	dupOf := func() (bool, error) {
		var orig int64
		switch err := w.queryRow(qFindByUUID, key).Scan(&orig); {
		case err == nil:
			res = CreateExecutionResult{Duplicate: true, ExecutionID: ExecutionID{Partition: uint16(orig), UUID: args.ExecutionID.UUID}}
			return true, nil
		case errors.Is(err, sql.ErrNoRows):
			return false, nil
		default:
			return false, err
		}
	}
	if args.IdempotencyKey != nil {
		if dup, err := dupOf(); dup || err != nil {
			return res, err
		}
		var origPart int64
		var origKey []byte
		err := w.queryRow(qFindByIdempotencyKey, *args.IdempotencyKey, args.Namespace, now, int64(DefaultDedupWindowMS)).Scan(&origPart, &origKey)
		switch {
		case err == nil:
			id, err := execIDFromRow(origPart, origKey)
			if err != nil {
				return res, err
			}
			return CreateExecutionResult{Duplicate: true, ExecutionID: id}, nil
		case !errors.Is(err, sql.ErrNoRows):
			return res, err
		}
	}

	raw := execRaw{
		Namespace: args.Namespace, ExecutionKind: args.ExecutionKind,
		CreatorIdentity: args.CreatorIdentity, PayloadEncoding: args.PayloadEncoding,
		IdempotencyKey: args.IdempotencyKey, Tags: p.tags, TerminalOutcome: "none",
	}
	delay := args.DelayUntil
	if delay == nil && policy != nil {
		delay = policy.DelayUntil
	}
	elig, blocking, public := "eligible_now", "waiting_for_worker", StateWaiting
	if delay != nil && *delay > now {
		elig, blocking, public = "not_eligible_until_time", "waiting_for_delay", StateDelayed
		raw.DelayUntil = delay
		raw.BlockingDetail = "delayed until " + strconv.FormatInt(*delay, 10)
	}
	var deadline any
	if args.ExecutionDeadlineAt != nil {
		deadline = *args.ExecutionDeadlineAt
	} else if policy != nil && policy.TimeoutPolicy != nil && policy.TimeoutPolicy.ExecutionDeadlineMS != nil {
		deadline = now + clampI64(*policy.TimeoutPolicy.ExecutionDeadlineMS)
	}
	rawJSON, err := json.Marshal(raw)
	if err != nil {
		return res, err
	}
	payload := []byte(args.InputPayload)
	if payload == nil {
		payload = []byte{}
	}
	if err := w.checkQuotaAttachment("create_execution", policy); err != nil {
		return res, err
	}
	n, err := w.affected(qInsertExec, part, key, args.LaneID, elig, public, blocking, p.prio, now,
		deadline, payload, p.policyCol, string(rawJSON))
	if err != nil {
		return res, err
	}
	if n == 0 {
		dup, err := dupOf()
		if err == nil && !dup {
			err = errors.New("execution insert changed no row")
		}
		return res, err
	}
	if _, err := w.exec(qRegisterLane, args.LaneID, now, "create_execution"); err != nil {
		return res, err
	}
	for _, c := range p.caps {
		if _, err := w.exec(qInsertCapability, key, c); err != nil {
			return res, err
		}
	}
	return CreateExecutionResult{ExecutionID: args.ExecutionID, PublicState: public}, nil
}

func clampPriority(p int64) int64 {
	return min(max(p, MinPriority), MaxPriority)
}

// engineOp fills in the operation name of an engine error that has none.
func engineOp(err error, op string) error {
	var e *Error
	if errors.As(err, &e) && e.Op == "" {
		c := *e
		c.Op = op
		return &c
	}
	return err
}
