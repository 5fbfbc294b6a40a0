package backend

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/ffsqlite/ffsqlite/internal/codec"
)

// UsageOutcome names a usage report's result variant.
type UsageOutcome string

// The variants of ReportUsageResult (route 24).
const (
	UsageOK             UsageOutcome = "Ok"
	UsageSoftBreach     UsageOutcome = "SoftBreach"
	UsageHardBreach     UsageOutcome = "HardBreach"
	UsageAlreadyApplied UsageOutcome = "AlreadyApplied"
)

// ReportUsageArgs is route 24's body: the delta per dimension and an
// optional dedup key.
type ReportUsageArgs struct {
	Dimensions map[string]uint64 `json:"dimensions"`
	Now        int64             `json:"now"` // ignored: the engine clock is authoritative
	DedupKey   string            `json:"dedup_key,omitempty"`
}

// ReportUsageResult is route 24's answer. Dimension, CurrentUsage and
// Limit are set for the breach variants: a hard breach reports the usage
// before the (refused) increment and the hard limit, a soft breach the
// usage after the increment and the soft limit.
type ReportUsageResult struct {
	Outcome      UsageOutcome
	Dimension    string
	CurrentUsage uint64
	Limit        uint64
}

// usageWire is both the wire body of a breach variant and, with Kind set,
// the outcome_json stored in ff_budget_usage_dedup (upstream's shape).
type usageWire struct {
	Kind         string  `json:"kind,omitempty"`
	Dimension    string  `json:"dimension"`
	CurrentUsage uint64  `json:"current_usage"`
	SoftLimit    *uint64 `json:"soft_limit,omitempty"`
	HardLimit    *uint64 `json:"hard_limit,omitempty"`
}

func (r ReportUsageResult) wire() usageWire {
	w := usageWire{Dimension: r.Dimension, CurrentUsage: r.CurrentUsage}
	limit := r.Limit
	if r.Outcome == UsageHardBreach {
		w.HardLimit = &limit
	} else {
		w.SoftLimit = &limit
	}
	return w
}

// MarshalJSON renders the externally tagged wire shape: "Ok",
// "AlreadyApplied", {"SoftBreach":{…}} or {"HardBreach":{…}}.
func (r ReportUsageResult) MarshalJSON() ([]byte, error) {
	switch r.Outcome {
	case UsageOK, UsageAlreadyApplied:
		return json.Marshal(string(r.Outcome))
	case UsageSoftBreach, UsageHardBreach:
		return json.Marshal(map[string]usageWire{string(r.Outcome): r.wire()})
	}
	return nil, fmt.Errorf("report usage result: unknown outcome %q", r.Outcome)
}

// UnmarshalJSON parses the externally tagged wire shape.
func (r *ReportUsageResult) UnmarshalJSON(data []byte) error {
	var s string
	if json.Unmarshal(data, &s) == nil {
		switch UsageOutcome(s) {
		case UsageOK, UsageAlreadyApplied:
			*r = ReportUsageResult{Outcome: UsageOutcome(s)}
			return nil
		}
		return fmt.Errorf("report usage result: unknown variant %q", s)
	}
	var m map[string]usageWire
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	if len(m) != 1 {
		return fmt.Errorf("report usage result: want one variant, got %d", len(m))
	}
	for tag, w := range m {
		out, err := fromWire(UsageOutcome(tag), w)
		if err != nil {
			return err
		}
		*r = out
	}
	return nil
}

func fromWire(kind UsageOutcome, w usageWire) (ReportUsageResult, error) {
	r := ReportUsageResult{Outcome: kind, Dimension: w.Dimension, CurrentUsage: w.CurrentUsage}
	switch kind {
	case UsageOK, UsageAlreadyApplied:
		return ReportUsageResult{Outcome: kind}, nil
	case UsageSoftBreach:
		if w.SoftLimit != nil {
			r.Limit = *w.SoftLimit
		}
	case UsageHardBreach:
		if w.HardLimit != nil {
			r.Limit = *w.HardLimit
		}
	default:
		return ReportUsageResult{}, fmt.Errorf("unknown usage outcome %q", kind)
	}
	return r, nil
}

// encodeOutcome is the outcome_json stored for a dedup key.
func encodeOutcome(r ReportUsageResult) string {
	var buf []byte
	switch r.Outcome {
	case UsageSoftBreach, UsageHardBreach:
		w := r.wire()
		w.Kind = string(r.Outcome)
		buf, _ = json.Marshal(w)
	default:
		buf, _ = json.Marshal(map[string]string{"kind": string(r.Outcome)})
	}
	return string(buf)
}

// decodeOutcome reads a stored outcome_json. An empty object is upstream's
// placeholder for a report that never finished: AlreadyApplied.
func decodeOutcome(op, text string) (ReportUsageResult, error) {
	var w usageWire
	if err := json.Unmarshal([]byte(text), &w); err != nil {
		return ReportUsageResult{}, &Error{Kind: KindValidation, Op: op, Code: "corruption",
			Msg: "budget dedup outcome_json is invalid", Err: err}
	}
	if w.Kind == "" {
		return ReportUsageResult{Outcome: UsageAlreadyApplied}, nil
	}
	r, err := fromWire(UsageOutcome(w.Kind), w)
	if err != nil {
		return ReportUsageResult{}, &Error{Kind: KindValidation, Op: op, Code: "corruption",
			Msg: "budget dedup outcome_json: " + err.Error()}
	}
	return r, nil
}

