package suspension

import (
	"bytes"
	"encoding/json"

	"github.com/google/uuid"
)

// ClockSkewToleranceMS is how far in the past a suspension timeout may
// lie before suspend refuses it (upstream's
// SUSPEND_CLOCK_SKEW_TOLERANCE_MS).
const ClockSkewToleranceMS = 600_000

// Suspend idempotency: a stored outcome lives for the suspension's
// timeout plus SuspendDedupGraceMS, at most SuspendDedupMaxTTLMS (and that
// long without a timeout).
const (
	SuspendDedupGraceMS  = 60_000
	SuspendDedupMaxTTLMS = 604_800_000
)

// ReasonCode is why an execution suspends (upstream's
// SuspensionReasonCode, PascalCase on the wire).
type ReasonCode string

// The reason codes.
const (
	ReasonWaitingForSignal         ReasonCode = "WaitingForSignal"
	ReasonWaitingForApproval       ReasonCode = "WaitingForApproval"
	ReasonWaitingForCallback       ReasonCode = "WaitingForCallback"
	ReasonWaitingForToolResult     ReasonCode = "WaitingForToolResult"
	ReasonWaitingForOperatorReview ReasonCode = "WaitingForOperatorReview"
	ReasonPausedByPolicy           ReasonCode = "PausedByPolicy"
	ReasonPausedByBudget           ReasonCode = "PausedByBudget"
	ReasonStepBoundary             ReasonCode = "StepBoundary"
	ReasonManualPause              ReasonCode = "ManualPause"
)

var reasonWire = map[ReasonCode]string{
	ReasonWaitingForSignal:         "waiting_for_signal",
	ReasonWaitingForApproval:       "waiting_for_approval",
	ReasonWaitingForCallback:       "waiting_for_callback",
	ReasonWaitingForToolResult:     "waiting_for_tool_result",
	ReasonWaitingForOperatorReview: "waiting_for_operator_review",
	ReasonPausedByPolicy:           "paused_by_policy",
	ReasonPausedByBudget:           "paused_by_budget",
	ReasonStepBoundary:             "step_boundary",
	ReasonManualPause:              "manual_pause",
}

// Wire returns the snake_case string stored and shown for the code.
func (r ReasonCode) Wire() string { return reasonWire[r] }

// BlockingReasonFor maps a stored reason code (snake_case) to the
// execution's blocking_reason (upstream's map_reason_to_blocking):
// approval, callback, tool result and signal map to themselves, operator
// review and manual pause to paused_by_operator, paused_by_policy stays,
// paused_by_budget is waiting_for_budget, anything else
// waiting_for_signal.
func BlockingReasonFor(wire string) string {
	switch wire {
	case "waiting_for_signal", "waiting_for_approval", "waiting_for_callback", "waiting_for_tool_result", "paused_by_policy":
		return wire
	case "waiting_for_operator_review", "manual_pause":
		return "paused_by_operator"
	case "paused_by_budget":
		return "waiting_for_budget"
	}
	return "waiting_for_signal"
}

// Requester is who asked for the suspension.
type Requester string

// The requesters.
const (
	RequestedByWorker              Requester = "Worker"
	RequestedByOperator            Requester = "Operator"
	RequestedByPolicy              Requester = "Policy"
	RequestedBySystemTimeoutPolicy Requester = "SystemTimeoutPolicy"
)

var requesterWire = map[Requester]string{
	RequestedByWorker: "worker", RequestedByOperator: "operator",
	RequestedByPolicy: "policy", RequestedBySystemTimeoutPolicy: "system_timeout_policy",
}

// Wire returns the snake_case string.
func (r Requester) Wire() string { return requesterWire[r] }

// TimeoutBehavior is what happens when a suspension times out.
type TimeoutBehavior string

// The timeout behaviours.
const (
	TimeoutFail                        TimeoutBehavior = "Fail"
	TimeoutCancel                      TimeoutBehavior = "Cancel"
	TimeoutExpire                      TimeoutBehavior = "Expire"
	TimeoutAutoResumeWithTimeoutSignal TimeoutBehavior = "AutoResumeWithTimeoutSignal"
	TimeoutEscalate                    TimeoutBehavior = "Escalate"
)

var timeoutWire = map[TimeoutBehavior]string{
	TimeoutFail: "fail", TimeoutCancel: "cancel", TimeoutExpire: "expire",
	TimeoutAutoResumeWithTimeoutSignal: "auto_resume_with_timeout_signal", TimeoutEscalate: "escalate",
}

// Wire returns the snake_case string stored in
// ff_suspension_current.timeout_behavior.
func (t TimeoutBehavior) Wire() string { return timeoutWire[t] }

// ResumePolicy is upstream's ResumePolicy. Only Runnable exists as a
// target; ResumeDelayMS is stored, not applied (the signal's own
// resume_delay_ms is).
type ResumePolicy struct {
	ResumeTarget                  string  `json:"resume_target"`
	ConsumeMatchedSignals         bool    `json:"consume_matched_signals"`
	RetainSignalBufferUntilClosed bool    `json:"retain_signal_buffer_until_closed"`
	ResumeDelayMS                 *uint64 `json:"resume_delay_ms,omitempty"`
	CloseWaitpointOnResume        bool    `json:"close_waitpoint_on_resume"`
}

