package backend

import "encoding/json"

// Public states (spec §1.2), the values of ff_exec_core.public_state.
const (
	StateWaiting         = "waiting"
	StateDelayed         = "delayed"
	StateRateLimited     = "rate_limited"
	StateWaitingChildren = "waiting_children"
	StateActive          = "active"
	StateSuspended       = "suspended"
	StateResumable       = "resumable"
	StateCompleted       = "completed"
	StateFailed          = "failed"
	StateCancelled       = "cancelled"
	StateExpired         = "expired"
	StateSkipped         = "skipped"
)

// PublicStates lists every public state in wire order.
var PublicStates = []string{
	StateWaiting, StateDelayed, StateRateLimited, StateWaitingChildren,
	StateActive, StateSuspended, StateResumable, StateCompleted,
	StateFailed, StateCancelled, StateExpired, StateSkipped,
}

// StateVector is the seven-dimension execution state of spec §4.2, with
// the JSON field names of the execution-info wire shape.
type StateVector struct {
	LifecyclePhase   string `json:"lifecycle_phase"`
	OwnershipState   string `json:"ownership_state"`
	EligibilityState string `json:"eligibility_state"`
	BlockingReason   string `json:"blocking_reason"`
	TerminalOutcome  string `json:"terminal_outcome"`
	AttemptState     string `json:"attempt_state"`
	PublicState      string `json:"public_state"`
}

// DerivePublicState computes the public state from the other dimensions
// (spec §4.2): terminal → by outcome (none → failed); suspended; active;
// runnable → by eligibility; submitted → waiting.
func DerivePublicState(lifecycle, eligibility, terminalOutcome string) string {
	switch lifecycle {
	case "terminal":
		switch terminalOutcome {
		case "success":
			return StateCompleted
		case "cancelled":
			return StateCancelled
		case "expired":
			return StateExpired
		case "skipped":
			return StateSkipped
		default:
			return StateFailed
		}
	case "suspended":
		return StateSuspended
	case "active":
		return StateActive
	case "runnable":
		switch eligibility {
		case "not_eligible_until_time":
			return StateDelayed
		case "blocked_by_dependencies":
			return StateWaitingChildren
		case "blocked_by_budget", "blocked_by_quota":
			return StateRateLimited
		default:
			return StateWaiting
		}
	default:
		return StateWaiting
	}
}

// Consistent reports whether v's public state equals the derivation of
// its other dimensions.
func (v StateVector) Consistent() bool {
	return v.PublicState == DerivePublicState(v.LifecyclePhase, v.EligibilityState, v.TerminalOutcome)
}

// isPublicState reports whether s is a known public state.
func isPublicState(s string) bool {
	for _, p := range PublicStates {
		if p == s {
			return true
		}
	}
	return false
}

// jsonString marshals values that cannot fail (maps of strings and numbers).
func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
