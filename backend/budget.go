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

// Budgets (server-api.md §4.10, routes 22–25). A budget is one
// ff_budget_policy row plus one ff_budget_usage row per dimension; see
// docs/storage.md for the policy_json shape. Every write runs in one
// BEGIN IMMEDIATE transaction through write. The engine clock (b.Now) is
// authoritative: the Now fields of the argument structs exist for wire
// parity and are ignored, as upstream's SQLite backend ignores them for
// usage reports.

// budgetPartition is the partition_key of every budget ffsqlite writes:
// ff_partition_config seeds one budget partition, so every budget id maps
// to partition 0. Lookups by id use it; the reset reconciler still
// enumerates every partition present in its index.
const budgetPartition = 0

// BudgetDedupTTLMS is how long a usage report's dedup key replays its
// first outcome (24 h, as upstream).
const BudgetDedupTTLMS = 24 * 60 * 60 * 1000

// DefaultBudgetResetBatch is how many due budgets one reconciler tick
// resets at most (upstream's and Postgres's batch size).
const DefaultBudgetResetBatch = 20

// CreateBudgetArgs is route 22's body. Dimensions, HardLimits and
// SoftLimits are parallel arrays of equal length; a limit of 0 means
// unlimited; ResetIntervalMS 0 means never reset.
type CreateBudgetArgs struct {
	BudgetID        string   `json:"budget_id"`
	ScopeType       string   `json:"scope_type"`
	ScopeID         string   `json:"scope_id"`
	EnforcementMode string   `json:"enforcement_mode"`
	OnHardLimit     string   `json:"on_hard_limit"`
	OnSoftLimit     string   `json:"on_soft_limit"`
	ResetIntervalMS uint64   `json:"reset_interval_ms"`
	Dimensions      []string `json:"dimensions"`
	HardLimits      []uint64 `json:"hard_limits"`
	SoftLimits      []uint64 `json:"soft_limits"`
	Now             int64    `json:"now"` // ignored: the engine clock is authoritative
}

// CreateBudgetResult is route 22's answer: {"Created":{"budget_id"}} for a
// new budget, {"AlreadySatisfied":{"budget_id"}} when the id existed (the
// stored policy is left as it was).
type CreateBudgetResult struct {
	Created  bool
	BudgetID string
}

type budgetIDBody struct {
	BudgetID string `json:"budget_id"`
}

// MarshalJSON renders the externally tagged wire shape.
func (r CreateBudgetResult) MarshalJSON() ([]byte, error) {
	tag := "AlreadySatisfied"
	if r.Created {
		tag = "Created"
	}
	return json.Marshal(map[string]budgetIDBody{tag: {BudgetID: r.BudgetID}})
}

// UnmarshalJSON parses the externally tagged wire shape.
func (r *CreateBudgetResult) UnmarshalJSON(data []byte) error {
	var m map[string]budgetIDBody
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	if len(m) != 1 {
		return fmt.Errorf("create budget result: want one variant, got %d", len(m))
	}
	for tag, body := range m {
		switch tag {
		case "Created", "AlreadySatisfied":
			*r = CreateBudgetResult{Created: tag == "Created", BudgetID: body.BudgetID}
		default:
			return fmt.Errorf("create budget result: unknown variant %q", tag)
		}
	}
	return nil
}

// ResetBudgetResult is route 25's answer: {"Reset":{"next_reset_at":ms}},
// with 0 when the budget has no reset interval.
type ResetBudgetResult struct {
	NextResetAt int64
}

type resetBody struct {
	NextResetAt int64 `json:"next_reset_at"`
}

// MarshalJSON renders the externally tagged wire shape.
func (r ResetBudgetResult) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]resetBody{"Reset": {NextResetAt: r.NextResetAt}})
}

// UnmarshalJSON parses the externally tagged wire shape.
func (r *ResetBudgetResult) UnmarshalJSON(data []byte) error {
	var m map[string]resetBody
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	body, ok := m["Reset"]
	if !ok || len(m) != 1 {
		return errors.New(`reset budget result: want {"Reset":{…}}`)
	}
	r.NextResetAt = body.NextResetAt
	return nil
}

