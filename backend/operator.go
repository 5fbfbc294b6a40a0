package backend

import (
	"context"
	"encoding/json"
	"strconv"
)

// Cancel sources (CancelExecutionArgs.Source); any other string is a
// custom non-operator source.
const (
	SourceOperatorOverride = "operator_override"
	SourceLeaseHolder      = "lease_holder"
	SourceFlowCascade      = "flow_cascade"
	SourceSystemTimeout    = "system_timeout"
)

// CancelExecutionArgs is the body of POST /v1/executions/{id}/cancel
// (spec route 8). Source defaults to operator_override, which skips the
// lease fence; any other source cancelling a leased execution must give
// the current lease_epoch (and lease_id, when given, must match).
type CancelExecutionArgs struct {
	ExecutionID ExecutionID `json:"execution_id"`
	Reason      string      `json:"reason"`
	Source      string      `json:"source,omitempty"`
	LeaseID     *string     `json:"lease_id,omitempty"`
	LeaseEpoch  *uint64     `json:"lease_epoch,omitempty"`
	AttemptID   *string     `json:"attempt_id,omitempty"`
	Now         int64       `json:"now"`
}

// CancelExecutionResult is Cancelled{execution_id, public_state}.
type CancelExecutionResult struct {
	ExecutionID ExecutionID `json:"execution_id"`
	PublicState string      `json:"public_state"`
}

// MarshalJSON renders {"Cancelled":{...}}.
func (r CancelExecutionResult) MarshalJSON() ([]byte, error) {
	type plain CancelExecutionResult
	return json.Marshal(map[string]plain{"Cancelled": plain(r)})
}

// CancelExecution cancels a non-terminal execution: it becomes terminal /
// cancelled with cancellation_reason and cancelled_by (the source) set and
// completion event "cancelled". A held lease is revoked: the attempt ends
// with outcome cancelled, its epoch is bumped and lease event "revoked" is
// written. A suspended or delayed execution's paused attempt ends with
// outcome cancelled and its open suspension and waitpoints close
// (cancelled). Re-cancelling a cancelled execution returns Cancelled again and
// changes nothing; cancelling another terminal state is a KindState error
// (code "terminal").
func (b *Backend) CancelExecution(ctx context.Context, args CancelExecutionArgs) (CancelExecutionResult, error) {
	const op = "cancel_execution"
	if args.ExecutionID.IsZero() {
		return CancelExecutionResult{}, validation(op, "invalid_input", "execution_id: required")
	}
	source := args.Source
	if source == "" {
		source = SourceOperatorOverride
	}
	out := CancelExecutionResult{ExecutionID: args.ExecutionID, PublicState: StateCancelled}
	err := b.write(ctx, op, func(w *wtx) error { return w.cancelExecution(op, args, source) })
	if err != nil {
		return CancelExecutionResult{}, err
	}
	return out, nil
}

// cancelExecution is CancelExecution inside w, with the source already
// defaulted: flow cancels and sibling cancels run it in their own
// transactions.
func (w *wtx) cancelExecution(op string, args CancelExecutionArgs, source string) error {
	id := args.ExecutionID
	h, err := w.head(op, id)
	if err != nil {
		return err
	}
	if h.lifecycle == "terminal" {
		if h.public == StateCancelled {
			return nil
		}
		return &Error{Kind: KindState, Op: op, Code: "terminal",
			Msg: "execution_id=" + id.String() + ": already terminal in state '" + h.public + "'"}
	}
	leased := h.lifecycle == "active" && h.live()
	if leased && source != SourceOperatorOverride {
		switch {
		case h.ownership == "lease_revoked":
			return newErr(KindContention, op, CodeLeaseRevoked, "lease revoked (execution %s)", id)
		case args.LeaseEpoch == nil:
			return validation(op, "invalid_input",
				"execution_id=%s: lease_epoch required when source != operator_override and execution is active", id)
		case *args.LeaseEpoch != uint64(h.epoch),
			args.LeaseID != nil && *args.LeaseID != "" && *args.LeaseID != h.leaseID:
			return newErr(KindContention, op, CodeStaleLease, "stale lease: execution %s is at lease epoch %d", id, h.epoch)
		}
	}
	patch := jsonString(map[string]any{"failure_reason": "cancelled: " + args.Reason})
	if err := w.endRunning(id, h, "cancelled", patch, "revoked"); err != nil {
		return err
	}
	_, err = w.terminate(id, outcomeCancelled, terminal{cancel: &cancelInfo{reason: args.Reason, by: source}})
	return err
}

// ChangePriorityArgs is the body of PUT /v1/executions/{id}/priority.
type ChangePriorityArgs struct {
	ExecutionID ExecutionID `json:"execution_id"`
	NewPriority int32       `json:"new_priority"`
	Now         int64       `json:"now"`
}

