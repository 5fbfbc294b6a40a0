package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// BudgetPolicy is ff_budget_policy.policy_json: per-dimension hard and
// soft limits (0 = no limit), the reset interval and the breach actions.
type BudgetPolicy struct {
	HardLimits, SoftLimits map[string]uint64
	// ResetIntervalMS is reset_interval_ms; HasResetInterval says whether
	// the document holds one (an absent or non-integer value reads as 0).
	ResetIntervalMS  int64
	HasResetInterval bool
	OnHardLimit      string
	OnSoftLimit      string
}

// EncodeBudgetPolicy renders the document as create writes it:
// {"hard_limits","soft_limits","reset_interval_ms","on_hard_limit","on_soft_limit"}.
func EncodeBudgetPolicy(p BudgetPolicy) (string, error) {
	buf, err := json.Marshal(struct {
		Hard     map[string]uint64 `json:"hard_limits"`
		Soft     map[string]uint64 `json:"soft_limits"`
		Interval int64             `json:"reset_interval_ms"`
		OnHard   string            `json:"on_hard_limit"`
		OnSoft   string            `json:"on_soft_limit"`
	}{p.HardLimits, p.SoftLimits, p.ResetIntervalMS, p.OnHardLimit, p.OnSoftLimit})
	return string(buf), err
}

// ErrBudgetPolicyNotObject is policy_json text that is not a JSON object.
var ErrBudgetPolicyNotObject = errors.New("policy_json is not a JSON object")

// DecodeBudgetPolicy reads the document as upstream does: text that is not
// a JSON object is an error (wrapping ErrBudgetPolicyNotObject); inside
// one, a limit that is not a non-negative integer (u64) is skipped, one
// entry at a time, a reset_interval_ms that is not an integer (i64) reads
// as absent and a breach action that is not a string as "". The limit maps
// are never nil.
func DecodeBudgetPolicy(text string) (BudgetPolicy, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &raw); err != nil || raw == nil {
		if err == nil {
			return BudgetPolicy{}, ErrBudgetPolicyNotObject
		}
		return BudgetPolicy{}, fmt.Errorf("%w: %v", ErrBudgetPolicyNotObject, err)
	}
	p := BudgetPolicy{HardLimits: limitMap(raw["hard_limits"]), SoftLimits: limitMap(raw["soft_limits"])}
	if v, ok := raw["reset_interval_ms"]; ok {
		if n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64); err == nil {
			p.ResetIntervalMS, p.HasResetInterval = n, true
		}
	}
	_ = json.Unmarshal(raw["on_hard_limit"], &p.OnHardLimit)
	_ = json.Unmarshal(raw["on_soft_limit"], &p.OnSoftLimit)
	return p, nil
}

// limitMap reads one limit object: entries whose value is a JSON integer
// in 0..2^64-1 are kept (serde_json's as_u64), the rest skipped; anything
// but an object is no limits.
func limitMap(raw json.RawMessage) map[string]uint64 {
	out := map[string]uint64{}
	var m map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return out
	}
	for k, v := range m {
		if u, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64); err == nil {
			out[k] = u
		}
	}
	return out
}
