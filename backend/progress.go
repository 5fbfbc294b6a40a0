package backend

import (
	"context"
	"database/sql"
	"errors"
)

// Progress (engine-canonical.md §2.3): a worker's percentage and message,
// scalar fields of the execution, not a stream. Upstream's schema has no
// progress columns; they live in ff_exec_core.raw_fields as progress_pct,
// progress_message and progress_updated_at, the names canonical uses.

var qProgress = `UPDATE ff_exec_core SET raw_fields = json_set(raw_fields,
    '$.progress_pct', ?3, '$.progress_message', ?4, '$.progress_updated_at', ?5)
WHERE partition_key = ?1 AND execution_id = ?2`

// UpdateProgress records the handle's progress: pct 0..=100 and message
// (at most MaxProgressMessageBytes). The call is fenced like Renew: an
// execution that is not active is KindState execution_not_active, a stale,
// expired or revoked lease the contention codes of fence.
func (b *Backend) UpdateProgress(ctx context.Context, h Handle, pct int, message string) error {
	const op = "update_progress"
	if err := checkProgress(pct, message); err != nil {
		return engineOp(err, op)
	}
	return b.write(ctx, op, func(w *wtx) error {
		f, err := w.fence(op, h)
		if err != nil {
			// canonical names a handle whose execution is no longer active
			// execution_not_active (fence's stale_lease otherwise).
			if p, derr := DecodeHandle(h); derr == nil && errors.Is(err, &Error{Code: CodeStaleLease}) {
				if hd, herr := w.head(op, p.ExecutionID); herr == nil && hd.lifecycle != "active" {
					return newErr(KindState, op, "execution_not_active", "execution_not_active (execution is %s)", hd.lifecycle)
				}
			}
			return err
		}
		_, err = w.exec(qProgress, f.part, f.key, pct, message, w.now)
		return err
	})
}

// Progress is an execution's last progress report.
type Progress struct {
	Pct       int    `json:"progress_pct"`
	Message   string `json:"progress_message"`
	UpdatedAt int64  `json:"progress_updated_at"`
}

// GetProgress returns the execution's last progress report, nil when the
// worker never reported one.
func (b *Backend) GetProgress(ctx context.Context, id ExecutionID) (*Progress, error) {
	part, key := id.key()
	var (
		pct, at sql.NullInt64
		msg     sql.NullString
	)
	err := b.in.reader.QueryRowContext(ctx, `SELECT json_extract(raw_fields, '$.progress_pct'),
  json_extract(raw_fields, '$.progress_message'), json_extract(raw_fields, '$.progress_updated_at')
FROM ff_exec_core WHERE partition_key = ?1 AND execution_id = ?2`, part, key).Scan(&pct, &msg, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, execNotFound("get_progress", id)
	case err != nil:
		return nil, transport("get_progress", err)
	case !pct.Valid:
		return nil, nil
	}
	return &Progress{Pct: int(pct.Int64), Message: msg.String, UpdatedAt: at.Int64}, nil
}
