package backend

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
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

// qAppendFence reads why an append's fence failed: the execution's state
// and current attempt, the handle's attempt and lease, and whether its
// stream is closed.
var qAppendFence = `SELECT e.lifecycle_phase, e.ownership_state, e.attempt_index,
  a.lease_epoch, a.lease_expires_at_ms, a.outcome, json_extract(a.raw_fields, '$.lease_id'),
  json_extract(a.raw_fields, '$.stream_closed_at_ms') IS NOT NULL
FROM ff_exec_core e
LEFT JOIN ff_attempt a
  ON a.partition_key = e.partition_key AND a.execution_id = e.execution_id AND a.attempt_index = ?3
WHERE e.partition_key = ?1 AND e.execution_id = ?2`

// qAppendFrame inserts frame ?4-?5.
var qAppendFrame = hotStmt(`INSERT INTO ff_stream_frame
  (partition_key, execution_id, attempt_index, ts_ms, seq, fields, mode, created_at_ms)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)`)

// qAppendFenced is an append's happy path in one statement: when the
// fence holds (the handle's attempt is the execution's current one, live,
// with its lease and epoch, its stream open, the execution active and its
// lease neither revoked nor expired) it bumps the attempt's frame count
// and returns it and the newest frame's id. No row: appendFrame reads why (qAppendFence).
var qAppendFenced = hotStmt(`UPDATE ff_attempt
SET raw_fields = json_set(raw_fields, '$.stream_frame_count', COALESCE(json_extract(raw_fields, '$.stream_frame_count'), 0) + 1)
WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = ?3 AND lease_epoch = ?4
  AND outcome IS NULL AND lease_expires_at_ms > ?5 AND json_extract(raw_fields, '$.lease_id') = ?6
  AND json_extract(raw_fields, '$.stream_closed_at_ms') IS NULL
  AND EXISTS (SELECT 1 FROM ff_exec_core e WHERE e.partition_key = ?1 AND e.execution_id = ?2
              AND e.attempt_index = ?3 AND e.lifecycle_phase = 'active'
              AND e.ownership_state NOT IN ('lease_revoked', 'lease_expired_reclaimable'))
RETURNING json_extract(raw_fields, '$.stream_frame_count'),
  COALESCE((SELECT f.ts_ms FROM ff_stream_frame f WHERE f.partition_key = ?1 AND f.execution_id = ?2
    AND f.attempt_index = ?3 ORDER BY f.ts_ms DESC, f.seq DESC LIMIT 1), 0),
  COALESCE((SELECT f.seq FROM ff_stream_frame f WHERE f.partition_key = ?1 AND f.execution_id = ?2
    AND f.attempt_index = ?3 ORDER BY f.ts_ms DESC, f.seq DESC LIMIT 1), -1)`)

