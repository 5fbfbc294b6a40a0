package inspect

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/ffsqlite/ffsqlite/internal/codec"
)

// BudgetList is `inspect budgets`.
type BudgetList struct {
	Budgets []BudgetRow `json:"budgets"`
}

// BudgetRow is one budget policy with its usage.
type BudgetRow struct {
	ID              string `json:"id"`
	PartitionKey    int64  `json:"partition_key"`
	ScopeType       string `json:"scope_type"`
	ScopeID         string `json:"scope_id"`
	EnforcementMode string `json:"enforcement_mode"`
	// HardLimits and SoftLimits are the policy's per-dimension limits (0 =
	// unlimited).
	HardLimits      map[string]int64 `json:"hard_limits"`
	SoftLimits      map[string]int64 `json:"soft_limits"`
	ResetIntervalMS *int64           `json:"reset_interval_ms"`
	// Usage is the current value per dimension (ff_budget_usage).
	Usage           map[string]int64 `json:"usage"`
	BreachCount     int64            `json:"breach_count"`
	SoftBreachCount int64            `json:"soft_breach_count"`
	LastBreachAtMS  *int64           `json:"last_breach_at_ms"`
	LastBreachDim   *string          `json:"last_breach_dim"`
	NextResetAtMS   *int64           `json:"next_reset_at_ms"`
	// ResetDue is set when next_reset_at_ms <= now.
	ResetDue bool `json:"reset_due"`
	// Status is "breach" (a hard breach recorded since the last reset),
	// "soft_breach" (some dimension's usage above its soft limit) or "ok".
	Status      string `json:"status"`
	CreatedAtMS int64  `json:"created_at_ms"`
	UpdatedAtMS int64  `json:"updated_at_ms"`
}

// BudgetDetail is `inspect budget ID`.
type BudgetDetail struct {
	BudgetRow
	// Dimensions has one entry per dimension in the limits or the usage,
	// sorted by name.
	Dimensions []BudgetDimension `json:"dimensions"`
	// TopExecutions are the executions with the largest attributed spend
	// (ff_budget_usage_by_exec), at most 10.
	TopExecutions []BudgetSpend `json:"top_executions"`
}

// BudgetDimension is usage against limits in one dimension.
type BudgetDimension struct {
	Name  string `json:"name"`
	Usage int64  `json:"usage"`
	// Hard and Soft are null when the dimension has no such limit.
	Hard *int64 `json:"hard"`
	Soft *int64 `json:"soft"`
	// Status is "at_hard" (usage >= hard), "over_soft" (usage > soft) or
	// "ok".
	Status        string `json:"status"`
	LastResetAtMS *int64 `json:"last_reset_at_ms"`
	UpdatedAtMS   *int64 `json:"updated_at_ms"`
}

// BudgetSpend is one execution's attributed spend in one dimension.
type BudgetSpend struct {
	ExecutionID string `json:"execution_id"`
	Dimension   string `json:"dimension"`
	Total       int64  `json:"total"`
}

// limits converts the engine's decoded limits to the report's int64 map;
// a limit above the int64 range (never written by ffsqlite) shows as the
// int64 maximum.
func limits(m map[string]uint64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = int64(min(v, math.MaxInt64))
	}
	return out
}

// Budgets lists every budget, by id.
func Budgets(ctx context.Context, db *sql.DB, now int64) (*BudgetList, error) {
	rows, err := readBudgets(ctx, db, now, "")
	if err != nil {
		return nil, err
	}
	return &BudgetList{Budgets: rows}, nil
}

