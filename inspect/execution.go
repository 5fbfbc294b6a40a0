package inspect

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// ExecutionDetail is `inspect execution ID`.
type ExecutionDetail struct {
	ID              string      `json:"id"`
	PartitionKey    int64       `json:"partition_key"`
	Lane            string      `json:"lane"`
	FlowID          *string     `json:"flow_id"`
	Namespace       *string     `json:"namespace"`
	ExecutionKind   *string     `json:"execution_kind"`
	CreatorIdentity *string     `json:"creator_identity"`
	IdempotencyKey  *string     `json:"idempotency_key"`
	State           StateVector `json:"state"`
	Priority        int64       `json:"priority"`
	AttemptIndex    int64       `json:"attempt_index"`
	RetryCount      int64       `json:"retry_count"`
	ReplayCount     int64       `json:"replay_count"`
	// LeaseReclaimCount is how often an expired lease was reclaimed.
	LeaseReclaimCount  int64   `json:"lease_reclaim_count"`
	CreatedAtMS        int64   `json:"created_at_ms"`
	StartedAtMS        *int64  `json:"started_at_ms"`
	TerminalAtMS       *int64  `json:"terminal_at_ms"`
	DeadlineAtMS       *int64  `json:"deadline_at_ms"`
	DelayUntilMS       *int64  `json:"delay_until_ms"`
	CancellationReason *string `json:"cancellation_reason"`
	CancelledBy        *string `json:"cancelled_by"`
	FailureClass       *string `json:"failure_class"`
	FailureReason      *string `json:"failure_reason"`
	// Capabilities are the required worker capabilities, sorted.
	Capabilities []string `json:"capabilities"`
	// Tags is raw_fields.tags ({} when none).
	Tags json.RawMessage `json:"tags"`
	// Policy is the ExecutionPolicy JSON as given (null when none).
	Policy json.RawMessage `json:"policy"`
	// PayloadSize and ResultSize are byte lengths (ResultSize null when
	// there is no result).
	PayloadSize int64  `json:"payload_size"`
	ResultSize  *int64 `json:"result_size"`
	// RawFields is the whole raw_fields object.
	RawFields json.RawMessage `json:"raw_fields"`
	// Attempts in attempt order.
	Attempts   []Attempt   `json:"attempts"`
	Suspension *Suspension `json:"suspension"`
	Waitpoints []Waitpoint `json:"waitpoints"`
	// Signals are the signals delivered to the execution's waitpoints,
	// in the order they were accepted (waits.go).
	Signals []Signal `json:"signals"`
	// Events are the execution's most recent outbox events (at most
	// RecentEvents), newest first.
	Events []Event `json:"events"`
	// Progress is the worker's last progress report (POST
	// /v1/worker/progress), absent when none was made.
	Progress *Progress `json:"progress,omitempty"`

	uid []byte // execution_id as stored
}

// StateVector is the seven state dimensions of spec §4.2.
type StateVector struct {
	LifecyclePhase   string  `json:"lifecycle_phase"`
	OwnershipState   string  `json:"ownership_state"`
	EligibilityState string  `json:"eligibility_state"`
	BlockingReason   *string `json:"blocking_reason"`
	BlockingDetail   *string `json:"blocking_detail"`
	TerminalOutcome  *string `json:"terminal_outcome"`
	AttemptState     string  `json:"attempt_state"`
	PublicState      string  `json:"public_state"`
}

// Attempt is one ff_attempt row.
type Attempt struct {
	AttemptIndex     int64   `json:"attempt_index"`
	AttemptID        *string `json:"attempt_id"`
	AttemptType      *string `json:"attempt_type"`
	LeaseID          *string `json:"lease_id"`
	LeaseEpoch       int64   `json:"lease_epoch"`
	LeaseExpiresAtMS *int64  `json:"lease_expires_at_ms"`
	// Lease is "held" (expiry in the future), "expired" (expiry passed,
	// not yet reclaimed), "revoked" (an operator revoked it; the
	// reconciler requeues it) or "none".
	Lease            string          `json:"lease"`
	WorkerID         *string         `json:"worker_id"`
	WorkerInstanceID *string         `json:"worker_instance_id"`
	StartedAtMS      *int64          `json:"started_at_ms"`
	TerminalAtMS     *int64          `json:"terminal_at_ms"`
	Outcome          *string         `json:"outcome"`
	FailureClass     *string         `json:"failure_class"`
	FailureReason    *string         `json:"failure_reason"`
	Usage            json.RawMessage `json:"usage"`
	Policy           json.RawMessage `json:"policy"`
}

// RecentEvents caps ExecutionDetail.Events.
const RecentEvents = 20

