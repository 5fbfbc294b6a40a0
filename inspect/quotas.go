package inspect

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// QuotaList is `inspect quotas`.
type QuotaList struct {
	Quotas []QuotaRow `json:"quotas"`
}

// QuotaRow is one quota policy with its current window.
type QuotaRow struct {
	ID                       string `json:"id"`
	PartitionKey             int64  `json:"partition_key"`
	RequestsPerWindowSeconds int64  `json:"requests_per_window_seconds"`
	MaxRequestsPerWindow     int64  `json:"max_requests_per_window"`
	ActiveConcurrencyCap     int64  `json:"active_concurrency_cap"`
	// ActiveConcurrency is the stored counter (ffsqlite stores its count
	// at each admission and quota-unblock pass).
	ActiveConcurrency int64 `json:"active_concurrency"`
	// SlotsInUse is the current concurrency: admitted executions
	// (ff_quota_admitted) that are active now, the count ffsqlite's claim
	// admission checks against the cap.
	SlotsInUse int64 `json:"slots_in_use"`
	// Blocked counts the executions attached to the policy (ffsqlite's
	// policy.quota_policy_id) that it holds rate_limited.
	Blocked int64 `json:"blocked"`
	// AdmittedInWindow counts admissions in the sliding window ending now
	// (admitted_at_ms > now - window).
	AdmittedInWindow int64 `json:"admitted_in_window"`
	// AdmittedLive counts admitted markers not yet expired.
	AdmittedLive int64 `json:"admitted_live"`
	// RetryAfterMS, when the window is full, is how long until its oldest
	// admission slides out.
	RetryAfterMS *int64 `json:"retry_after_ms,omitempty"`
	// Status is "rate_limited" (window full), "concurrency_limited" (every
	// slot in use) or "ok"; limits of 0 are unlimited.
	Status      string `json:"status"`
	CreatedAtMS int64  `json:"created_at_ms"`
	UpdatedAtMS int64  `json:"updated_at_ms"`
}

// Quotas lists every quota policy, by id.
func Quotas(ctx context.Context, db *sql.DB, now int64) (*QuotaList, error) {
	cat, err := loadCatalog(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := cat.need("ff_quota_policy", "ff_quota_window", "ff_quota_admitted"); err != nil {
		return nil, err
	}
	// A slot is held by an admitted execution that is active, or waiting
	// (runnable) under a live claim grant (admitted at issue), as the
	// engine counts.
	slotHeld := `e.lifecycle_phase = 'active'`
	if cat.has("ff_claim_grant") {
		slotHeld = `(e.lifecycle_phase = 'active' OR (e.lifecycle_phase = 'runnable' AND EXISTS (SELECT 1 FROM ff_claim_grant AS g
			WHERE g.partition_key = e.partition_key AND g.execution_id = e.execution_id
			AND g.kind = 'claim' AND g.expires_at_ms > ?1)))`
	}
	blocked, err := quotaBlocked(ctx, db)
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT p.partition_key, p.quota_policy_id, p.requests_per_window_seconds,
		p.max_requests_per_window, p.active_concurrency_cap, p.active_concurrency, p.created_at_ms, p.updated_at_ms,
		(SELECT count(*) FROM ff_quota_window AS w WHERE w.partition_key = p.partition_key AND w.quota_policy_id = p.quota_policy_id
			AND w.admitted_at_ms > ?1 - p.requests_per_window_seconds * 1000),
		(SELECT min(w.admitted_at_ms) FROM ff_quota_window AS w WHERE w.partition_key = p.partition_key AND w.quota_policy_id = p.quota_policy_id
			AND w.admitted_at_ms > ?1 - p.requests_per_window_seconds * 1000),
		(SELECT count(*) FROM ff_quota_admitted AS a WHERE a.partition_key = p.partition_key AND a.quota_policy_id = p.quota_policy_id
			AND a.expires_at_ms > ?1),
		(SELECT count(*) FROM ff_quota_admitted AS a CROSS JOIN ff_exec_core AS e
			ON e.partition_key = CAST(substr(a.execution_id, 5, instr(a.execution_id, '}') - 5) AS INTEGER)
			AND e.execution_id = unhex(replace(substr(a.execution_id, instr(a.execution_id, '}:') + 2), '-', ''))
			WHERE a.partition_key = p.partition_key AND a.quota_policy_id = p.quota_policy_id AND `+slotHeld+`)
		FROM ff_quota_policy AS p ORDER BY p.quota_policy_id, p.partition_key`, now)
	if err != nil {
		return nil, fmt.Errorf("list quotas: %w", err)
	}
	defer rows.Close()
	out := &QuotaList{Quotas: []QuotaRow{}}
	for rows.Next() {
		var r QuotaRow
		var oldest sql.NullInt64
		if err := rows.Scan(&r.PartitionKey, &r.ID, &r.RequestsPerWindowSeconds, &r.MaxRequestsPerWindow, &r.ActiveConcurrencyCap,
			&r.ActiveConcurrency, &r.CreatedAtMS, &r.UpdatedAtMS, &r.AdmittedInWindow, &oldest, &r.AdmittedLive, &r.SlotsInUse); err != nil {
			return nil, err
		}
		r.Blocked = blocked[strings.ToLower(r.ID)]
		r.Status = "ok"
		switch {
		case r.MaxRequestsPerWindow > 0 && r.AdmittedInWindow >= r.MaxRequestsPerWindow:
			r.Status = "rate_limited"
			if oldest.Valid {
				after := max(oldest.Int64+r.RequestsPerWindowSeconds*1000-now, 0)
				r.RetryAfterMS = &after
			}
		case r.ActiveConcurrencyCap > 0 && r.SlotsInUse >= r.ActiveConcurrencyCap:
			r.Status = "concurrency_limited"
		}
		out.Quotas = append(out.Quotas, r)
	}
	return out, rows.Err()
}

// quotaBlocked counts the executions blocked by their quota, by the
// (lower-cased) quota id their policy names. It reads every execution's
// state (no index serves blocked_by_quota), once per report.
func quotaBlocked(ctx context.Context, db *sql.DB) (map[string]int64, error) {
	rows, err := db.QueryContext(ctx, `SELECT lower(json_extract(policy, '$.quota_policy_id')), count(*) FROM ff_exec_core
		WHERE eligibility_state = 'blocked_by_quota' AND json_valid(policy)
		  AND json_type(policy, '$.quota_policy_id') = 'text' GROUP BY 1`)
	if err != nil {
		return nil, fmt.Errorf("count quota-blocked executions: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}