// BudgetStatus is route 23's answer. Timestamps are strings on the wire
// (null when unset), as upstream renders them. The fields tagged "-" are
// extras for Go callers (inspect) and are not part of the wire shape.
type BudgetStatus struct {
	BudgetID        string            `json:"budget_id"`
	ScopeType       string            `json:"scope_type"`
	ScopeID         string            `json:"scope_id"`
	EnforcementMode string            `json:"enforcement_mode"`
	Usage           map[string]uint64 `json:"usage"`
	HardLimits      map[string]uint64 `json:"hard_limits"`
	SoftLimits      map[string]uint64 `json:"soft_limits"`
	BreachCount     uint64            `json:"breach_count"`
	SoftBreachCount uint64            `json:"soft_breach_count"`
	LastBreachAt    *int64            `json:"last_breach_at,string"`
	LastBreachDim   *string           `json:"last_breach_dim"`
	NextResetAt     *int64            `json:"next_reset_at,string"`
	CreatedAt       *int64            `json:"created_at,string"`

	ResetIntervalMS uint64 `json:"-"`
	OnHardLimit     string `json:"-"`
	OnSoftLimit     string `json:"-"`
	UpdatedAt       int64  `json:"-"`
}

// encodeBudgetPolicy builds policy_json from create arguments.
func encodeBudgetPolicy(a CreateBudgetArgs) (string, error) {
	p := codec.BudgetPolicy{
		HardLimits: make(map[string]uint64, len(a.Dimensions)), SoftLimits: make(map[string]uint64, len(a.Dimensions)),
		ResetIntervalMS: int64(a.ResetIntervalMS), OnHardLimit: a.OnHardLimit, OnSoftLimit: a.OnSoftLimit,
	}
	for i, d := range a.Dimensions {
		p.HardLimits[d] = a.HardLimits[i]
		p.SoftLimits[d] = a.SoftLimits[i]
	}
	return codec.EncodeBudgetPolicy(p)
}

// decodeBudgetPolicy parses a budget's stored policy_json (codec's rules);
// text that is not a JSON object is corrupt: a KindValidation error with
// code invalid_policy_json.
func decodeBudgetPolicy(op, budgetID, text string) (codec.BudgetPolicy, error) {
	p, err := codec.DecodeBudgetPolicy(text)
	if err != nil {
		return p, &Error{Kind: KindValidation, Op: op, Code: "invalid_policy_json",
			Msg: fmt.Sprintf("budget %s: stored policy_json is invalid", budgetID), Err: err}
	}
	return p, nil
}

// budgetNextReset is the schedule after a create or reset at now.
func budgetNextReset(now, intervalMS int64) sql.NullInt64 {
	if intervalMS <= 0 {
		return sql.NullInt64{}
	}
	if now > math.MaxInt64-intervalMS {
		return sql.NullInt64{Int64: math.MaxInt64, Valid: true}
	}
	return sql.NullInt64{Int64: now + intervalMS, Valid: true}
}

// CreateBudget creates a budget; an existing id is left untouched and
// reported as AlreadySatisfied. The first reset is scheduled at
// now + reset_interval_ms (none when the interval is 0).
func (b *Backend) CreateBudget(ctx context.Context, a CreateBudgetArgs) (CreateBudgetResult, error) {
	const op = "create_budget"
	policy, err := prepareCreateBudget(op, a)
	if err != nil {
		return CreateBudgetResult{}, err
	}
	var res CreateBudgetResult
	err = b.write(ctx, op, func(w *wtx) error {
		var err error
		res, err = createBudgetTx(ctx, w.Txn, b.Now(), a, policy)
		return err
	})
	return res, err
}

