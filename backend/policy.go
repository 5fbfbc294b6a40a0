package backend

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Policy defaults (spec §4.6).
const (
	DefaultMaxRetries      = 3
	DefaultMaxReclaimCount = 100
	DefaultMaxReplayCount  = 10
	DefaultDedupWindowMS   = 24 * 60 * 60 * 1000
)

// ExecutionPolicy is the policy JSON of spec §4.6. Optional members are
// pointers (omitted, never null, when marshalled); members the engine does
// not act on yet are kept typed so that create validates them.
type ExecutionPolicy struct {
	Priority               int32                `json:"priority,omitempty"`
	DelayUntil             *int64               `json:"delay_until,omitempty"`
	RetryPolicy            *RetryPolicy         `json:"retry_policy,omitempty"`
	TimeoutPolicy          *TimeoutPolicy       `json:"timeout_policy,omitempty"`
	MaxReclaimCount        *uint32              `json:"max_reclaim_count,omitempty"`
	SuspensionPolicy       *SuspensionPolicy    `json:"suspension_policy,omitempty"`
	FallbackPolicy         *FallbackPolicy      `json:"fallback_policy,omitempty"`
	MaxReplayCount         *uint32              `json:"max_replay_count,omitempty"`
	BudgetIDs              []string             `json:"budget_ids,omitempty"`
	RoutingRequirements    *RoutingRequirements `json:"routing_requirements,omitempty"`
	DedupWindowMS          *uint64              `json:"dedup_window_ms,omitempty"`
	StreamPolicy           *StreamPolicy        `json:"stream_policy,omitempty"`
	MaxSignalsPerExecution *uint32              `json:"max_signals_per_execution,omitempty"`
	// QuotaPolicyID attaches the execution to a quota policy (an ffsqlite
	// extension, quota_admission.go: upstream never attaches one).
	QuotaPolicyID *string `json:"quota_policy_id,omitempty"`
}

// RetryPolicy says how often and after what backoff a failed attempt is
// retried. Without one an execution is never retried.
type RetryPolicy struct {
	MaxRetries          *uint32  `json:"max_retries,omitempty"`
	Backoff             *Backoff `json:"backoff,omitempty"`
	RetryableCategories []string `json:"retryable_categories,omitempty"`
}

// Backoff is {"type":"exponential",initial_delay_ms,max_delay_ms,
// multiplier,jitter} or {"type":"fixed",delay_ms}.
type Backoff struct {
	Type           string   `json:"type"`
	DelayMS        *uint64  `json:"delay_ms,omitempty"`
	InitialDelayMS *uint64  `json:"initial_delay_ms,omitempty"`
	MaxDelayMS     *uint64  `json:"max_delay_ms,omitempty"`
	Multiplier     *float64 `json:"multiplier,omitempty"`
	Jitter         bool     `json:"jitter,omitempty"`
}

// TimeoutPolicy bounds an attempt's run time and the execution's life.
type TimeoutPolicy struct {
	AttemptTimeoutMS    *uint64 `json:"attempt_timeout_ms,omitempty"`
	ExecutionDeadlineMS *uint64 `json:"execution_deadline_ms,omitempty"`
	MaxReclaimCount     *uint32 `json:"max_reclaim_count,omitempty"`
}

// SuspensionPolicy is accepted and stored; suspension is not implemented
// by this data plane yet.
type SuspensionPolicy struct {
	DefaultTimeoutMS *uint64 `json:"default_timeout_ms,omitempty"`
	TimeoutBehavior  string  `json:"timeout_behavior,omitempty"`
}

// FallbackPolicy is accepted and stored.
type FallbackPolicy struct {
	Tiers []FallbackTier `json:"tiers"`
}

// FallbackTier is one provider/model fallback step.
type FallbackTier struct {
	Provider  string  `json:"provider"`
	Model     string  `json:"model"`
	TimeoutMS *uint64 `json:"timeout_ms,omitempty"`
}

// RoutingRequirements restricts which workers may claim the execution.
type RoutingRequirements struct {
	RequiredCapabilities []string `json:"required_capabilities,omitempty"`
	PreferredLocality    *string  `json:"preferred_locality,omitempty"`
	IsolationLevel       *string  `json:"isolation_level,omitempty"`
}

// StreamPolicy is accepted and stored.
type StreamPolicy struct {
	DurabilityMode  string  `json:"durability_mode,omitempty"`
	RetentionMaxlen *uint64 `json:"retention_maxlen,omitempty"`
	RetentionTTLMS  *uint64 `json:"retention_ttl_ms,omitempty"`
}

