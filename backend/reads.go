package backend

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"strconv"

	"github.com/google/uuid"
)

// ExecutionInfo is GET /v1/executions/{id} (spec route 3). Timestamps are
// Unix ms as strings; started_at / completed_at are omitted when absent.
type ExecutionInfo struct {
	ExecutionID         ExecutionID `json:"execution_id"`
	Namespace           string      `json:"namespace"`
	LaneID              string      `json:"lane_id"`
	Priority            int32       `json:"priority"`
	ExecutionKind       string      `json:"execution_kind"`
	StateVector         StateVector `json:"state_vector"`
	PublicState         string      `json:"public_state"`
	CreatedAt           string      `json:"created_at"`
	StartedAt           string      `json:"started_at,omitempty"`
	CompletedAt         string      `json:"completed_at,omitempty"`
	CurrentAttemptIndex uint32      `json:"current_attempt_index"`
	FlowID              *string     `json:"flow_id"`
	BlockingDetail      string      `json:"blocking_detail"`
}

var qInfo = `SELECT COALESCE(json_extract(raw_fields, '$.namespace'), ''), lane_id, priority,
  COALESCE(json_extract(raw_fields, '$.execution_kind'), ''),
  lifecycle_phase, ownership_state, eligibility_state, COALESCE(blocking_reason, 'none'),
  COALESCE(json_extract(raw_fields, '$.terminal_outcome'), 'none'), attempt_state, public_state,
  created_at_ms, started_at_ms, terminal_at_ms, attempt_index, flow_id,
  COALESCE(json_extract(raw_fields, '$.blocking_detail'), '')
FROM ff_exec_core WHERE partition_key = ?1 AND execution_id = ?2`

// GetExecutionInfo returns the execution's info; a missing execution is a
// KindNotFound error "execution not found: <eid>".
func (b *Backend) GetExecutionInfo(ctx context.Context, id ExecutionID) (*ExecutionInfo, error) {
	part, key := id.key()
	info := &ExecutionInfo{ExecutionID: id}
	var (
		created        int64
		started, ended sql.NullInt64
		idx            int64
		flow           []byte
		prio           int64
	)
	sv := &info.StateVector
	err := b.in.reader.QueryRowContext(ctx, qInfo, part, key).Scan(&info.Namespace, &info.LaneID, &prio,
		&info.ExecutionKind, &sv.LifecyclePhase, &sv.OwnershipState, &sv.EligibilityState, &sv.BlockingReason,
		&sv.TerminalOutcome, &sv.AttemptState, &sv.PublicState, &created, &started, &ended, &idx, &flow,
		&info.BlockingDetail)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, execNotFound("", id)
	}
	if err != nil {
		return nil, transport("get_execution_info", err)
	}
	info.Priority = int32(prio)
	info.PublicState = sv.PublicState
	info.CreatedAt = strconv.FormatInt(created, 10)
	if started.Valid {
		info.StartedAt = strconv.FormatInt(started.Int64, 10)
	}
	if ended.Valid {
		info.CompletedAt = strconv.FormatInt(ended.Int64, 10)
	}
	info.CurrentAttemptIndex = uint32(idx)
	if u, err := uuid.FromBytes(flow); err == nil {
		s := u.String()
		info.FlowID = &s
	}
	return info, nil
}

// GetPublicState returns the execution's public state (route 4).
func (b *Backend) GetPublicState(ctx context.Context, id ExecutionID) (string, error) {
	part, key := id.key()
	var s string
	err := b.in.reader.QueryRowContext(ctx,
		`SELECT public_state FROM ff_exec_core WHERE partition_key = ?1 AND execution_id = ?2`, part, key).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return "", execNotFound("", id)
	}
	if err != nil {
		return "", transport("get_public_state", err)
	}
	return s, nil
}

// GetResult returns the stored result bytes (route 7). No execution, no
// result yet, or an empty result is a KindNotFound error
// "execution result not found: <eid>".
func (b *Backend) GetResult(ctx context.Context, id ExecutionID) ([]byte, error) {
	part, key := id.key()
	var res []byte
	err := b.in.reader.QueryRowContext(ctx,
		`SELECT result FROM ff_exec_core WHERE partition_key = ?1 AND execution_id = ?2`, part, key).Scan(&res)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, transport("get_result", err)
	}
	if res == nil {
		return nil, &Error{Kind: KindNotFound, Code: "execution_result", Msg: "execution result not found: " + id.String()}
	}
	return res, nil
}

// ListExecutionsFilter narrows ListExecutions. Zero fields do not filter.
type ListExecutionsFilter struct {
	Partition *uint16
	Lane      string
	// State is a public state.
	State string
}

// ExecutionPage is one page of execution ids (route 1).
type ExecutionPage struct {
	Executions []ExecutionID `json:"executions"`
	NextCursor *ExecutionID  `json:"next_cursor"`
}

// Listing limits.
const (
	DefaultListLimit = 50
	MaxListLimit     = 1000
)