// ChangePriorityResult is Changed{execution_id}.
type ChangePriorityResult struct {
	ExecutionID ExecutionID `json:"execution_id"`
}

// MarshalJSON renders {"Changed":{"execution_id":...}}.
func (r ChangePriorityResult) MarshalJSON() ([]byte, error) {
	type plain ChangePriorityResult
	return json.Marshal(map[string]plain{"Changed": plain(r)})
}

var qSetPriority = `UPDATE ff_exec_core SET priority = ?3
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase = 'runnable' AND eligibility_state = 'eligible_now'`

// ChangePriority sets a waiting execution's priority, clamped to 0..9000,
// and writes operator event "priority_changed" with the old and new
// values. Only a runnable, eligible_now execution may change priority;
// otherwise it is a KindState error (code "execution_not_eligible").
func (b *Backend) ChangePriority(ctx context.Context, args ChangePriorityArgs) (ChangePriorityResult, error) {
	const op = "change_priority"
	prio := clampPriority(int64(args.NewPriority))
	err := b.write(ctx, op, func(w *wtx) error {
		h, err := w.head(op, args.ExecutionID)
		if err != nil {
			return err
		}
		if h.lifecycle != "runnable" || h.eligibility != "eligible_now" {
			return newErr(KindState, op, "execution_not_eligible",
				"execution_not_eligible: execution %s is %s", args.ExecutionID, h.public)
		}
		part, key := args.ExecutionID.key()
		if _, err := w.exec(qSetPriority, part, key, prio); err != nil {
			return err
		}
		details := jsonString(map[string]int64{"old_priority": h.priority, "new_priority": prio})
		return w.operatorEvent(args.ExecutionID, "priority_changed", details)
	})
	if err != nil {
		return ChangePriorityResult{}, err
	}
	return ChangePriorityResult{ExecutionID: args.ExecutionID}, nil
}

// ReplayExecutionArgs names the execution to replay (route 11 has no
// body).
type ReplayExecutionArgs struct {
	ExecutionID ExecutionID `json:"execution_id"`
	Now         int64       `json:"now"`
}

// ReplayExecutionResult is Replayed{public_state}.
type ReplayExecutionResult struct {
	PublicState string `json:"public_state"`
}

// MarshalJSON renders {"Replayed":{"public_state":...}}.
func (r ReplayExecutionResult) MarshalJSON() ([]byte, error) {
	type plain ReplayExecutionResult
	return json.Marshal(map[string]plain{"Replayed": plain(r)})
}

// qReplayGrantsDrop deletes every grant of the execution: a grant issued
// for an earlier run (a claim grant before a cancel, say) must neither
// hide the replayed run from plain claims nor lease it.
var qReplayGrantsDrop = `DELETE FROM ff_claim_grant WHERE partition_key = ?1 AND execution_id = ?2`

var qReplay = `UPDATE ff_exec_core SET lifecycle_phase = 'runnable', ownership_state = 'unowned',
  eligibility_state = 'eligible_now', blocking_reason = 'waiting_for_worker',
  attempt_state = 'pending_replay_attempt', public_state = 'waiting', terminal_at_ms = NULL,
  result = NULL, cancellation_reason = NULL, cancelled_by = NULL,
  raw_fields = json_patch(raw_fields, ?3)
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase = 'terminal'`

// ReplayExecution re-runs a terminal execution: it becomes runnable /
// eligible_now / pending_replay_attempt (waiting), replay_count+1, with
// result, cancellation fields and failure fields cleared; the next claim
// creates a replay attempt. Grants issued for an earlier run end.
// Operator event "replayed" is written. A flow member's dependency state
// is reset first (replayDependencies): it may answer waiting_children
// instead, while upstreams are still to finish. A
// non-terminal execution is a KindState error "execution_not_terminal";
// replay_count >= the policy's max_replay_count (default 10) is a
// KindState error "max_replays_exhausted".
func (b *Backend) ReplayExecution(ctx context.Context, args ReplayExecutionArgs) (ReplayExecutionResult, error) {
	const op = "replay_execution"
	public := StateWaiting
	err := b.write(ctx, op, func(w *wtx) error {
		public = StateWaiting
		h, err := w.head(op, args.ExecutionID)
		if err != nil {
			return err
		}
		if h.lifecycle != "terminal" {
			return newErr(KindState, op, "execution_not_terminal", "execution_not_terminal: execution %s is %s",
				args.ExecutionID, h.public)
		}
		if max := h.policy.maxReplayCount(); h.replayCount >= max {
			return newErr(KindState, op, "max_replays_exhausted", "max_replays_exhausted: %d of %d replays used",
				h.replayCount, max)
		}
		part, key := args.ExecutionID.key()
		patch := jsonString(map[string]any{
			"terminal_outcome": "none", "replay_count": h.replayCount + 1,
			"failure_class": nil, "failure_reason": nil, "delay_until": nil, "blocking_detail": nil, "skip_detail": nil,
		})
		if _, err := w.exec(qReplay, part, key, patch); err != nil {
			return err
		}
		if _, err := w.exec(qReplayGrantsDrop, part, key); err != nil {
			return err
		}
		details := map[string]any{"branch": "normal", "replay_count": h.replayCount + 1}
		// A flow member's dependency state is reset (flow_replay.go).
		if public, err = w.replayDependencies(args.ExecutionID, h.public == StateSkipped, details); err != nil {
			return err
		}
		return w.operatorEvent(args.ExecutionID, "replayed", jsonString(details))
	})
	if err != nil {
		return ReplayExecutionResult{}, err
	}
	return ReplayExecutionResult{PublicState: public}, nil
}

