package inspect

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// StreamReport is `inspect stream EXEC`: one attempt's stream, its
// summary document and whether it is closed (engine-canonical.md §2.3).
type StreamReport struct {
	ExecutionID  string `json:"execution_id"`
	AttemptIndex int64  `json:"attempt_index"`
	// FrameCount is the stream's lifetime appends (retention may have
	// trimmed older frames from Frames).
	FrameCount   int64   `json:"frame_count"`
	ClosedAtMS   *int64  `json:"closed_at_ms"`
	ClosedReason *string `json:"closed_reason"`
	// Summary is the summary document (null before the first summary
	// frame) at SummaryVersion.
	Summary        json.RawMessage `json:"summary"`
	SummaryVersion int64           `json:"summary_version"`
	// Frames are the stored frames, oldest first (at most the limit).
	Frames []StreamFrame `json:"frames"`

	part int64
	uid  []byte
}

// StreamFrame is one stored frame.
type StreamFrame struct {
	ID            string  `json:"id"`
	TSMS          int64   `json:"ts_ms"`
	FrameType     string  `json:"frame_type"`
	Mode          string  `json:"mode"`
	Payload       string  `json:"payload"`
	CorrelationID *string `json:"correlation_id"`

	seq int64
}

// Closed reports whether the stream is closed.
func (r *StreamReport) Closed() bool { return r.ClosedAtMS != nil }

// Stream reads execution id's stream of attempt (-1: the current
// attempt), at most limit frames (0: all) after the first skip.
func Stream(ctx context.Context, db *sql.DB, id string, attempt int64, limit int) (*StreamReport, error) {
	part, uid, err := ParseExecID(id)
	if err != nil {
		return nil, err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	cat, err := loadCatalog(ctx, tx)
	if err != nil {
		return nil, err
	}
	if err := cat.need("ff_exec_core"); err != nil {
		return nil, err
	}
	if err := cat.need("ff_stream_frame"); err != nil {
		return nil, err
	}
	q := `SELECT partition_key, execution_id, attempt_index FROM ff_exec_core WHERE execution_id = ?`
	args := []any{uid}
	if part >= 0 {
		q += ` AND partition_key = ?`
		args = append(args, part)
	}
	r := &StreamReport{Frames: []StreamFrame{}}
	var cur int64
	err = tx.QueryRowContext(ctx, q+` LIMIT 1`, args...).Scan(&r.part, &r.uid, &cur)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &NotFoundError{What: "execution", ID: id}
	}
	if err != nil {
		return nil, err
	}
	r.ExecutionID, r.AttemptIndex = ExecID(r.part, r.uid), cur
	if attempt >= 0 {
		r.AttemptIndex = attempt
	}
	if err := r.readMeta(ctx, tx); err != nil {
		return nil, err
	}
	if cat.has("ff_stream_summary") {
		var doc string
		err := tx.QueryRowContext(ctx, `SELECT document_json, version FROM ff_stream_summary
WHERE partition_key = ? AND execution_id = ? AND attempt_index = ?`, r.part, r.uid, r.AttemptIndex).Scan(&doc, &r.SummaryVersion)
		switch {
		case err == nil:
			r.Summary = json.RawMessage(doc)
		case !errors.Is(err, sql.ErrNoRows):
			return nil, err
		}
	}
	frames, err := streamFrames(ctx, tx, r.part, r.uid, r.AttemptIndex, 0, -1, limit)
	if err != nil {
		return nil, err
	}
	r.Frames = frames
	return r, nil
}

// readMeta reads the attempt's lifetime count and closed markers.
func (r *StreamReport) readMeta(ctx context.Context, q queryer) error {
	var (
		count  sql.NullInt64
		at     sql.NullInt64
		reason sql.NullString
	)
	err := q.QueryRowContext(ctx, `SELECT json_extract(raw_fields, '$.stream_frame_count'),
  json_extract(raw_fields, '$.stream_closed_at_ms'), json_extract(raw_fields, '$.stream_closed_reason')
FROM ff_attempt WHERE partition_key = ? AND execution_id = ? AND attempt_index = ?`, r.part, r.uid, r.AttemptIndex).
		Scan(&count, &at, &reason)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	r.FrameCount, r.ClosedAtMS, r.ClosedReason = count.Int64, nullInt(at), nullStr(reason)
	return nil
}