// DefaultResumePolicy is upstream's ResumePolicy::normal().
func DefaultResumePolicy() ResumePolicy {
	return ResumePolicy{ResumeTarget: "Runnable", ConsumeMatchedSignals: true, CloseWaitpointOnResume: true}
}

// UnmarshalJSON requires every field but resume_delay_ms, as serde does.
func (p *ResumePolicy) UnmarshalJSON(data []byte) error {
	f, err := object(data, "resume_policy")
	if err != nil {
		return err
	}
	if err := requireFields(f, "resume_policy", "resume_target", "consume_matched_signals",
		"retain_signal_buffer_until_closed", "close_waitpoint_on_resume"); err != nil {
		return err
	}
	type plain ResumePolicy
	var v plain
	if err := json.Unmarshal(data, &v); err != nil {
		return shape("resume_policy: %v", err)
	}
	if v.ResumeTarget != "Runnable" {
		return shape("resume_policy: unknown resume_target %q", v.ResumeTarget)
	}
	*p = ResumePolicy(v)
	return nil
}

// WaitpointBinding is one waitpoint of a suspension: Fresh (minted by
// the suspend, with its key) or UsePending (a waitpoint created before by
// CreateWaitpoint; its key is the stored one).
type WaitpointBinding struct {
	UsePending   bool
	WaitpointID  uuid.UUID
	WaitpointKey string
}

// Fresh binds a new waitpoint.
func Fresh(id uuid.UUID, key string) WaitpointBinding {
	return WaitpointBinding{WaitpointID: id, WaitpointKey: key}
}

// UsePending binds the pending waitpoint id.
func UsePending(id uuid.UUID) WaitpointBinding {
	return WaitpointBinding{UsePending: true, WaitpointID: id}
}

// MarshalJSON renders {"Fresh":{"waitpoint_id","waitpoint_key"}} or
// {"UsePending":{"waitpoint_id"}}.
func (w WaitpointBinding) MarshalJSON() ([]byte, error) {
	if w.UsePending {
		return json.Marshal(map[string]any{"UsePending": map[string]string{"waitpoint_id": w.WaitpointID.String()}})
	}
	type fresh struct {
		WaitpointID  string `json:"waitpoint_id"`
		WaitpointKey string `json:"waitpoint_key"`
	}
	return json.Marshal(map[string]fresh{"Fresh": {w.WaitpointID.String(), w.WaitpointKey}})
}

// UnmarshalJSON decodes the externally tagged binding.
func (w *WaitpointBinding) UnmarshalJSON(data []byte) error {
	name, body, err := oneKey(data, "waitpoint binding")
	if err != nil {
		return err
	}
	f, err := object(body, name)
	if err != nil {
		return err
	}
	idText, err := reqString(f, "waitpoint_id")
	if err != nil {
		return err
	}
	id, perr := uuid.Parse(idText)
	if perr != nil {
		return shape("waitpoint_id: not a UUID: %q", idText)
	}
	switch name {
	case "Fresh":
		key, err := reqString(f, "waitpoint_key")
		if err != nil {
			return err
		}
		*w = Fresh(id, key)
	case "UsePending":
		*w = UsePending(id)
	default:
		return shape("waitpoint binding: unknown variant %q", name)
	}
	return nil
}

// SuspendArgs is upstream's SuspendArgs: the waitpoints to wait on (the
// first is the primary), the condition that resumes the execution, why
// and for how long. Now is carried for compatibility; the engine's clock
// decides.
type SuspendArgs struct {
	SuspensionID                uuid.UUID          `json:"suspension_id"`
	Waitpoints                  []WaitpointBinding `json:"waitpoints"`
	ResumeCondition             Condition          `json:"resume_condition"`
	ResumePolicy                ResumePolicy       `json:"resume_policy"`
	ReasonCode                  ReasonCode         `json:"reason_code"`
	RequestedBy                 Requester          `json:"requested_by"`
	TimeoutAt                   *int64             `json:"timeout_at,omitempty"`
	TimeoutBehavior             TimeoutBehavior    `json:"timeout_behavior"`
	ContinuationMetadataPointer *string            `json:"continuation_metadata_pointer,omitempty"`
	Now                         int64              `json:"now"`
	IdempotencyKey              *string            `json:"idempotency_key,omitempty"`
}