// RevokeLeaseArgs names the execution whose lease an operator revokes,
// with optional filters: only the given worker instance's lease, only the
// given lease id.
type RevokeLeaseArgs struct {
	ExecutionID      ExecutionID `json:"execution_id"`
	WorkerInstanceID string      `json:"worker_instance_id,omitempty"`
	ExpectedLeaseID  string      `json:"expected_lease_id,omitempty"`
	Reason           string      `json:"reason,omitempty"`
}

// RevokeLeaseResult is Revoked{lease_id, lease_epoch} (the new epoch, as
// a string) or AlreadySatisfied{reason} (no_active_lease,
// already_revoked, different_worker_instance_id, lease_id_mismatch).
type RevokeLeaseResult struct {
	Revoked          bool
	LeaseID          string
	LeaseEpoch       string
	AlreadySatisfied string
}

// MarshalJSON renders the externally tagged wire shape.
func (r RevokeLeaseResult) MarshalJSON() ([]byte, error) {
	if r.Revoked {
		return json.Marshal(map[string]map[string]string{"Revoked": {"lease_id": r.LeaseID, "lease_epoch": r.LeaseEpoch}})
	}
	return json.Marshal(map[string]map[string]string{"AlreadySatisfied": {"reason": r.AlreadySatisfied}})
}

var (
	// Revoking bumps the epoch and sets the lease expiry to now: the lease
	// is dead at once and the lease-expiry reconciler requeues the
	// execution on its next pass.
	qRevokeAttempt = `UPDATE ff_attempt SET lease_epoch = lease_epoch + 1, lease_expires_at_ms = ?5
WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = ?3 AND lease_epoch = ?4 AND outcome IS NULL`
	qRevokeExec = `UPDATE ff_exec_core SET ownership_state = 'lease_revoked'
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase = 'active'`
)

// RevokeLease revokes an active execution's lease (canonical: the
// execution stays active with ownership lease_revoked; the holder's calls
// fail with lease_revoked). The epoch is bumped (compare-and-set on the
// old one), the lease expiry is set to now so that ExpireLeases requeues
// the execution as a reclaim, and lease event "revoked" is written.
func (b *Backend) RevokeLease(ctx context.Context, args RevokeLeaseArgs) (RevokeLeaseResult, error) {
	const op = "revoke_lease"
	var out RevokeLeaseResult
	err := b.write(ctx, op, func(w *wtx) error {
		id := args.ExecutionID
		h, err := w.head(op, id)
		if err != nil {
			return err
		}
		switch {
		case h.lifecycle != "active" || !h.live():
			out = RevokeLeaseResult{AlreadySatisfied: "no_active_lease"}
			return nil
		case h.ownership == "lease_revoked":
			out = RevokeLeaseResult{AlreadySatisfied: "already_revoked"}
			return nil
		case args.WorkerInstanceID != "" && args.WorkerInstanceID != h.workerInst:
			out = RevokeLeaseResult{AlreadySatisfied: "different_worker_instance_id"}
			return nil
		case args.ExpectedLeaseID != "" && args.ExpectedLeaseID != h.leaseID:
			out = RevokeLeaseResult{AlreadySatisfied: "lease_id_mismatch"}
			return nil
		}
		part, key := id.key()
		n, err := w.affected(qRevokeAttempt, part, key, h.attemptIndex, h.epoch, w.now)
		if err != nil {
			return err
		}
		if n != 1 {
			out = RevokeLeaseResult{AlreadySatisfied: "epoch_moved"}
			return nil
		}
		if _, err := w.exec(qRevokeExec, part, key); err != nil {
			return err
		}
		if err := w.leaseEvent(id, h.leaseID, "revoked"); err != nil {
			return err
		}
		out = RevokeLeaseResult{Revoked: true, LeaseID: h.leaseID, LeaseEpoch: strconv.FormatInt(h.epoch+1, 10)}
		return nil
	})
	return out, err
}