// prepareCreateBudget validates route 22's body and returns its
// policy_json.
func prepareCreateBudget(op string, a CreateBudgetArgs) (string, error) {
	if err := checkIdent(op, "budget_id", a.BudgetID); err != nil {
		return "", err
	}
	if len(a.Dimensions) != len(a.HardLimits) || len(a.Dimensions) != len(a.SoftLimits) {
		return "", validation(op, "invalid_input",
			"dimensions / hard_limits / soft_limits length mismatch (%d / %d / %d)",
			len(a.Dimensions), len(a.HardLimits), len(a.SoftLimits))
	}
	seen := make(map[string]bool, len(a.Dimensions))
	for _, d := range a.Dimensions {
		if err := checkIdent(op, "dimension", d); err != nil {
			return "", err
		}
		if seen[d] {
			return "", validation(op, "invalid_input", "dimension %q listed twice", d)
		}
		seen[d] = true
	}
	if a.ResetIntervalMS > math.MaxInt64 {
		return "", validation(op, "invalid_input", "reset_interval_ms: out of range")
	}
	return encodeBudgetPolicy(a)
}

// createBudgetTx inserts a prepared budget inside tx at the engine time now.
func createBudgetTx(ctx context.Context, tx *Txn, now int64, a CreateBudgetArgs, policy string) (CreateBudgetResult, error) {
	res := CreateBudgetResult{BudgetID: a.BudgetID}
	r, err := tx.ExecContext(ctx, `INSERT INTO ff_budget_policy
		(partition_key, budget_id, policy_json, scope_type, scope_id, enforcement_mode,
		 breach_count, soft_breach_count, last_breach_at_ms, last_breach_dim, next_reset_at_ms,
		 created_at_ms, updated_at_ms)
		VALUES (?, ?, ?, ?, ?, ?, 0, 0, NULL, NULL, ?, ?, ?)
		ON CONFLICT (partition_key, budget_id) DO NOTHING`,
		budgetPartition, a.BudgetID, policy, a.ScopeType, a.ScopeID, a.EnforcementMode,
		budgetNextReset(now, int64(a.ResetIntervalMS)), now, now)
	if err != nil {
		return res, err
	}
	n, err := r.RowsAffected()
	res.Created = n == 1
	return res, err
}

// ResetBudget is the admin reset (route 25): it zeroes every usage
// dimension, clears the last-breach fields and schedules the next reset at
// now + interval, whether or not a reset was due. Lifetime breach counters
// are kept. It shares resetBudgetTx with the reconciler.
func (b *Backend) ResetBudget(ctx context.Context, budgetID string) (ResetBudgetResult, error) {
	const op = "reset_budget"
	if err := checkIdent(op, "budget_id", budgetID); err != nil {
		return ResetBudgetResult{}, err
	}
	var res ResetBudgetResult
	err := b.write(ctx, op, func(tx *wtx) error {
		_, next, err := resetBudgetTx(ctx, tx, op, budgetPartition, budgetID, b.Now(), false)
		res.NextResetAt = next.Int64 // 0 when NULL
		return err
	})
	return res, err
}

