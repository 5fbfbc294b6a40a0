package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/google/uuid"
)

// Quota policies (route 26, engine-canonical.md §2.4). Creating one stores
// its limits and nothing else. Upstream never attaches a quota to an
// execution (C9), so over its REST API a quota is inert; ffsqlite's
// extension policy.quota_policy_id attaches one and the claim enforces it
// (quota_admission.go).

// quotaPartition is the partition_key of every quota policy ffsqlite
// writes: ff_partition_config seeds one quota partition, as for budgets.
const quotaPartition = 0

// CreateQuotaPolicyArgs is route 26's body; every field is required. A
// limit of 0 means unlimited (spec §4.11). Upstream validates nothing
// beyond the types: the id must be a UUID (a JSON decoding error, 422 over
// HTTP), and each number an unsigned integer. ffsqlite also refuses values
// above 2^63-1, which SQLite's INTEGER cannot hold.
type CreateQuotaPolicyArgs struct {
	QuotaPolicyID        uuid.UUID `json:"quota_policy_id"`
	WindowSeconds        uint64    `json:"window_seconds"`
	MaxRequestsPerWindow uint64    `json:"max_requests_per_window"`
	MaxConcurrent        uint64    `json:"max_concurrent"`
	Now                  int64     `json:"now"` // ignored: the engine clock is authoritative
}

// CreateQuotaPolicyResult is route 26's answer: {"Created":{"quota_policy_id"}}
// for a new policy, {"AlreadySatisfied":{"quota_policy_id"}} when the id
// existed (its stored limits are left as they were).
type CreateQuotaPolicyResult struct {
	Created       bool
	QuotaPolicyID uuid.UUID
}

type quotaIDBody struct {
	QuotaPolicyID uuid.UUID `json:"quota_policy_id"`
}

// MarshalJSON renders the externally tagged wire shape.
func (r CreateQuotaPolicyResult) MarshalJSON() ([]byte, error) {
	tag := "AlreadySatisfied"
	if r.Created {
		tag = "Created"
	}
	return json.Marshal(map[string]quotaIDBody{tag: {QuotaPolicyID: r.QuotaPolicyID}})
}

// UnmarshalJSON parses the externally tagged wire shape.
func (r *CreateQuotaPolicyResult) UnmarshalJSON(data []byte) error {
	var m map[string]quotaIDBody
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	if len(m) != 1 {
		return fmt.Errorf("create quota policy result: want one variant, got %d", len(m))
	}
	for tag, body := range m {
		switch tag {
		case "Created", "AlreadySatisfied":
			*r = CreateQuotaPolicyResult{Created: tag == "Created", QuotaPolicyID: body.QuotaPolicyID}
		default:
			return fmt.Errorf("create quota policy result: unknown variant %q", tag)
		}
	}
	return nil
}

// CreateQuotaPolicy stores a quota policy (route 26): idempotent by id, a
// second create answers AlreadySatisfied and changes nothing.
func (b *Backend) CreateQuotaPolicy(ctx context.Context, a CreateQuotaPolicyArgs) (CreateQuotaPolicyResult, error) {
	const op = "create_quota_policy"
	if err := prepareCreateQuota(op, a); err != nil {
		return CreateQuotaPolicyResult{}, err
	}
	var res CreateQuotaPolicyResult
	err := b.write(ctx, op, func(w *wtx) error {
		var err error
		res, err = createQuotaTx(ctx, w.Txn, b.Now(), a)
		return err
	})
	return res, err
}

// prepareCreateQuota checks what SQLite can store.
func prepareCreateQuota(op string, a CreateQuotaPolicyArgs) error {
	for _, f := range []struct {
		name string
		v    uint64
	}{{"window_seconds", a.WindowSeconds}, {"max_requests_per_window", a.MaxRequestsPerWindow}, {"max_concurrent", a.MaxConcurrent}} {
		if f.v > math.MaxInt64 {
			return validation(op, "invalid_input", "%s: out of range (at most %d)", f.name, int64(math.MaxInt64))
		}
	}
	return nil
}

// createQuotaTx inserts a policy inside tx at the engine time now.
func createQuotaTx(ctx context.Context, tx *Txn, now int64, a CreateQuotaPolicyArgs) (CreateQuotaPolicyResult, error) {
	res := CreateQuotaPolicyResult{QuotaPolicyID: a.QuotaPolicyID}
	r, err := tx.ExecContext(ctx, `INSERT INTO ff_quota_policy
		(partition_key, quota_policy_id, requests_per_window_seconds, max_requests_per_window,
		 active_concurrency_cap, active_concurrency, created_at_ms, updated_at_ms)
		VALUES (?, ?, ?, ?, ?, 0, ?, ?)
		ON CONFLICT (partition_key, quota_policy_id) DO NOTHING`,
		quotaPartition, a.QuotaPolicyID.String(), int64(a.WindowSeconds), int64(a.MaxRequestsPerWindow),
		int64(a.MaxConcurrent), now, now)
	if err != nil {
		return res, err
	}
	n, err := r.RowsAffected()
	res.Created = n == 1
	return res, err
}