// ListExecutions pages through execution ids in ascending order of their
// wire strings, after cursor (exclusive; "" = from the start). limit <= 0
// means 50; it is clamped to 1000. NextCursor is the last id when another
// page exists. A bad cursor is a KindValidation error "invalid cursor: …".
func (b *Backend) ListExecutions(ctx context.Context, cursor string, limit int, f ListExecutionsFilter) (ExecutionPage, error) {
	const op = "list_executions"
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	var after *ExecutionID
	if cursor != "" {
		c, err := ParseExecutionID(cursor)
		if err != nil {
			return ExecutionPage{}, validation(op, "invalid_input", "invalid cursor: %s", engErrMsg(err))
		}
		after = &c
	}
	if f.State != "" && !isPublicState(f.State) {
		return ExecutionPage{}, validation(op, "invalid_input", "invalid state filter: %q", f.State)
	}
	// Wire strings order by their "{fp:N}:" prefix string first (a prefix
	// is never a prefix of another), then by uuid, i.e. by the 16 key bytes.
	var parts []uint16
	if f.Partition != nil {
		parts = []uint16{*f.Partition}
	} else {
		var err error
		if parts, err = b.partitions(ctx); err != nil {
			return ExecutionPage{}, transport(op, err)
		}
	}
	prefix := func(p uint16) string { return "{fp:" + strconv.Itoa(int(p)) + "}:" }
	sort.Slice(parts, func(i, j int) bool { return prefix(parts[i]) < prefix(parts[j]) })

	page := ExecutionPage{Executions: []ExecutionID{}}
	want := limit + 1
	var got []ExecutionID
	for _, p := range parts {
		from := []byte{}
		if after != nil {
			switch c := prefix(after.Partition); {
			case prefix(p) < c:
				continue
			case prefix(p) == c:
				_, from = after.key()
			}
		}
		ids, err := b.listPartition(ctx, p, from, f, want-len(got))
		if err != nil {
			return ExecutionPage{}, transport(op, err)
		}
		got = append(got, ids...)
		if len(got) >= want {
			break
		}
	}
	if len(got) > limit {
		got = got[:limit]
		last := got[limit-1]
		page.NextCursor = &last
	}
	page.Executions = append(page.Executions, got...)
	return page, nil
}

func (b *Backend) listPartition(ctx context.Context, p uint16, after []byte, f ListExecutionsFilter, n int) ([]ExecutionID, error) {
	rows, err := b.in.reader.QueryContext(ctx, `SELECT execution_id FROM ff_exec_core
WHERE partition_key = ?1 AND execution_id > ?2
  AND (?3 = '' OR lane_id = ?3) AND (?4 = '' OR public_state = ?4)
ORDER BY execution_id LIMIT ?5`, int64(p), after, f.Lane, f.State, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ExecutionID
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		id, err := execIDFromRow(int64(p), raw)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// partitions lists the distinct partition keys in ff_exec_core, one index
// seek each.
func (b *Backend) partitions(ctx context.Context) ([]uint16, error) {
	rows, err := b.in.reader.QueryContext(ctx, `WITH RECURSIVE `+partsCTE+` SELECT p FROM parts WHERE p IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []uint16
	for rows.Next() {
		var p int64
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		out = append(out, uint16(p))
	}
	return out, rows.Err()
}

// AttemptInfo is one attempt of an execution.
type AttemptInfo struct {
	AttemptIndex     uint32 `json:"attempt_index"`
	AttemptID        string `json:"attempt_id"`
	AttemptType      string `json:"attempt_type"`
	LeaseID          string `json:"lease_id"`
	LeaseEpoch       uint64 `json:"lease_epoch"`
	WorkerID         string `json:"worker_id"`
	WorkerInstanceID string `json:"worker_instance_id"`
	StartedAtMS      int64  `json:"started_at_ms"`
	EndedAtMS        *int64 `json:"ended_at_ms,omitempty"`
	LeaseExpiresAtMS *int64 `json:"lease_expires_at_ms,omitempty"`
	// Outcome is empty while running, then success / failed / cancelled /
	// interrupted / expired.
	Outcome       string `json:"outcome,omitempty"`
	FailureClass  string `json:"failure_class,omitempty"`
	FailureReason string `json:"failure_reason,omitempty"`
}

// ListAttempts returns the execution's attempts in index order; a missing
// execution is a KindNotFound error.
func (b *Backend) ListAttempts(ctx context.Context, id ExecutionID) ([]AttemptInfo, error) {
	const op = "list_attempts"
	if _, err := b.GetPublicState(ctx, id); err != nil {
		return nil, err
	}
	part, key := id.key()
	rows, err := b.in.reader.QueryContext(ctx, `SELECT attempt_index,
  COALESCE(json_extract(raw_fields, '$.attempt_id'), ''), COALESCE(json_extract(raw_fields, '$.attempt_type'), ''),
  COALESCE(json_extract(raw_fields, '$.lease_id'), ''), lease_epoch, COALESCE(worker_id, ''),
  COALESCE(worker_instance_id, ''), COALESCE(started_at_ms, 0), terminal_at_ms, lease_expires_at_ms,
  COALESCE(outcome, ''), COALESCE(json_extract(raw_fields, '$.failure_class'), ''),
  COALESCE(json_extract(raw_fields, '$.failure_reason'), '')
FROM ff_attempt WHERE partition_key = ?1 AND execution_id = ?2 ORDER BY attempt_index`, part, key)
	if err != nil {
		return nil, transport(op, err)
	}
	defer rows.Close()
	out := []AttemptInfo{}
	for rows.Next() {
		var (
			a              AttemptInfo
			idx, epoch     int64
			ended, expires sql.NullInt64
		)
		if err := rows.Scan(&idx, &a.AttemptID, &a.AttemptType, &a.LeaseID, &epoch, &a.WorkerID,
			&a.WorkerInstanceID, &a.StartedAtMS, &ended, &expires, &a.Outcome, &a.FailureClass,
			&a.FailureReason); err != nil {
			return nil, transport(op, err)
		}
		a.AttemptIndex, a.LeaseEpoch = uint32(idx), uint64(epoch)
		if ended.Valid {
			a.EndedAtMS = &ended.Int64
		}
		if expires.Valid {
			a.LeaseExpiresAtMS = &expires.Int64
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, transport(op, err)
	}
	return out, nil
}