// ReportUsage records usage against a budget (route 24), all or nothing:
//   - For each dimension (in name order) it computes current + delta; if
//     any exceeds its hard limit (> 0) nothing is incremented,
//     breach_count is bumped, last_breach_at/dim are set and the result is
//     HardBreach with the usage before the increment.
//   - Otherwise every increment is applied; the first dimension (in name
//     order) now above its soft limit (> 0) gives SoftBreach with the usage
//     after the increment and bumps soft_breach_count; else Ok.
//   - A budget without a policy row has no limits: increments apply, Ok.
//   - With a DedupKey, a repeat within 24 h returns the first call's
//     outcome without applying anything (AlreadyApplied when the stored
//     outcome is upstream's unfinished placeholder); an expired key is
//     used afresh.
func (b *Backend) ReportUsage(ctx context.Context, budgetID string, a ReportUsageArgs) (ReportUsageResult, error) {
	const op = "report_usage"
	if err := checkIdent(op, "budget_id", budgetID); err != nil {
		return ReportUsageResult{}, err
	}
	dims := make([]string, 0, len(a.Dimensions))
	for d := range a.Dimensions {
		if err := checkIdent(op, "dimension", d); err != nil {
			return ReportUsageResult{}, err
		}
		dims = append(dims, d)
	}
	slices.Sort(dims)
	var res ReportUsageResult
	err := b.write(ctx, op, func(tx *wtx) error {
		var err error
		res, err = reportUsageTx(ctx, tx, op, b.Now(), budgetID, dims, a)
		return err
	})
	return res, err
}

func reportUsageTx(ctx context.Context, tx *wtx, op string, now int64, budgetID string, dims []string, a ReportUsageArgs) (ReportUsageResult, error) {
	if a.DedupKey != "" {
		var text string
		var expires int64
		err := tx.QueryRowContext(ctx, `SELECT outcome_json, expires_at_ms FROM ff_budget_usage_dedup
			WHERE partition_key = ? AND dedup_key = ?`, budgetPartition, a.DedupKey).Scan(&text, &expires)
		switch {
		case err == nil && expires > now:
			return decodeOutcome(op, text)
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return ReportUsageResult{}, err
		}
	}

	var pol codec.BudgetPolicy
	var policyText string
	err := tx.QueryRowContext(ctx, `SELECT policy_json FROM ff_budget_policy WHERE partition_key = ? AND budget_id = ?`,
		budgetPartition, budgetID).Scan(&policyText)
	hasPolicy := err == nil
	switch {
	case hasPolicy:
		if pol, err = decodeBudgetPolicy(op, budgetID, policyText); err != nil {
			return ReportUsageResult{}, err
		}
	case errors.Is(err, sql.ErrNoRows): // no policy: unlimited
	default:
		return ReportUsageResult{}, err
	}

	// Admission: read every dimension before writing any.
	newVals := make([]uint64, len(dims))
	res := ReportUsageResult{Outcome: UsageOK}
	for i, d := range dims {
		var cur int64
		err := tx.QueryRowContext(ctx, `SELECT current_value FROM ff_budget_usage
			WHERE partition_key = ? AND budget_id = ? AND dimensions_key = ?`, budgetPartition, budgetID, d).Scan(&cur)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return ReportUsageResult{}, err
		}
		c := uint64(max(cur, 0))
		nv := c + a.Dimensions[d]
		if nv < c || nv > math.MaxInt64 { // saturate at the column's range
			nv = math.MaxInt64
		}
		newVals[i] = nv
		if hard := pol.HardLimits[d]; hard > 0 && nv > hard {
			if _, err := tx.ExecContext(ctx, `UPDATE ff_budget_policy
				SET breach_count = breach_count + 1, last_breach_at_ms = ?, last_breach_dim = ?, updated_at_ms = ?
				WHERE partition_key = ? AND budget_id = ?`, now, d, now, budgetPartition, budgetID); err != nil {
				return ReportUsageResult{}, err
			}
			res = ReportUsageResult{Outcome: UsageHardBreach, Dimension: d, CurrentUsage: c, Limit: hard}
			return res, finishDedup(ctx, tx, now, a.DedupKey, res)
		}
	}

	for i, d := range dims {
		if _, err := tx.ExecContext(ctx, `INSERT INTO ff_budget_usage
			(partition_key, budget_id, dimensions_key, current_value, updated_at_ms) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (partition_key, budget_id, dimensions_key)
			DO UPDATE SET current_value = excluded.current_value, updated_at_ms = excluded.updated_at_ms`,
			budgetPartition, budgetID, d, int64(newVals[i]), now); err != nil {
			return ReportUsageResult{}, err
		}
		if soft := pol.SoftLimits[d]; res.Outcome == UsageOK && soft > 0 && newVals[i] > soft {
			res = ReportUsageResult{Outcome: UsageSoftBreach, Dimension: d, CurrentUsage: newVals[i], Limit: soft}
		}
	}
	if res.Outcome == UsageSoftBreach && hasPolicy {
		if _, err := tx.ExecContext(ctx, `UPDATE ff_budget_policy
			SET soft_breach_count = soft_breach_count + 1, updated_at_ms = ?
			WHERE partition_key = ? AND budget_id = ?`, now, budgetPartition, budgetID); err != nil {
			return ReportUsageResult{}, err
		}
	}
	return res, finishDedup(ctx, tx, now, a.DedupKey, res)
}

// finishDedup stores the outcome under the dedup key (replacing an
// expired entry).
func finishDedup(ctx context.Context, tx *wtx, now int64, key string, res ReportUsageResult) error {
	if key == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO ff_budget_usage_dedup
		(partition_key, dedup_key, outcome_json, applied_at_ms, expires_at_ms) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (partition_key, dedup_key) DO UPDATE SET
			outcome_json = excluded.outcome_json, applied_at_ms = excluded.applied_at_ms,
			expires_at_ms = excluded.expires_at_ms`,
		budgetPartition, key, encodeOutcome(res), now, now+BudgetDedupTTLMS)
	return err
}
