package inspect

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/ffsqlite/ffsqlite/internal/codec"
)

// WorkerList is `inspect workers`.
type WorkerList struct {
	Workers []WorkerRow `json:"workers"`
}

// WorkerRow is one registered worker instance.
type WorkerRow struct {
	Namespace        string   `json:"namespace"`
	WorkerInstanceID string   `json:"worker_instance_id"`
	WorkerID         string   `json:"worker_id"`
	Lanes            []string `json:"lanes"`
	Capabilities     []string `json:"capabilities"`
	LastHeartbeatMS  int64    `json:"last_heartbeat_ms"`
	LivenessTTLMS    int64    `json:"liveness_ttl_ms"`
	RegisteredAtMS   int64    `json:"registered_at_ms"`
	// ExpiresAtMS is last_heartbeat_ms + liveness_ttl_ms.
	ExpiresAtMS int64 `json:"expires_at_ms"`
	// Status is "alive" (ExpiresAtMS > now) or "expired".
	Status string `json:"status"`
	// ActiveLeases counts attempts this instance holds a lease on.
	ActiveLeases int64 `json:"active_leases"`
}

// Workers lists registered workers by namespace and instance id.
func Workers(ctx context.Context, db *sql.DB, now int64) (*WorkerList, error) {
	cat, err := loadCatalog(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := cat.need("ff_worker_registry", "ff_attempt"); err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT w.namespace, w.worker_instance_id, w.worker_id, w.lanes, w.capabilities_csv,
		w.last_heartbeat_ms, w.liveness_ttl_ms, w.registered_at_ms, coalesce(l.n, 0)
		FROM ff_worker_registry AS w LEFT JOIN (
			SELECT worker_instance_id AS inst, count(*) AS n FROM ff_attempt
			WHERE lease_expires_at_ms IS NOT NULL GROUP BY worker_instance_id
		) AS l ON l.inst = w.worker_instance_id
		ORDER BY w.namespace, w.worker_instance_id`)
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	defer rows.Close()
	out := &WorkerList{Workers: []WorkerRow{}}
	for rows.Next() {
		var r WorkerRow
		var lanes, caps string
		if err := rows.Scan(&r.Namespace, &r.WorkerInstanceID, &r.WorkerID, &lanes, &caps, &r.LastHeartbeatMS,
			&r.LivenessTTLMS, &r.RegisteredAtMS, &r.ActiveLeases); err != nil {
			return nil, err
		}
		r.Lanes, r.Capabilities = codec.SplitSet(lanes), codec.SplitSet(caps)
		r.ExpiresAtMS = r.LastHeartbeatMS + r.LivenessTTLMS
		r.Status = "alive"
		if r.ExpiresAtMS <= now {
			r.Status = "expired"
		}
		out.Workers = append(out.Workers, r)
	}
	return out, rows.Err()
}