// ParsePolicy decodes and validates policy JSON. Empty input or JSON null
// is no policy (nil, nil). Anything malformed is a KindValidation error
// with code "invalid_policy_json" (invalid capability tokens:
// "invalid_capabilities").
func ParsePolicy(raw []byte) (*ExecutionPolicy, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, policyErr("policy must be a JSON object")
	}
	var p ExecutionPolicy
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, policyErr(err.Error())
	}
	if rp := p.RetryPolicy; rp != nil && rp.Backoff != nil {
		b := rp.Backoff
		switch b.Type {
		case "fixed":
			if b.DelayMS == nil {
				return nil, policyErr("retry_policy.backoff: fixed backoff needs delay_ms")
			}
		case "exponential":
			if b.InitialDelayMS == nil || b.MaxDelayMS == nil || b.Multiplier == nil {
				return nil, policyErr("retry_policy.backoff: exponential backoff needs initial_delay_ms, max_delay_ms and multiplier")
			}
			if m := *b.Multiplier; math.IsNaN(m) || m < 0 {
				return nil, policyErr("retry_policy.backoff: multiplier must be a non-negative number")
			}
		default:
			return nil, policyErr(fmt.Sprintf("retry_policy.backoff: unknown type %q (expected fixed or exponential)", b.Type))
		}
	}
	if fp := p.FallbackPolicy; fp != nil && fp.Tiers == nil {
		return nil, policyErr("fallback_policy: missing field `tiers`")
	}
	if rr := p.RoutingRequirements; rr != nil {
		caps, err := normalizeCapabilities(rr.RequiredCapabilities)
		if err != nil {
			return nil, err
		}
		rr.RequiredCapabilities = caps
	}
	return &p, nil
}

func policyErr(detail string) error {
	return validation("", "invalid_policy_json", "invalid_policy_json: %s", detail)
}

// requiredCapabilities returns the policy's sorted capability set.
func (p *ExecutionPolicy) requiredCapabilities() []string {
	if p == nil || p.RoutingRequirements == nil {
		return nil
	}
	return p.RoutingRequirements.RequiredCapabilities
}

// maxReclaimCount is timeout_policy.max_reclaim_count, else the top-level
// max_reclaim_count, else 100.
func (p *ExecutionPolicy) maxReclaimCount() int64 {
	if p != nil && p.TimeoutPolicy != nil && p.TimeoutPolicy.MaxReclaimCount != nil {
		return int64(*p.TimeoutPolicy.MaxReclaimCount)
	}
	if p != nil && p.MaxReclaimCount != nil {
		return int64(*p.MaxReclaimCount)
	}
	return DefaultMaxReclaimCount
}

// maxReplayCount is max_replay_count, default 10.
func (p *ExecutionPolicy) maxReplayCount() int64 {
	if p != nil && p.MaxReplayCount != nil {
		return int64(*p.MaxReplayCount)
	}
	return DefaultMaxReplayCount
}

// retryDecision says whether a failure with retry_count earlier retries
// may be retried and after how many milliseconds (spec §4.6): only with a
// retry policy and while retry_count < max_retries (default 3).
func (p *ExecutionPolicy) retryDecision(retryCount int64) (bool, int64) {
	if p == nil || p.RetryPolicy == nil {
		return false, 0
	}
	rp := p.RetryPolicy
	maxRetries := int64(DefaultMaxRetries)
	if rp.MaxRetries != nil {
		maxRetries = int64(*rp.MaxRetries)
	}
	if retryCount >= maxRetries {
		return false, 0
	}
	return true, backoffMS(rp.Backoff, retryCount)
}

// backoffMS: exponential = min(initial·mult^retry_count, max) (the default
// is 1000/60000/2.0), fixed = delay_ms, unknown = 1000. Jitter is not
// applied: delays stay deterministic.
func backoffMS(b *Backoff, retryCount int64) int64 {
	if b == nil {
		b = &Backoff{Type: "exponential", InitialDelayMS: engU64p(1000), MaxDelayMS: engU64p(60000), Multiplier: engF64p(2)}
	}
	switch b.Type {
	case "fixed":
		if b.DelayMS == nil {
			return 1000
		}
		return clampI64(*b.DelayMS)
	case "exponential":
		if b.InitialDelayMS == nil || b.MaxDelayMS == nil || b.Multiplier == nil {
			return 1000
		}
		d := float64(*b.InitialDelayMS) * math.Pow(*b.Multiplier, float64(retryCount))
		if m := float64(*b.MaxDelayMS); d > m || math.IsNaN(d) || math.IsInf(d, 0) {
			d = m
		}
		if d >= math.MaxInt64/2 {
			return math.MaxInt64 / 2
		}
		return int64(d)
	default:
		return 1000
	}
}

func engU64p(v uint64) *uint64   { return &v }
func engF64p(v float64) *float64 { return &v }

func clampI64(v uint64) int64 {
	if v > math.MaxInt64/2 {
		return math.MaxInt64 / 2
	}
	return int64(v)
}

// policyFromColumn decodes a stored policy; stored policies were validated
// on create, so a decode failure means no policy.
func policyFromColumn(s *string) *ExecutionPolicy {
	if s == nil || strings.TrimSpace(*s) == "" {
		return nil
	}
	p, err := ParsePolicy([]byte(*s))
	if err != nil {
		return nil
	}
	return p
}
