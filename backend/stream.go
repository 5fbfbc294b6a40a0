package backend

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
)

// Attempt streams (engine-canonical.md §2.3): a worker appends frames to
// its current attempt's stream, fenced by its lease; every way an attempt
// ends closes its stream (endAttempt, terminal.go, through
// streamCloseReason below). The frames are ff_stream_frame rows, the
// rolling summary ff_stream_summary (stream_summary.go), the trimming
// state ff_stream_meta. Upstream's schema has no column for a stream's
// lifetime frame count nor its closed markers; they live in the attempt's
// raw_fields as stream_frame_count, stream_closed_at_ms and
// stream_closed_reason.

// Retention of the append modes.
const (
	// durableMaxLen is the exact trim of an attempt's stream on a durable
	// or summary append (upstream's retention_maxlen).
	durableMaxLen = 10000
	// bestEffortFloor and bestEffortCeiling clamp the best-effort trim;
	// bestEffortAlpha is the weight of the newest rate in its EMA.
	bestEffortFloor   = 64
	bestEffortCeiling = 16384
	bestEffortAlpha   = 0.2
	// defaultBestEffortTTLMS is a best-effort frame's ttl when none is given.
	defaultBestEffortTTLMS = 30000
)

// Stream close reasons (engine-canonical.md C4): route 15/16's
// closed_reason.
const (
	StreamClosedSuccess            = "attempt_success"
	StreamClosedFailure            = "attempt_failure"
	StreamClosedCancelled          = "attempt_cancelled"
	StreamClosedReclaimed          = "reclaimed"
	StreamClosedLeaseExpired       = "lease_expired"
	StreamClosedExpired            = "expired"
	StreamClosedDependency         = "dependency_impossible"
	StreamClosedSuspensionTimeout  = "suspension_timeout"
	StreamClosedAttemptInterrupted = "attempt_interrupted"
)

// State codes of a refused append (409, state_conflict on the wire).
const (
	CodeStreamClosed           = "stream_closed"
	CodeStaleOwnerCannotAppend = "stale_owner_cannot_append"
)

// AppendFrameArgs is one frame a worker appends.
type AppendFrameArgs struct {
	// FrameType is free-form (stdout, stderr, event, progress, …).
	FrameType string
	// Payload is stored as UTF-8 text (invalid sequences replaced); at
	// most MaxFramePayloadBytes. In summary mode it is a JSON merge patch.
	Payload []byte
	// Mode is ModeDurable (""), ModeSummary or ModeBestEffort.
	Mode string
	// CorrelationID, when set, is stored with the frame.
	CorrelationID string
	// TTLMS is a best-effort frame's live window (0: 30 s), which sizes
	// its trim.
	TTLMS int64
}

// AppendResult is an append's answer: the new frame's id, the stream's
// lifetime frame count and, after a summary append, the summary version.
type AppendResult struct {
	StreamID       string `json:"stream_id"`
	FrameCount     int64  `json:"frame_count"`
	SummaryVersion *int64 `json:"summary_version,omitempty"`
}

// qAppendFence reads what an append is fenced by: the execution's state
// and current attempt, the handle's attempt and lease, whether its stream
// is closed, its frame count and trimming state.
var qAppendFence = hotStmt(`SELECT e.lifecycle_phase, e.ownership_state, e.attempt_index,
  a.lease_epoch, a.lease_expires_at_ms, a.outcome, json_extract(a.raw_fields, '$.lease_id'),
  json_extract(a.raw_fields, '$.stream_closed_at_ms') IS NOT NULL,
  COALESCE(json_extract(a.raw_fields, '$.stream_frame_count'), 0),
  COALESCE(m.last_append_ts_ms, 0), COALESCE(m.ema_rate_hz, 0)
FROM ff_exec_core e
LEFT JOIN ff_attempt a
  ON a.partition_key = e.partition_key AND a.execution_id = e.execution_id AND a.attempt_index = ?3
LEFT JOIN ff_stream_meta m
  ON m.partition_key = e.partition_key AND m.execution_id = e.execution_id AND m.attempt_index = ?3
WHERE e.partition_key = ?1 AND e.execution_id = ?2`)