// resetBudgetTx is the one reset of a budget, run inside the caller's
// BEGIN IMMEDIATE transaction. With onlyIfDue (the reconciler) it re-reads
// the schedule and does nothing unless next_reset_at_ms is set and <= now,
// so a concurrent admin reset that already moved the schedule, or a
// schedule cleared to NULL, is not reset twice; a missing row is then a
// no-op. Without it (admin) a missing row is NotFound. It reports whether
// it reset and the new schedule.
func resetBudgetTx(ctx context.Context, tx *wtx, op string, part int64, budgetID string, now int64, onlyIfDue bool) (bool, sql.NullInt64, error) {
	var policyText string
	var due sql.NullInt64
	err := tx.QueryRowContext(ctx,
		`SELECT policy_json, next_reset_at_ms FROM ff_budget_policy WHERE partition_key = ? AND budget_id = ?`,
		part, budgetID).Scan(&policyText, &due)
	if errors.Is(err, sql.ErrNoRows) {
		if onlyIfDue {
			return false, sql.NullInt64{}, nil
		}
		return false, sql.NullInt64{}, notFound(op, "budget")
	}
	if err != nil {
		return false, sql.NullInt64{}, err
	}
	if onlyIfDue && (!due.Valid || due.Int64 > now) {
		return false, due, nil
	}
	pol, err := decodeBudgetPolicy(op, budgetID, policyText)
	if err != nil {
		return false, sql.NullInt64{}, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE ff_budget_usage
		SET current_value = 0, last_reset_at_ms = ?, updated_at_ms = ?
		WHERE partition_key = ? AND budget_id = ?`, now, now, part, budgetID); err != nil {
		return false, sql.NullInt64{}, err
	}
	next := budgetNextReset(now, pol.ResetIntervalMS)
	if _, err := tx.ExecContext(ctx, `UPDATE ff_budget_policy
		SET last_breach_at_ms = NULL, last_breach_dim = NULL, updated_at_ms = ?, next_reset_at_ms = ?
		WHERE partition_key = ? AND budget_id = ?`, now, next, part, budgetID); err != nil {
		return false, sql.NullInt64{}, err
	}
	return true, next, nil
}

// GetBudgetStatus reads a budget (route 23). Unknown ids are NotFound
// with code "budget".
func (b *Backend) GetBudgetStatus(ctx context.Context, budgetID string) (BudgetStatus, error) {
	const op = "get_budget_status"
	if err := checkIdent(op, "budget_id", budgetID); err != nil {
		return BudgetStatus{}, err
	}
	// One read transaction so the policy and usage rows are one snapshot.
	tx, err := b.in.reader.BeginTx(ctx, nil)
	if err != nil {
		return BudgetStatus{}, transport(op, err)
	}
	defer tx.Rollback()
	st := BudgetStatus{BudgetID: budgetID, Usage: map[string]uint64{}}
	var (
		policyText           string
		breach, softBreach   int64
		lastAt, nextAt       sql.NullInt64
		lastDim              sql.NullString
		createdAt, updatedAt int64
	)
	err = tx.QueryRowContext(ctx, `SELECT scope_type, scope_id, enforcement_mode, breach_count, soft_breach_count,
			last_breach_at_ms, last_breach_dim, next_reset_at_ms, created_at_ms, updated_at_ms, policy_json
		FROM ff_budget_policy WHERE partition_key = ? AND budget_id = ?`, budgetPartition, budgetID).
		Scan(&st.ScopeType, &st.ScopeID, &st.EnforcementMode, &breach, &softBreach,
			&lastAt, &lastDim, &nextAt, &createdAt, &updatedAt, &policyText)
	if errors.Is(err, sql.ErrNoRows) {
		return BudgetStatus{}, notFound(op, "budget")
	}
	if err != nil {
		return BudgetStatus{}, transport(op, err)
	}
	pol, err := decodeBudgetPolicy(op, budgetID, policyText)
	if err != nil {
		return BudgetStatus{}, err
	}
	st.HardLimits, st.SoftLimits = pol.HardLimits, pol.SoftLimits
	st.ResetIntervalMS = uint64(max(pol.ResetIntervalMS, 0))
	st.OnHardLimit, st.OnSoftLimit = pol.OnHardLimit, pol.OnSoftLimit
	st.BreachCount, st.SoftBreachCount = uint64(max(breach, 0)), uint64(max(softBreach, 0))
	if lastAt.Valid {
		st.LastBreachAt = &lastAt.Int64
	}
	if lastDim.Valid {
		st.LastBreachDim = &lastDim.String
	}
	if nextAt.Valid {
		st.NextResetAt = &nextAt.Int64
	}
	st.CreatedAt = &createdAt
	st.UpdatedAt = updatedAt

	rows, err := tx.QueryContext(ctx, `SELECT dimensions_key, current_value FROM ff_budget_usage
		WHERE partition_key = ? AND budget_id = ?`, budgetPartition, budgetID)
	if err != nil {
		return BudgetStatus{}, transport(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var dim string
		var v int64
		if err := rows.Scan(&dim, &v); err != nil {
			return BudgetStatus{}, transport(op, err)
		}
		if dim == "_init" { // upstream's placeholder row, never a dimension
			continue
		}
		st.Usage[dim] = uint64(max(v, 0))
	}
	if err := rows.Err(); err != nil {
		return BudgetStatus{}, transport(op, err)
	}
	return st, nil
}

// dueBudget is one row of the reconciler's due list.
type dueBudget struct {
	part   int64
	id     string
	nextAt int64
}

// dueBudgets lists up to limit budgets whose next reset is at or before
// now, earliest first. It reads only ff_budget_policy_reset_due_idx: the
// partition keys present in the partial index are enumerated with a
// skip-scan (one index probe each), then each partition's due prefix is
// read in index order with the limit, and the per-partition lists are
// merged. The cost is O(partitions × limit × log n), not O(n).
func (b *Backend) dueBudgets(ctx context.Context, now int64, limit int) ([]dueBudget, error) {
	parts, err := b.budgetResetPartitions(ctx)
	if err != nil {
		return nil, err
	}
	var due []dueBudget
	for _, p := range parts {
		rows, err := b.in.reader.QueryContext(ctx, dueBudgetsSQL, p, now, limit)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			d := dueBudget{part: p}
			if err := rows.Scan(&d.id, &d.nextAt); err != nil {
				rows.Close()
				return nil, err
			}
			due = append(due, d)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	slices.SortStableFunc(due, func(x, y dueBudget) int {
		switch {
		case x.nextAt < y.nextAt:
			return -1
		case x.nextAt > y.nextAt:
			return 1
		}
		return 0
	})
	if len(due) > limit {
		due = due[:limit]
	}
	return due, nil
}

// dueBudgetsSQL reads one partition's due budgets through the partial
// index (partition_key, next_reset_at_ms) WHERE next_reset_at_ms IS NOT NULL.
const dueBudgetsSQL = `SELECT budget_id, next_reset_at_ms FROM ff_budget_policy
	WHERE partition_key = ? AND next_reset_at_ms IS NOT NULL AND next_reset_at_ms <= ?
	ORDER BY next_reset_at_ms ASC LIMIT ?`

// budgetPartitionsSQL lists the distinct partition keys of budgets with a
// schedule.
var budgetPartitionsSQL = `WITH RECURSIVE ` + budgetPartsCTE + ` SELECT p FROM bp WHERE p IS NOT NULL`

func (b *Backend) budgetResetPartitions(ctx context.Context) ([]int64, error) {
	rows, err := b.in.reader.QueryContext(ctx, budgetPartitionsSQL)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var parts []int64
	for rows.Next() {
		var k int64
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		parts = append(parts, k)
	}
	return parts, rows.Err()
}

// applyDueReset resets one budget if it is still due at now, in its own
// BEGIN IMMEDIATE transaction (with busy retry).
func (b *Backend) applyDueReset(ctx context.Context, d dueBudget, now int64) (bool, error) {
	const op = "budget_reset"
	var done bool
	err := b.write(ctx, op, func(tx *wtx) error {
		var err error
		done, _, err = resetBudgetTx(ctx, tx, op, d.part, d.id, now, true)
		return err
	})
	return done, err
}

// ResetDueBudgets is the budget-reset reconciler's tick (runtime.md §4.2):
// it selects up to limit budgets (DefaultBudgetResetBatch when limit <= 0)
// whose next_reset_at_ms <= nowMS, earliest first, and resets each in its
// own transaction after re-checking that it is still due. Processed counts
// budgets actually reset (a row an admin reset moved past now in the
// meantime is skipped, not counted). A failing budget is counted in
// Errors, logged as WARN "sqlite budget_reset reconciler: reset failed"
// with budget_id and error, and the batch goes on. Only a failure to read
// the due list fails the tick.
func (b *Backend) ResetDueBudgets(ctx context.Context, nowMS int64, limit int) (SweepReport, error) {
	if limit <= 0 {
		limit = DefaultBudgetResetBatch
	}
	var rep SweepReport
	due, err := b.dueBudgets(ctx, nowMS, limit)
	if err != nil {
		return rep, transport("budget_reset", err)
	}
	for _, d := range due {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		done, err := b.applyDueReset(ctx, d, nowMS)
		switch {
		case err != nil:
			rep.Errors++
			b.Logger().Warn("sqlite budget_reset reconciler: reset failed", "budget_id", d.id, "error", err)
		case done:
			rep.Processed++
		}
	}
	return rep, nil
}