// Execution reads one execution. id is a wire id "{fp:N}:<uuid>" or a bare
// uuid (then every partition is searched). now decides whether a lease is
// held or expired.
func Execution(ctx context.Context, db *sql.DB, id string, now int64) (*ExecutionDetail, error) {
	part, uid, err := ParseExecID(id)
	if err != nil {
		return nil, err
	}
	// One read transaction: the execution, its attempts and its events
	// come from one snapshot.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	cat, err := loadCatalog(ctx, tx)
	if err != nil {
		return nil, err
	}
	if err := cat.need("ff_exec_core"); err != nil {
		return nil, err
	}
	sel := fmt.Sprintf(`SELECT partition_key, execution_id, lane_id, flow_id, lifecycle_phase, ownership_state, eligibility_state,
		public_state, attempt_state, blocking_reason, cancellation_reason, cancelled_by, priority, attempt_index,
		created_at_ms, %s, terminal_at_ms, deadline_at_ms, length(payload), length(result), policy, raw_fields, %s
		FROM ff_exec_core`, cat.col("ff_exec_core", "started_at_ms"), cat.col("ff_exec_core", "lease_reclaim_count"))
	var row *sql.Row
	if part >= 0 {
		row = tx.QueryRowContext(ctx, sel+" WHERE partition_key = ? AND execution_id = ?", part, uid)
	}
	d, err := scanExecution(row)
	if row == nil || errors.Is(err, sql.ErrNoRows) {
		// Unknown partition (bare uuid), or a wire id with another
		// partition: the uuid alone identifies the execution.
		row = tx.QueryRowContext(ctx, sel+" WHERE partition_key IN "+partitionsOf("ff_exec_core", "")+" AND execution_id = ?", uid)
		d, err = scanExecution(row)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &NotFoundError{What: "execution", ID: id}
	}
	if err != nil {
		return nil, fmt.Errorf("read execution: %w", err)
	}
	uid = d.uid // the stored bytes, for the child lookups
	if d.Capabilities, err = capabilities(ctx, tx, cat, uid); err != nil {
		return nil, err
	}
	if d.Attempts, err = attempts(ctx, tx, cat, d.PartitionKey, uid, now); err != nil {
		return nil, err
	}
	for i := range d.Attempts {
		a := &d.Attempts[i]
		if d.State.OwnershipState == "lease_revoked" && a.AttemptIndex == d.AttemptIndex && a.LeaseExpiresAtMS != nil {
			a.Lease = "revoked"
		}
	}
	if d.Suspension, err = readSuspension(ctx, tx, cat, d.PartitionKey, uid); err != nil {
		return nil, err
	}
	if d.Waitpoints, d.Signals, err = waitpoints(ctx, tx, cat, d.PartitionKey, uid); err != nil {
		return nil, err
	}
	if d.Events, err = executionEvents(ctx, tx, cat, d.PartitionKey, uid, d.ID); err != nil {
		return nil, err
	}
	return d, nil
}

func scanExecution(row *sql.Row) (*ExecutionDetail, error) {
	if row == nil {
		return nil, sql.ErrNoRows
	}
	d := &ExecutionDetail{Capabilities: []string{}, Attempts: []Attempt{}, Waitpoints: []Waitpoint{}, Signals: []Signal{}, Events: []Event{}}
	var id, flow []byte
	var blocking, cancelReason, cancelledBy, policy sql.NullString
	var started, terminal, deadline, resultSize, reclaim sql.NullInt64
	var payloadSize sql.NullInt64
	var raw string
	err := row.Scan(&d.PartitionKey, &id, &d.Lane, &flow, &d.State.LifecyclePhase, &d.State.OwnershipState,
		&d.State.EligibilityState, &d.State.PublicState, &d.State.AttemptState, &blocking, &cancelReason, &cancelledBy,
		&d.Priority, &d.AttemptIndex, &d.CreatedAtMS, &started, &terminal, &deadline, &payloadSize, &resultSize,
		&policy, &raw, &reclaim)
	if err != nil {
		return nil, err
	}
	d.ID, d.uid = ExecID(d.PartitionKey, id), id
	if flow != nil {
		s := UUIDString(flow)
		d.FlowID = &s
	}
	d.State.BlockingReason = nullStr(blocking)
	d.CancellationReason, d.CancelledBy = nullStr(cancelReason), nullStr(cancelledBy)
	d.StartedAtMS, d.TerminalAtMS, d.DeadlineAtMS = nullInt(started), nullInt(terminal), nullInt(deadline)
	d.PayloadSize = payloadSize.Int64
	d.ResultSize = nullInt(resultSize)
	d.LeaseReclaimCount = reclaim.Int64
	d.Policy = rawJSON(policy)
	d.RawFields = rawJSON(sql.NullString{String: raw, Valid: true})
	f := fields(raw)
	d.Namespace, d.ExecutionKind = fieldStr(f, "namespace"), fieldStr(f, "execution_kind")
	d.CreatorIdentity, d.IdempotencyKey = fieldStr(f, "creator_identity"), fieldStr(f, "idempotency_key")
	d.State.TerminalOutcome, d.State.BlockingDetail = fieldStr(f, "terminal_outcome"), fieldStr(f, "blocking_detail")
	d.RetryCount, d.ReplayCount = deref(fieldInt(f, "retry_count")), deref(fieldInt(f, "replay_count"))
	d.DelayUntilMS = fieldInt(f, "delay_until")
	d.FailureClass, d.FailureReason = fieldStr(f, "failure_class"), fieldStr(f, "failure_reason")
	if pct := fieldInt(f, "progress_pct"); pct != nil {
		d.Progress = &Progress{Pct: *pct, Message: deref(fieldStr(f, "progress_message")), UpdatedAtMS: deref(fieldInt(f, "progress_updated_at"))}
	}
	d.Tags = json.RawMessage("{}")
	if t, ok := f["tags"]; ok && t != nil {
		if b, err := json.Marshal(t); err == nil {
			d.Tags = b
		}
	}
	return d, nil
}