// qStreamMeta reads the best-effort trimming state.
var qStreamMeta = `SELECT last_append_ts_ms, ema_rate_hz FROM ff_stream_meta
WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = ?3`

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
	// The payload is text: invalid UTF-8 becomes U+FFFD first, as
	// canonical's String::from_utf8_lossy does, and the size limit applies
	// to what is stored.
	a.Payload = lossyUTF8(a.Payload)
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
		count, lastTS       int64
		ema                 float64
		newestTS, newestSeq int64
	)
	err := w.queryRow(qAppendFenced, part, key, idx, int64(p.LeaseEpoch), w.now, p.LeaseID).
		Scan(&count, &newestTS, &newestSeq)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, w.appendRefused(op, p)
	}
	if err != nil {
		return nil, err
	}
	// Frame ids never go backwards, whatever the clock does: the id is
	// <ms>-<seq>, seq one past the newest frame's at that ms, else 0.
	ts, seq := max(w.now, newestTS), int64(0)
	if ts == newestTS {
		seq = newestSeq + 1
	}
	f := frameFields{FrameType: a.FrameType, TS: strconv.FormatInt(ts, 10),
		Payload: string(a.Payload), Encoding: "utf8", Source: "worker",
		Mode: mode, CorrelationID: a.CorrelationID}
	res := &AppendResult{FrameCount: count}
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
	if _, err := w.exec(qAppendFrame, part, key, idx, ts, seq, fieldsJSON(f), mode, w.now); err != nil {
		return nil, err
	}
	keep := int64(durableMaxLen)
	if mode == ModeBestEffort {
		// The best-effort append rate's EMA (ff_stream_meta, written by
		// best-effort appends only) sizes their trim.
		err := w.queryRow(qStreamMeta, part, key, idx).Scan(&lastTS, &ema)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		if lastTS > 0 {
			inst := 1000.0 / float64(max(1, ts-lastTS))
			ema = bestEffortAlpha*inst + (1-bestEffortAlpha)*ema
		} else {
			// The first best-effort append seeds the EMA with the rate
			// that keeps exactly the floor (canonical), so later rates
			// blend into that rather than into 0.
			ema = bestEffortFloor / (float64(ttl) / 1000 * 2)
		}
		k := math.Ceil(ema * float64(ttl) / 1000 * 2)
		keep = int64(min(max(k, bestEffortFloor), bestEffortCeiling))
		if _, err := w.exec(qAppendMeta, part, key, idx, ema, ts, keep); err != nil {
			return nil, err
		}
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

// appendRefused is the error of an append whose fence failed, checked in
// canonical's order: an execution that is not active (stream_closed); a
// handle that is not the current attempt's live lease, a revoked or
// expired lease (stale_owner_cannot_append); a closed stream
// (stream_closed).
func (w *wtx) appendRefused(op string, p HandlePayload) error {
	part, key := p.ExecutionID.key()
	idx := int64(p.AttemptIndex)
	var (
		lifecycle, ownership string
		execIdx              int64
		epoch, expires       sql.NullInt64
		outcome, leaseID     sql.NullString
		closed               bool
	)
	err := w.queryRow(qAppendFence, part, key, idx).Scan(&lifecycle, &ownership, &execIdx,
		&epoch, &expires, &outcome, &leaseID, &closed)
	if errors.Is(err, sql.ErrNoRows) {
		return execNotFound(op, p.ExecutionID)
	}
	if err != nil {
		return err
	}
	stale := func(why string) error {
		return newErr(KindState, op, CodeStaleOwnerCannotAppend, "StaleOwnerCannotAppend (%s; execution %s, attempt %d)",
			why, p.ExecutionID, p.AttemptIndex)
	}
	switch {
	case lifecycle != "active":
		return newErr(KindState, op, CodeStreamClosed, "StreamClosed (execution is %s)", lifecycle)
	case ownership == "lease_revoked" || ownership == "lease_expired_reclaimable":
		return stale(ownership)
	case !epoch.Valid || execIdx != idx:
		return stale("not the current attempt")
	case leaseID.String != p.LeaseID:
		return stale("lease id does not match")
	case uint64(epoch.Int64) != p.LeaseEpoch:
		return stale("lease epoch moved")
	case closed || outcome.Valid:
		return newErr(KindState, op, CodeStreamClosed, "StreamClosed (attempt %d ended)", idx)
	case !expires.Valid || expires.Int64 <= w.now:
		return stale("lease expired")
	}
	return stale("fence changed")
}

// fieldsJSON renders a frame's fields in upstream's order, without HTML
// escaping (what encoding/json with SetEscapeHTML(false) writes for
// frameFields, built by hand on the append path).
func fieldsJSON(f frameFields) string {
	b := make([]byte, 0, 96+len(f.Payload)+len(f.FrameType))
	b = append(b, `{"frame_type":`...)
	b = appendJSONString(b, f.FrameType)
	b = append(b, `,"ts":`...)
	b = appendJSONString(b, f.TS)
	b = append(b, `,"payload":`...)
	b = appendJSONString(b, f.Payload)
	b = append(b, `,"encoding":`...)
	b = appendJSONString(b, f.Encoding)
	b = append(b, `,"source":`...)
	b = appendJSONString(b, f.Source)
	b = append(b, `,"mode":`...)
	b = appendJSONString(b, f.Mode)
	for _, kv := range [...]struct{ k, v string }{{"correlation_id", f.CorrelationID},
		{"summary_version", f.SummaryVersion}, {"ttl_ms", f.TTLMS}} {
		if kv.v != "" {
			b = append(b, ',', '"')
			b = append(b, kv.k...)
			b = append(b, '"', ':')
			b = appendJSONString(b, kv.v)
		}
	}
	return string(append(b, '}'))
}

// appendJSONString appends s (valid UTF-8) as a JSON string, escaped as
// encoding/json does without HTML escaping.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// streamCloseReason is the close reason of the stream of an attempt that
// ends with outcome and raw_fields patch (C4): the patch's own
// stream_closed_reason when it names one, else the skip's and the
// suspension timeout's, which their failure_reason names, else the
// outcome's.
// An already closed stream keeps its reason (endAttempt).
func streamCloseReason(outcome, patch string) string {
	if strings.Contains(patch, `_reason"`) {
		var p struct {
			Reason      string `json:"failure_reason"`
			CloseReason string `json:"stream_closed_reason"`
		}
		if json.Unmarshal([]byte(patch), &p) == nil {
			switch {
			case p.CloseReason != "":
				return p.CloseReason
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
// reason parameter. The end of an attempt always sets both, as
// canonical's paths do: the only earlier close of a running attempt's
// stream is a lease marked expired (streamMarkSQL), and the reclaim,
// cancel, expiry or skip that ends the attempt later wins over it.
func streamCloseSQL(patch, at, reason string) string {
	return `json_patch(jsonb_patch(raw_fields, ` + patch + `), jsonb_object(
    'stream_closed_at_ms', ` + at + `, 'stream_closed_reason', ` + reason + `))`
}

// streamMarkSQL is streamCloseSQL for a lease marked expired, which
// leaves the attempt running: it closes the stream only if it is open
// (canonical's mark_expired).
func streamMarkSQL(patch, at, reason string) string {
	return `json_patch(jsonb_patch(raw_fields, ` + patch + `), jsonb_object(
    'stream_closed_at_ms', COALESCE(json_extract(raw_fields, '$.stream_closed_at_ms'), ` + at + `),
    'stream_closed_reason', COALESCE(json_extract(raw_fields, '$.stream_closed_reason'), ` + reason + `)))`
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
// stream's next append or close in this process, and how many waiters
// hold it: the entry goes at the notify or when its last waiter leaves.
// Its zero value is ready.
type streamHub struct {
	mu sync.Mutex
	m  map[streamKey]*streamWaiters
}

type streamWaiters struct {
	ch chan struct{}
	n  int
}

func (h *streamHub) wait(k streamKey) (<-chan struct{}, func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[streamKey]*streamWaiters{}
	}
	e, ok := h.m[k]
	if !ok {
		e = &streamWaiters{ch: make(chan struct{})}
		h.m[k] = e
	}
	e.n++
	var once sync.Once
	return e.ch, func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if e.n--; e.n == 0 && h.m[k] == e {
				delete(h.m, k)
			}
		})
	}
}

func (h *streamHub) notify(k streamKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e, ok := h.m[k]; ok {
		close(e.ch)
		delete(h.m, k)
	}
}

// StreamChanged returns a channel closed when the stream of attempt idx
// of id next gets a frame or closes through this process (another
// process's appends are seen only by reading again), and the release the
// waiter calls once it stops waiting. Take it before reading, so no
// append slips between the read and the wait.
func (b *Backend) StreamChanged(id ExecutionID, idx uint32) (<-chan struct{}, func()) {
	part, key := id.key()
	return b.in.streams.wait(streamKey{part: part, key: string(key), idx: int64(idx)})
}