func readBudgets(ctx context.Context, db *sql.DB, now int64, id string) ([]BudgetRow, error) {
	cat, err := loadCatalog(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := cat.need("ff_budget_policy", "ff_budget_usage"); err != nil {
		return nil, err
	}
	t := "ff_budget_policy"
	c := func(col string) string { return cat.col(t, col) }
	where, args := "", []any{}
	if id != "" {
		where, args = " WHERE budget_id = ?", []any{id}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(`SELECT partition_key, budget_id, policy_json, created_at_ms, updated_at_ms,
		%s, %s, %s, %s, %s, %s, %s, %s FROM ff_budget_policy%s ORDER BY budget_id, partition_key`,
		c("scope_type"), c("scope_id"), c("enforcement_mode"), c("breach_count"), c("soft_breach_count"),
		c("last_breach_at_ms"), c("last_breach_dim"), c("next_reset_at_ms"), where), args...)
	if err != nil {
		return nil, fmt.Errorf("list budgets: %w", err)
	}
	out := []BudgetRow{}
	for rows.Next() {
		var r BudgetRow
		var policy string
		var scopeT, scopeI, mode, dim sql.NullString
		var breaches, soft, last, next sql.NullInt64
		if err := rows.Scan(&r.PartitionKey, &r.ID, &policy, &r.CreatedAtMS, &r.UpdatedAtMS, &scopeT, &scopeI, &mode,
			&breaches, &soft, &last, &dim, &next); err != nil {
			rows.Close()
			return nil, err
		}
		r.ScopeType, r.ScopeID, r.EnforcementMode = scopeT.String, scopeI.String, mode.String
		r.BreachCount, r.SoftBreachCount = breaches.Int64, soft.Int64
		r.LastBreachAtMS, r.LastBreachDim, r.NextResetAtMS = nullInt(last), nullStr(dim), nullInt(next)
		r.ResetDue = r.NextResetAtMS != nil && *r.NextResetAtMS <= now
		p, _ := codec.DecodeBudgetPolicy(policy) // not an object: no limits, as shown before
		r.HardLimits, r.SoftLimits = limits(p.HardLimits), limits(p.SoftLimits)
		if p.HasResetInterval {
			n := p.ResetIntervalMS
			r.ResetIntervalMS = &n
		}
		r.Usage = map[string]int64{}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		r := &out[i]
		urows, err := tx.QueryContext(ctx, "SELECT dimensions_key, current_value FROM ff_budget_usage WHERE partition_key = ? AND budget_id = ?", r.PartitionKey, r.ID)
		if err != nil {
			return nil, fmt.Errorf("read budget usage: %w", err)
		}
		for urows.Next() {
			var k string
			var v int64
			if err := urows.Scan(&k, &v); err != nil {
				urows.Close()
				return nil, err
			}
			r.Usage[k] = v
		}
		urows.Close()
		if err := urows.Err(); err != nil {
			return nil, err
		}
		r.Status = "ok"
		for k, v := range r.Usage {
			if s := r.SoftLimits[k]; s > 0 && v > s {
				r.Status = "soft_breach"
			}
		}
		if r.LastBreachAtMS != nil {
			r.Status = "breach"
		}
	}
	return out, nil
}

// DimensionStatus is one dimension's usage against its limits (0 =
// unlimited): "at_hard" at or over the hard limit, "over_soft" past the
// soft limit, else "ok". The dashboard marks breaches with it.
func DimensionStatus(usage, hard, soft int64) string {
	switch {
	case hard > 0 && usage >= hard:
		return "at_hard"
	case soft > 0 && usage > soft:
		return "over_soft"
	}
	return "ok"
}

// Budget reads one budget with per-dimension usage against its limits.
func Budget(ctx context.Context, db *sql.DB, id string, now int64) (*BudgetDetail, error) {
	rows, err := readBudgets(ctx, db, now, id)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, &NotFoundError{What: "budget", ID: id}
	}
	d := &BudgetDetail{BudgetRow: rows[0], Dimensions: []BudgetDimension{}, TopExecutions: []BudgetSpend{}}
	names := slices.Collect(maps.Keys(d.Usage))
	for _, m := range []map[string]int64{d.HardLimits, d.SoftLimits} {
		for k := range m {
			if !slices.Contains(names, k) {
				names = append(names, k)
			}
		}
	}
	slices.Sort(names)
	for _, n := range names {
		dim := BudgetDimension{Name: n, Usage: d.Usage[n], Status: "ok"}
		if v, ok := d.HardLimits[n]; ok && v > 0 {
			dim.Hard = &v
		}
		if v, ok := d.SoftLimits[n]; ok && v > 0 {
			dim.Soft = &v
		}
		dim.Status = DimensionStatus(dim.Usage, d.HardLimits[n], d.SoftLimits[n])
		var reset, upd sql.NullInt64
		err := db.QueryRowContext(ctx, "SELECT last_reset_at_ms, updated_at_ms FROM ff_budget_usage WHERE partition_key = ? AND budget_id = ? AND dimensions_key = ?",
			d.PartitionKey, d.ID, n).Scan(&reset, &upd)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("read budget usage: %w", err)
		}
		dim.LastResetAtMS, dim.UpdatedAtMS = nullInt(reset), nullInt(upd)
		d.Dimensions = append(d.Dimensions, dim)
	}
	cat, err := loadCatalog(ctx, db)
	if err != nil {
		return nil, err
	}
	if cat.has("ff_budget_usage_by_exec") {
		rows, err := db.QueryContext(ctx, `SELECT execution_id, dimensions_key, delta_total FROM ff_budget_usage_by_exec
			WHERE partition_key = ? AND budget_id = ? ORDER BY delta_total DESC, execution_id, dimensions_key LIMIT 10`, d.PartitionKey, d.ID)
		if err != nil {
			return nil, fmt.Errorf("read budget spend: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var s BudgetSpend
			if err := rows.Scan(&s.ExecutionID, &s.Dimension, &s.Total); err != nil {
				return nil, err
			}
			d.TopExecutions = append(d.TopExecutions, s)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return d, nil
}