// streamFrames reads frames after (afterMS, afterSeq), oldest first.
func streamFrames(ctx context.Context, q queryer, part int64, uid []byte, idx, afterMS, afterSeq int64, limit int) ([]StreamFrame, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := q.QueryContext(ctx, `SELECT ts_ms, seq, fields, mode FROM ff_stream_frame
WHERE partition_key = ? AND execution_id = ? AND attempt_index = ? AND (ts_ms, seq) > (?, ?)
ORDER BY ts_ms, seq LIMIT ?`, part, uid, idx, afterMS, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("read stream frames: %w", err)
	}
	defer rows.Close()
	out := []StreamFrame{}
	for rows.Next() {
		var (
			f   StreamFrame
			raw string
		)
		if err := rows.Scan(&f.TSMS, &f.seq, &raw, &f.Mode); err != nil {
			return nil, err
		}
		m := fields(raw)
		f.ID = strconv.FormatInt(f.TSMS, 10) + "-" + strconv.FormatInt(f.seq, 10)
		if s := fieldStr(m, "frame_type"); s != nil {
			f.FrameType = *s
		}
		if s := fieldStr(m, "payload"); s != nil {
			f.Payload = *s
		}
		f.CorrelationID = fieldStr(m, "correlation_id")
		out = append(out, f)
	}
	return out, rows.Err()
}

// FollowStream polls r's stream every interval, handing emit each batch
// of new frames, until the stream is closed (after its last frames) or
// ctx ends; then it returns the final report state in r (closed markers).
func FollowStream(ctx context.Context, db *sql.DB, r *StreamReport, interval time.Duration, emit func([]StreamFrame) error) error {
	if interval <= 0 {
		interval = FollowInterval
	}
	var lastMS, lastSeq int64 = 0, -1
	if n := len(r.Frames); n > 0 {
		lastMS, lastSeq = r.Frames[n-1].TSMS, r.Frames[n-1].seq
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for !r.Closed() {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		// Closed markers first: frames read after them are all there are.
		if err := r.readMeta(ctx, db); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for {
			frames, err := streamFrames(ctx, db, r.part, r.uid, r.AttemptIndex, lastMS, lastSeq, 1000)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				return err
			}
			if len(frames) == 0 {
				break
			}
			if err := emit(frames); err != nil {
				return err
			}
			last := frames[len(frames)-1]
			lastMS, lastSeq = last.TSMS, last.seq
		}
	}
	return nil
}

// Stream prints a stream report (`inspect stream`).
func (p Printer) Stream(r *StreamReport) error { return printReport(p, r, p.streamText) }

func (p Printer) streamText(r *StreamReport) error {
	p.kv(
		"execution", r.ExecutionID,
		"attempt", itoa(r.AttemptIndex),
		"frames", fmt.Sprintf("%d stored, %d appended", len(r.Frames), r.FrameCount),
		"stream", p.streamState(r),
		"summary", p.summaryText(r),
	)
	if len(r.Frames) == 0 {
		p.printf("\n(no frames)\n")
		return nil
	}
	p.printf("\n")
	for _, f := range r.Frames {
		if err := p.StreamLine(f); err != nil {
			return err
		}
	}
	return nil
}

func (p Printer) streamState(r *StreamReport) string {
	if !r.Closed() {
		return "open"
	}
	return "closed " + dash(r.ClosedReason) + " at " + p.ts(*r.ClosedAtMS)
}

func (p Printer) summaryText(r *StreamReport) string {
	if r.Summary == nil {
		return "-"
	}
	return "v" + itoa(r.SummaryVersion) + " " + string(r.Summary)
}

// StreamLine prints one frame: a line of text, or a JSON line with
// --json (`inspect stream --follow`).
func (p Printer) StreamLine(f StreamFrame) error {
	if p.JSON {
		b, err := json.Marshal(f)
		if err != nil {
			return err
		}
		p.printf("%s\n", b)
		return nil
	}
	corr := ""
	if f.CorrelationID != nil {
		corr = " [" + *f.CorrelationID + "]"
	}
	payload := strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(f.Payload)
	p.printf("%s  %s  %-8s %-11s %s%s\n", f.ID, p.ts(f.TSMS), f.FrameType, f.Mode, payload, corr)
	return nil
}

// StreamEnd prints how a followed stream ended (nothing when it is still
// open: the follow was interrupted).
func (p Printer) StreamEnd(r *StreamReport) error {
	if !r.Closed() {
		return nil
	}
	if p.JSON {
		b, err := json.Marshal(map[string]any{"closed_at_ms": r.ClosedAtMS, "closed_reason": r.ClosedReason})
		if err != nil {
			return err
		}
		p.printf("%s\n", b)
		return nil
	}
	p.printf("stream %s\n", p.streamState(r))
	return nil
}
