package inspect

import (
	"context"
	"database/sql"
	"fmt"
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
	ActiveConcurrency        int64  `json:"active_concurrency"`
	// AdmittedInWindow counts admissions in the sliding window ending now
	// (admitted_at_ms > now - window).
	AdmittedInWindow int64 `json:"admitted_in_window"`
	// AdmittedLive counts admitted markers not yet expired.
	AdmittedLive int64 `json:"admitted_live"`
	// Status is "rate_limited" (window full), "concurrency_limited" (cap
	// reached) or "ok"; limits of 0 are unlimited.
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
	rows, err := db.QueryContext(ctx, `SELECT p.partition_key, p.quota_policy_id, p.requests_per_window_seconds,
		p.max_requests_per_window, p.active_concurrency_cap, p.active_concurrency, p.created_at_ms, p.updated_at_ms,
		(SELECT count(*) FROM ff_quota_window AS w WHERE w.partition_key = p.partition_key AND w.quota_policy_id = p.quota_policy_id
			AND w.admitted_at_ms > ?1 - p.requests_per_window_seconds * 1000),
		(SELECT count(*) FROM ff_quota_admitted AS a WHERE a.partition_key = p.partition_key AND a.quota_policy_id = p.quota_policy_id
			AND a.expires_at_ms > ?1)
		FROM ff_quota_policy AS p ORDER BY p.quota_policy_id, p.partition_key`, now)
	if err != nil {
		return nil, fmt.Errorf("list quotas: %w", err)
	}
	defer rows.Close()
	out := &QuotaList{Quotas: []QuotaRow{}}
	for rows.Next() {
		var r QuotaRow
		if err := rows.Scan(&r.PartitionKey, &r.ID, &r.RequestsPerWindowSeconds, &r.MaxRequestsPerWindow, &r.ActiveConcurrencyCap,
			&r.ActiveConcurrency, &r.CreatedAtMS, &r.UpdatedAtMS, &r.AdmittedInWindow, &r.AdmittedLive); err != nil {
			return nil, err
		}
		r.Status = "ok"
		switch {
		case r.MaxRequestsPerWindow > 0 && r.AdmittedInWindow >= r.MaxRequestsPerWindow:
			r.Status = "rate_limited"
		case r.ActiveConcurrencyCap > 0 && r.ActiveConcurrency >= r.ActiveConcurrencyCap:
			r.Status = "concurrency_limited"
		}
		out.Quotas = append(out.Quotas, r)
	}
	return out, rows.Err()
}