// UnmarshalJSON requires the fields serde requires (all but timeout_at,
// continuation_metadata_pointer and idempotency_key) and refuses unknown
// enum strings; a wrong shape is a *ShapeError.
func (a *SuspendArgs) UnmarshalJSON(data []byte) error {
	f, err := object(data, "suspend args")
	if err != nil {
		return err
	}
	if err := requireFields(f, "suspend args", "suspension_id", "waitpoints", "resume_condition",
		"resume_policy", "reason_code", "requested_by", "timeout_behavior", "now"); err != nil {
		return err
	}
	type plain SuspendArgs
	var v plain
	if err := json.Unmarshal(data, &v); err != nil {
		var se *ShapeError
		if asShape(err, &se) {
			return se
		}
		return shape("suspend args: %v", err)
	}
	if _, ok := reasonWire[v.ReasonCode]; !ok {
		return shape("reason_code: unknown variant %q", v.ReasonCode)
	}
	if _, ok := requesterWire[v.RequestedBy]; !ok {
		return shape("requested_by: unknown variant %q", v.RequestedBy)
	}
	if _, ok := timeoutWire[v.TimeoutBehavior]; !ok {
		return shape("timeout_behavior: unknown variant %q", v.TimeoutBehavior)
	}
	*a = SuspendArgs(v)
	return nil
}

func asShape(err error, target **ShapeError) bool {
	for err != nil {
		if se, ok := err.(*ShapeError); ok {
			*target = se
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func requireFields(f map[string]json.RawMessage, what string, names ...string) error {
	for _, n := range names {
		raw, ok := f[n]
		if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			return shape("%s: missing field `%s`", what, n)
		}
	}
	return nil
}

// DedupTTLMS is how long a suspend's idempotent outcome is kept:
// min(timeout_at - now + 60 s, 7 days), or 7 days without a timeout.
func (a *SuspendArgs) DedupTTLMS(nowMS int64) int64 {
	if a.TimeoutAt == nil {
		return SuspendDedupMaxTTLMS
	}
	delta := max(*a.TimeoutAt-nowMS, 0)
	return min(delta+SuspendDedupGraceMS, SuspendDedupMaxTTLMS)
}

// Validate checks the arguments before any write, in upstream's order
// (validate_suspend_args): waitpoints_empty; waitpoint_key_mismatch
// between a Fresh primary and a Single condition; with several bindings,
// extras must be Fresh with a key and the condition's keys must equal the
// bindings' keys; timeout_only_without_deadline; an empty ByName;
// timeout_at_in_past (beyond ClockSkewToleranceMS before nowMS); the
// composite structure. ffsqlite adds: UsePending cannot be combined with
// extra bindings (upstream fails that later, in Lua), and waitpoint ids
// and keys must not repeat.
func (a *SuspendArgs) Validate(nowMS int64) error {
	if len(a.Waitpoints) == 0 {
		return invalid("waitpoints_empty")
	}
	primary := a.Waitpoints[0]
	if !primary.UsePending && a.ResumeCondition.Kind == KindSingle && primary.WaitpointKey != a.ResumeCondition.WaitpointKey {
		return invalid("waitpoint_key_mismatch")
	}
	if len(a.Waitpoints) > 1 {
		for i, b := range a.Waitpoints[1:] {
			switch {
			case b.UsePending:
				return invalid("additional_waitpoint_binding_must_be_fresh at waitpoints[%d]", i+1)
			case b.WaitpointKey == "":
				return invalid("additional_waitpoint_binding_empty_key at waitpoints[%d]", i+1)
			}
		}
		if primary.UsePending {
			return invalid("use_pending_with_extras_unsupported")
		}
		var bindingKeys []string
		for _, b := range a.Waitpoints {
			bindingKeys = append(bindingKeys, b.WaitpointKey)
		}
		referenced := a.ResumeCondition.ReferencedKeys()
		for _, r := range referenced {
			if !contains(bindingKeys, r) {
				return invalid("referenced_waitpoint_key_missing_binding: %s", r)
			}
		}
		for _, b := range bindingKeys {
			if !contains(referenced, b) {
				return invalid("extra_binding_not_referenced_by_condition: %s", b)
			}
		}
	}
	if a.ResumeCondition.Kind == KindTimeoutOnly && a.TimeoutAt == nil {
		return invalid("timeout_only_without_deadline")
	}
	if path, ok := a.ResumeCondition.emptyByName(""); ok {
		if path == "" {
			return invalid("resume_condition: empty signal name (use Wildcard instead)")
		}
		return invalid("resume_condition: empty signal name (use Wildcard instead) at path %s", path)
	}
	if a.TimeoutAt != nil && *a.TimeoutAt < nowMS-ClockSkewToleranceMS { // not at+tolerance: a far-future at would wrap
		return invalid("timeout_at_in_past")
	}
	if err := a.ResumeCondition.ValidateComposite(); err != nil {
		return err
	}
	ids := map[uuid.UUID]bool{}
	keys := map[string]bool{}
	for _, b := range a.Waitpoints {
		if ids[b.WaitpointID] {
			return invalid("duplicate_waitpoint_id: %s", b.WaitpointID)
		}
		ids[b.WaitpointID] = true
		if !b.UsePending {
			if keys[b.WaitpointKey] {
				return invalid("duplicate_waitpoint_key: %s", b.WaitpointKey)
			}
			keys[b.WaitpointKey] = true
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
