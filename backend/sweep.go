package backend

import (
	"context"
	"database/sql"
)

// sweepChunk is how many rows one reconciler write transaction handles.
const sweepChunk = 32

// sweepCandidate is one row a reconciler found due (outside the transaction).
type sweepCandidate struct {
	id  ExecutionID
	idx int64
}

// findSweepCandidates runs a candidate query on the reader; rows are
// (partition_key, execution_id[, attempt_index]).
func (b *Backend) findSweepCandidates(ctx context.Context, q string, withIdx bool, args ...any) ([]sweepCandidate, error) {
	rows, err := b.in.reader.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sweepCandidate
	for rows.Next() {
		var (
			part int64
			key  []byte
			idx  sql.NullInt64
		)
		dest := []any{&part, &key}
		if withIdx {
			dest = append(dest, &idx)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		id, err := execIDFromRow(part, key)
		if err != nil {
			return nil, err
		}
		out = append(out, sweepCandidate{id: id, idx: idx.Int64})
	}
	return out, rows.Err()
}

// sweep is one reconciler batch: it finds up to limit due rows with the
// candidate query q (args nowMS, limit) on the reader and applies fn to
// them through sweepRows.
func (b *Backend) sweep(ctx context.Context, op, q string, withIdx bool, nowMS int64, limit int,
	fn func(w *wtx, c sweepCandidate) (bool, error)) (SweepReport, error) {
	if limit <= 0 {
		return SweepReport{}, nil
	}
	cands, err := b.findSweepCandidates(ctx, q, withIdx, nowMS, limit)
	if err != nil {
		return SweepReport{}, transport(op, err)
	}
	return b.sweepRows(ctx, op, nowMS, cands, fn), nil
}

// sweepRows applies fn to each candidate in short write transactions of up to
// sweepChunk rows, with nowMS as the transaction clock. fn re-checks that
// the row is still due inside the transaction and reports whether it
// changed it. If a chunk fails, its rows are retried one per transaction
// so that one bad row costs only itself; failures are logged and counted.
func (b *Backend) sweepRows(ctx context.Context, op string, nowMS int64, cands []sweepCandidate,
	fn func(w *wtx, c sweepCandidate) (bool, error)) SweepReport {
	return sweepItems(ctx, b, op, nowMS, cands, fn, func(c sweepCandidate) []any {
		return []any{"execution_id", c.id.String()}
	})
}

// sweepItems is sweepRows for reconciler items of any type (flow edges,
// cancel backlog members); describe names a failed item in the log.
func sweepItems[T any](ctx context.Context, b *Backend, op string, nowMS int64, items []T,
	fn func(w *wtx, it T) (bool, error), describe func(T) []any) SweepReport {
	var rep SweepReport
	run := func(chunk []T) (int, error) {
		done := 0
		err := b.write(ctx, op, func(w *wtx) error {
			w.now = nowMS
			done = 0
			for _, it := range chunk {
				ok, err := fn(w, it)
				if err != nil {
					return err
				}
				if ok {
					done++
				}
			}
			return nil
		})
		return done, err
	}
	for len(items) > 0 && ctx.Err() == nil {
		n := min(len(items), sweepChunk)
		chunk := items[:n]
		items = items[n:]
		done, err := run(chunk)
		if err == nil {
			rep.Processed += done
			continue
		}
		for _, it := range chunk {
			done, err := run([]T{it})
			if err != nil {
				rep.Errors++
				b.in.opts.Logger.Warn("reconciler row failed", append([]any{"op", op}, append(describe(it), "err", err)...)...)
				continue
			}
			rep.Processed += done
		}
	}
	return rep
}

// skipNotFound turns "the row is gone" into a skip; other errors abort.
func skipNotFound(err error) error {
	if KindOf(err) == KindNotFound {
		return nil
	}
	return err
}
