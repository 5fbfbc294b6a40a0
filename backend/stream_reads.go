package backend

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
)

// Reads of attempt streams: route 15's inclusive range and route 16's
// tail after a cursor. Both report the stream's closed markers once it is
// closed. The frames and the markers are read in one read transaction, so
// a stream seen closed shows every frame it got.

// StreamFrame is one frame: its id "<ms>-<seq>" and its stored fields.
type StreamFrame struct {
	ID     string          `json:"id"`
	Fields json.RawMessage `json:"fields"`
}

// StreamFrames is a read or tail's answer (routes 15 and 16).
type StreamFrames struct {
	Frames       []StreamFrame `json:"frames"`
	Count        int           `json:"count"`
	ClosedAt     *int64        `json:"closed_at,omitempty"`
	ClosedReason string        `json:"closed_reason,omitempty"`
}

// Closed reports whether the stream is closed.
func (s *StreamFrames) Closed() bool { return s.ClosedAt != nil }

var qStreamState = `SELECT json_extract(a.raw_fields, '$.stream_closed_at_ms'),
  json_extract(a.raw_fields, '$.stream_closed_reason')
FROM ff_exec_core e
LEFT JOIN ff_attempt a
  ON a.partition_key = e.partition_key AND a.execution_id = e.execution_id AND a.attempt_index = ?3
WHERE e.partition_key = ?1 AND e.execution_id = ?2`

var qStreamRange = `SELECT ts_ms, seq, fields FROM ff_stream_frame
WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = ?3
  AND (ts_ms, seq) >= (?4, ?5) AND (ts_ms, seq) <= (?6, ?7)
ORDER BY ts_ms, seq LIMIT ?8`

var qStreamAfter = `SELECT ts_ms, seq, fields FROM ff_stream_frame
WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = ?3
  AND (ts_ms, seq) > (?4, ?5)
ORDER BY ts_ms, seq LIMIT ?6`

// ReadStream returns up to limit frames of attempt idx's stream from
// from to to, both inclusive, oldest first. limit must be
// 1..=MaxStreamReadLimit (CheckStreamLimit). A missing execution is
// KindNotFound; an attempt without frames reads empty.
func (b *Backend) ReadStream(ctx context.Context, id ExecutionID, idx uint32, from, to StreamCursor, limit int) (*StreamFrames, error) {
	if err := CheckStreamLimit(limit, false); err != nil {
		return nil, engineOp(err, "read_stream")
	}
	return b.readStream(ctx, "read_stream", id, idx, qStreamRange, from.MS, from.Seq, to.MS, to.Seq, limit)
}

// TailStream returns up to limit frames of attempt idx's stream after
// after (exclusive), oldest first, without waiting: a caller that waits
// takes StreamChanged first, then tails, then waits on the channel.
func (b *Backend) TailStream(ctx context.Context, id ExecutionID, idx uint32, after StreamCursor, limit int) (*StreamFrames, error) {
	if err := CheckStreamLimit(limit, true); err != nil {
		return nil, engineOp(err, "tail_stream")
	}
	return b.readStream(ctx, "tail_stream", id, idx, qStreamAfter, after.MS, after.Seq, limit)
}

func (b *Backend) readStream(ctx context.Context, op string, id ExecutionID, idx uint32, q string, args ...any) (*StreamFrames, error) {
	part, key := id.key()
	tx, err := b.in.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, transport(op, err)
	}
	defer tx.Rollback()
	out := &StreamFrames{Frames: []StreamFrame{}}
	var (
		at     sql.NullInt64
		reason sql.NullString
	)
	err = tx.QueryRowContext(ctx, qStreamState, part, key, int64(idx)).Scan(&at, &reason)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, execNotFound(op, id)
	}
	if err != nil {
		return nil, transport(op, err)
	}
	rows, err := tx.QueryContext(ctx, q, append([]any{part, key, int64(idx)}, args...)...)
	if err != nil {
		return nil, transport(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			c      StreamCursor
			fields string
		)
		if err := rows.Scan(&c.MS, &c.Seq, &fields); err != nil {
			return nil, transport(op, err)
		}
		out.Frames = append(out.Frames, StreamFrame{ID: c.String(), Fields: json.RawMessage(fields)})
	}
	if err := rows.Err(); err != nil {
		return nil, transport(op, err)
	}
	out.Count = len(out.Frames)
	if at.Valid {
		v := at.Int64
		out.ClosedAt, out.ClosedReason = &v, reason.String
	}
	return out, nil
}

// StreamSummary is an attempt's summary document and version (zero
// version and a nil document before the first summary frame).
type StreamSummary struct {
	Document json.RawMessage `json:"document"`
	Version  int64           `json:"version"`
}

// GetStreamSummary returns attempt idx's summary document.
func (b *Backend) GetStreamSummary(ctx context.Context, id ExecutionID, idx uint32) (*StreamSummary, error) {
	part, key := id.key()
	var (
		doc string
		s   StreamSummary
	)
	err := b.in.reader.QueryRowContext(ctx, qSummaryRead, part, key, int64(idx)).Scan(&doc, &s.Version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return &s, nil
	case err != nil:
		return nil, transport("get_stream_summary", err)
	}
	s.Document = json.RawMessage(doc)
	return &s, nil
}