func capabilities(ctx context.Context, db queryer, cat *catalog, uid []byte) ([]string, error) {
	out := []string{}
	if !cat.has("ff_execution_capabilities") {
		return out, nil
	}
	rows, err := db.QueryContext(ctx, "SELECT capability FROM ff_execution_capabilities WHERE execution_id = ? ORDER BY capability", uid)
	if err != nil {
		return nil, fmt.Errorf("read capabilities: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func attempts(ctx context.Context, db queryer, cat *catalog, part int64, uid []byte, now int64) ([]Attempt, error) {
	out := []Attempt{}
	if !cat.has("ff_attempt") {
		return out, nil
	}
	rows, err := db.QueryContext(ctx, `SELECT attempt_index, worker_id, worker_instance_id, lease_epoch, lease_expires_at_ms,
		started_at_ms, terminal_at_ms, outcome, usage, policy, raw_fields
		FROM ff_attempt WHERE partition_key = ? AND execution_id = ? ORDER BY attempt_index`, part, uid)
	if err != nil {
		return nil, fmt.Errorf("read attempts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a Attempt
		var worker, inst, outcome, usage, policy sql.NullString
		var exp, started, term sql.NullInt64
		var raw string
		if err := rows.Scan(&a.AttemptIndex, &worker, &inst, &a.LeaseEpoch, &exp, &started, &term, &outcome, &usage, &policy, &raw); err != nil {
			return nil, err
		}
		a.WorkerID, a.WorkerInstanceID, a.Outcome = nullStr(worker), nullStr(inst), nullStr(outcome)
		a.LeaseExpiresAtMS, a.StartedAtMS, a.TerminalAtMS = nullInt(exp), nullInt(started), nullInt(term)
		a.Usage, a.Policy = rawJSON(usage), rawJSON(policy)
		a.Lease = leaseState(a.LeaseExpiresAtMS, now)
		f := fields(raw)
		a.AttemptID, a.AttemptType, a.LeaseID = fieldStr(f, "attempt_id"), fieldStr(f, "attempt_type"), fieldStr(f, "lease_id")
		a.FailureClass, a.FailureReason = fieldStr(f, "failure_class"), fieldStr(f, "failure_reason")
		out = append(out, a)
	}
	return out, rows.Err()
}

func leaseState(exp *int64, now int64) string {
	switch {
	case exp == nil:
		return "none"
	case *exp <= now:
		return "expired"
	}
	return "held"
}

// executionEvents merges the execution's newest events from every outbox.
// The completion outbox is keyed by (partition_key, execution_id BLOB) and
// indexed; the others store the wire id as TEXT.
func executionEvents(ctx context.Context, db queryer, cat *catalog, part int64, uid []byte, wire string) ([]Event, error) {
	var all []Event
	for _, ob := range Outboxes {
		if !cat.has(ob.Table) {
			continue
		}
		var cond string
		var args []any
		if ob.Name == "completion" {
			cond, args = "partition_key = ? AND execution_id = ?", []any{part, uid}
		} else {
			cond, args = "execution_id = ?", []any{wire}
		}
		evs, err := readEvents(ctx, db, cat, ob.Name, cond+fmt.Sprintf(" ORDER BY event_id DESC LIMIT %d", RecentEvents), args)
		if err != nil {
			return nil, err
		}
		all = append(all, evs...)
	}
	slices.SortStableFunc(all, func(a, b Event) int { return -compareEvents(a, b) })
	if len(all) > RecentEvents {
		all = all[:RecentEvents]
	}
	if all == nil {
		all = []Event{}
	}
	return all, nil
}

// Progress is a worker's last progress report.
type Progress struct {
	Pct         int64  `json:"pct"`
	Message     string `json:"message"`
	UpdatedAtMS int64  `json:"updated_at_ms"`
}