// qAppendFrame inserts frame ?4-<seq>, seq one past the highest at that
// ms (0 for a new ms), and returns seq.
var qAppendFrame = hotStmt(`INSERT INTO ff_stream_frame
  (partition_key, execution_id, attempt_index, ts_ms, seq, fields, mode, created_at_ms)
VALUES (?1, ?2, ?3, ?4, COALESCE((SELECT MAX(seq) + 1 FROM ff_stream_frame
    WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = ?3 AND ts_ms = ?4), 0), ?5, ?6, ?7)
RETURNING seq`)

var qAppendCount = hotStmt(`UPDATE ff_attempt SET raw_fields = json_set(raw_fields, '$.stream_frame_count', ?4)
WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = ?3`)

var qAppendMeta = hotStmt(`INSERT INTO ff_stream_meta
  (partition_key, execution_id, attempt_index, ema_rate_hz, last_append_ts_ms, maxlen_applied_last)
VALUES (?1, ?2, ?3, ?4, ?5, ?6)
ON CONFLICT (partition_key, execution_id, attempt_index) DO UPDATE SET
  ema_rate_hz = excluded.ema_rate_hz, last_append_ts_ms = excluded.last_append_ts_ms,
  maxlen_applied_last = excluded.maxlen_applied_last`)

// qTrimStream deletes the attempt's frames older than its ?4-th newest.
var qTrimStream = `DELETE FROM ff_stream_frame
WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = ?3
  AND (ts_ms, seq) < (SELECT ts_ms, seq FROM ff_stream_frame
    WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = ?3
    ORDER BY ts_ms DESC, seq DESC LIMIT 1 OFFSET ?4 - 1)`

// qTrimBestEffort deletes the attempt's best-effort frames older than its
// ?4-th newest best-effort frame; durable and summary frames stay.
var qTrimBestEffort = `DELETE FROM ff_stream_frame
WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = ?3 AND mode = 'best_effort'
  AND (ts_ms, seq) < (SELECT ts_ms, seq FROM ff_stream_frame
    WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = ?3 AND mode = 'best_effort'
    ORDER BY ts_ms DESC, seq DESC LIMIT 1 OFFSET ?4 - 1)`

// frameFields is a frame's stored fields, in upstream's order; every
// value is a string, as in a Valkey stream entry.
type frameFields struct {
	FrameType      string `json:"frame_type"`
	TS             string `json:"ts"`
	Payload        string `json:"payload"`
	Encoding       string `json:"encoding"`
	Source         string `json:"source"`
	Mode           string `json:"mode"`
	CorrelationID  string `json:"correlation_id,omitempty"`
	SummaryVersion string `json:"summary_version,omitempty"`
	TTLMS          string `json:"ttl_ms,omitempty"`
}

// AppendFrame appends a frame to the stream of the handle's attempt. It is
// checked in canonical's order: the payload size (400
// retention_limit_exceeded) and the other fields; an execution that is not
// active (stream_closed); a handle that is not the current attempt's live
// lease, a revoked or expired lease (stale_owner_cannot_append); a closed
// stream (stream_closed). Both refusals are KindState. A summary frame's
// payload must be a JSON object (400 invalid_input), merged into the
// attempt's summary document (stream_summary.go). Waiters on the stream
// (StreamChanged) wake once the frame is committed.
func (b *Backend) AppendFrame(ctx context.Context, h Handle, a AppendFrameArgs) (*AppendResult, error) {
	const op = "append_frame"
	mode, err := checkAppend(a)
	if err != nil {
		return nil, engineOp(err, op)
	}
	p, err := DecodeHandle(h)
	if err != nil {
		return nil, engineOp(err, op)
	}
	var res *AppendResult
	err = b.write(ctx, op, func(w *wtx) error {
		var err error
		res, err = w.appendFrame(op, p, mode, a)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (w *wtx) appendFrame(op string, p HandlePayload, mode string, a AppendFrameArgs) (*AppendResult, error) {
	part, key := p.ExecutionID.key()
	idx := int64(p.AttemptIndex)
	var (
		lifecycle, ownership string
		execIdx              int64
		epoch, expires       sql.NullInt64
		outcome, leaseID     sql.NullString
		closed               bool
		count, lastTS        int64
		ema                  float64
	)
	err := w.queryRow(qAppendFence, part, key, idx).Scan(&lifecycle, &ownership, &execIdx,
		&epoch, &expires, &outcome, &leaseID, &closed, &count, &lastTS, &ema)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, execNotFound(op, p.ExecutionID)
	}
	if err != nil {
		return nil, err
	}
	stale := func(why string) error {
		return newErr(KindState, op, CodeStaleOwnerCannotAppend, "StaleOwnerCannotAppend (%s; execution %s, attempt %d)",
			why, p.ExecutionID, p.AttemptIndex)
	}
	switch {
	case lifecycle != "active":
		return nil, newErr(KindState, op, CodeStreamClosed, "StreamClosed (execution is %s)", lifecycle)
	case ownership == "lease_revoked" || ownership == "lease_expired_reclaimable":
		return nil, stale(ownership)
	case !epoch.Valid || execIdx != idx:
		return nil, stale("not the current attempt")
	case leaseID.String != p.LeaseID:
		return nil, stale("lease id does not match")
	case uint64(epoch.Int64) != p.LeaseEpoch:
		return nil, stale("lease epoch moved")
	case closed || outcome.Valid:
		return nil, newErr(KindState, op, CodeStreamClosed, "StreamClosed (attempt %d ended)", idx)
	case !expires.Valid || expires.Int64 <= w.now:
		return nil, stale("lease expired")
	}

	// Frame ids never go backwards, whatever the clock does.
	ts := max(w.now, lastTS)
	f := frameFields{FrameType: a.FrameType, TS: strconv.FormatInt(ts, 10),
		Payload: strings.ToValidUTF8(string(a.Payload), "\uFFFD"), Encoding: "utf8", Source: "worker",
		Mode: mode, CorrelationID: a.CorrelationID}
	res := &AppendResult{FrameCount: count + 1}
	ttl := a.TTLMS
	switch mode {
	case ModeSummary:
		v, err := w.applySummary(op, part, key, idx, a.Payload)
		if err != nil {
			return nil, err
		}
		res.SummaryVersion = &v
		f.SummaryVersion = strconv.FormatInt(v, 10)
	case ModeBestEffort:
		if ttl == 0 {
			ttl = defaultBestEffortTTLMS
		}
		f.TTLMS = strconv.FormatInt(ttl, 10)
	}
	var seq int64
	if err := w.queryRow(qAppendFrame, part, key, idx, ts, fieldsJSON(f), mode, w.now).Scan(&seq); err != nil {
		return nil, err
	}
	if _, err := w.exec(qAppendCount, part, key, idx, res.FrameCount); err != nil {
		return nil, err
	}
	// The append rate's EMA sizes the best-effort trim.
	if lastTS > 0 {
		inst := 1000.0 / float64(max(1, ts-lastTS))
		ema = bestEffortAlpha*inst + (1-bestEffortAlpha)*ema
	}
	keep := int64(durableMaxLen)
	if mode == ModeBestEffort {
		k := math.Ceil(ema * float64(ttl) / 1000 * 2)
		keep = int64(min(max(k, bestEffortFloor), bestEffortCeiling))
	}
	if _, err := w.exec(qAppendMeta, part, key, idx, ema, ts, keep); err != nil {
		return nil, err
	}
	// Trim only once the stream can hold more than it keeps (the lifetime
	// count bounds what is stored).
	if res.FrameCount > keep {
		q := qTrimStream
		if mode == ModeBestEffort {
			q = qTrimBestEffort
		}
		if _, err := w.exec(q, part, key, idx, keep); err != nil {
			return nil, err
		}
	}
	res.StreamID = StreamCursor{ts, seq}.String()
	w.streamChanged(part, key, idx)
	return res, nil
}

// fieldsJSON renders a frame's fields without HTML escaping.
func fieldsJSON(f frameFields) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil {
		panic(err) // strings only
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// streamCloseReason is the close reason of the stream of an attempt that
// ends with outcome and raw_fields patch (C4): the outcome's, or the
// skip's and the suspension timeout's, which their failure_reason names.
// An already closed stream keeps its reason (endAttempt).
func streamCloseReason(outcome, patch string) string {
	if strings.Contains(patch, `"failure_reason"`) {
		var p struct {
			Reason string `json:"failure_reason"`
		}
		if json.Unmarshal([]byte(patch), &p) == nil {
			switch {
			case p.Reason == "dependency_impossible":
				return StreamClosedDependency
			case strings.HasPrefix(p.Reason, "suspension_timeout"):
				return StreamClosedSuspensionTimeout
			}
		}
	}
	switch outcome {
	case "success":
		return StreamClosedSuccess
	case "failed":
		return StreamClosedFailure
	case "cancelled":
		return StreamClosedCancelled
	case "expired":
		return StreamClosedExpired
	case "interrupted":
		// ffsqlite's lease-expiry requeue ends the attempt.
		return StreamClosedLeaseExpired
	case "interrupted_reclaimed":
		return StreamClosedReclaimed
	}
	return StreamClosedAttemptInterrupted
}

// streamCloseSQL is the raw_fields expression endAttempt and fencedEnd
// write: the attempt's raw_fields (column raw_fields) patched with the
// patch parameter, then the stream closed at the time parameter with the
// reason parameter unless it was closed already.
func streamCloseSQL(patch, at, reason string) string {
	return `json_patch(json_patch(raw_fields, ` + patch + `), json_object(
    'stream_closed_at_ms', COALESCE(json_extract(raw_fields, '$.stream_closed_at_ms'), ` + at + `),
    'stream_closed_reason', COALESCE(json_extract(raw_fields, '$.stream_closed_reason'), ` + reason + `)))`
}

// closeStream closes the stream of attempt idx with reason if it is open,
// without ending the attempt (a lease marked expired but kept
// reclaimable, canonical's mark_expired).
func (w *wtx) closeStream(part int64, key []byte, idx int64, reason string) error {
	_, err := w.exec(`UPDATE ff_attempt SET raw_fields = json_set(raw_fields,
    '$.stream_closed_at_ms', ?4, '$.stream_closed_reason', ?5)
WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = ?3
  AND json_extract(raw_fields, '$.stream_closed_at_ms') IS NULL`, part, key, idx, w.now, reason)
	if err == nil {
		w.streamChanged(part, key, idx)
	}
	return err
}

// streamChanged wakes the stream's waiters after the commit.
func (w *wtx) streamChanged(part int64, key []byte, idx int64) {
	hub := &w.b.in.streams
	k := streamKey{part: part, key: string(key), idx: idx}
	w.AfterCommit(func() { hub.notify(k) })
}

// streamKey names one attempt's stream in the waiters' hub.
type streamKey struct {
	part int64
	key  string
	idx  int64
}

// streamHub holds, per stream someone waits on, a channel closed at the
// stream's next append or close in this process. Its zero value is ready.
type streamHub struct {
	mu sync.Mutex
	m  map[streamKey]chan struct{}
}

func (h *streamHub) wait(k streamKey) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[streamKey]chan struct{}{}
	}
	ch, ok := h.m[k]
	if !ok {
		ch = make(chan struct{})
		h.m[k] = ch
	}
	return ch
}

func (h *streamHub) notify(k streamKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ch, ok := h.m[k]; ok {
		close(ch)
		delete(h.m, k)
	}
}

// StreamChanged returns a channel closed when the stream of attempt idx
// of id next gets a frame or closes through this process (another process's
// appends are seen only by reading again). Take it before reading, so no
// append slips between the read and the wait.
func (b *Backend) StreamChanged(id ExecutionID, idx uint32) <-chan struct{} {
	part, key := id.key()
	return b.in.streams.wait(streamKey{part: part, key: string(key), idx: int64(idx)})
}
