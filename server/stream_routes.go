package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
)

// Attempt streams: routes 15 (range) and 16 (tail, long-poll), and
// ffsqlite's worker append and progress calls (extensions).

// DefaultMaxStreamOps is how many stream reads and tails may run at once
// when Config.MaxStreamOps is 0 (upstream's FF_MAX_CONCURRENT_STREAM_OPS
// default).
const DefaultMaxStreamOps = 64

// streamOps is the server's stream-read state: the semaphore of
// concurrent reads and the tails' test hook.
type streamOps struct {
	once sync.Once
	sem  chan struct{}
	max  int
	// waitHook, set by tests before serving, runs each time a tail starts
	// waiting for a frame.
	waitHook func()
}

// acquire takes a stream-op slot; false means the server is at its cap and
// the caller answered 429.
func (s *Server) acquireStreamOp(w http.ResponseWriter) (release func(), ok bool) {
	o := &s.streams
	o.once.Do(func() {
		o.max = s.cfg.MaxStreamOps
		if o.max <= 0 {
			o.max = DefaultMaxStreamOps
		}
		o.sem = make(chan struct{}, o.max)
	})
	select {
	case o.sem <- struct{}{}:
		return func() { <-o.sem }, true
	default:
		writeJSON(w, http.StatusTooManyRequests, envelope{
			Error:     fmt.Sprintf("too many concurrent stream_ops calls (server max: %d); retry with backoff", o.max),
			Kind:      "resource_exhausted",
			Retryable: boolPtr(true)})
		return nil, false
	}
}

// queryError answers a query parameter that does not parse as upstream's
// query extractor does: a plain-text 400.
func queryError(w http.ResponseWriter, msg string) {
	http.Error(w, "Failed to deserialize query string: "+msg, http.StatusBadRequest)
}

// streamPath parses {id} and {idx}; false means it answered 400.
func streamPath(w http.ResponseWriter, r *http.Request) (backend.ExecutionID, uint32, bool) {
	id, ok := pathID(w, r)
	if !ok {
		return id, 0, false
	}
	raw := r.PathValue("idx")
	idx, err := strconv.ParseUint(raw, 10, 32)
	if err != nil {
		http.Error(w, fmt.Sprintf("Invalid URL: Cannot parse `%s` to a `u32`", raw), http.StatusBadRequest)
		return id, 0, false
	}
	return id, uint32(idx), true
}

// queryUint parses query parameter field as upstream's u64 / usize: ok
// false means it answered the extractor's plain-text 400 (not digits, or
// past u64). A value past maxInt is clamped to it: the range checks that
// follow refuse it with their own message.
func queryUint(w http.ResponseWriter, v, field string, maxInt int64) (int64, bool) {
	n, err := strconv.ParseUint(v, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		queryError(w, field+": number too large to fit in target type")
		return 0, false
	case err != nil:
		queryError(w, field+": invalid digit found in string")
		return 0, false
	case n > uint64(maxInt):
		return maxInt, true
	}
	return int64(n), true
}

// queryLimit parses limit (def when absent) as a usize; range checks are
// the backend's (CheckStreamLimit).
func queryLimit(w http.ResponseWriter, r *http.Request, def int) (int, bool) {
	v, ok := r.URL.Query()["limit"]
	if !ok {
		return def, true
	}
	n, ok := queryUint(w, v[0], "limit", backend.MaxStreamReadLimit+1)
	return int(n), ok
}

// streamCursor parses a range cursor; false means it answered 400.
func streamCursor(w http.ResponseWriter, r *http.Request, field, def string, upper bool) (backend.StreamCursor, bool) {
	v := def
	if vs, ok := r.URL.Query()[field]; ok {
		v = vs[0]
	}
	c, err := backend.ParseStreamCursor(field, v, upper)
	if err != nil {
		queryError(w, err.Error())
		return c, false
	}
	return c, true
}

// streamLimit reads a stream route's limit (def when absent) and checks
// its range (tail: a tail's bound); a bad one is answered 400 and ok is
// false.
func streamLimit(w http.ResponseWriter, r *http.Request, def int, tail bool) (int, bool) {
	limit, ok := queryLimit(w, r, def)
	if !ok {
		return 0, false
	}
	if err := backend.CheckStreamLimit(limit, tail); err != nil {
		writeError(w, http.StatusBadRequest, invalidInput(err))
		return 0, false
	}
	return limit, true
}

// Route 15: GET /v1/executions/{id}/attempts/{idx}/stream?from=&to=&limit=
func (s *Server) readStream(w http.ResponseWriter, r *http.Request) {
	id, idx, ok := streamPath(w, r)
	if !ok {
		return
	}
	from, ok := streamCursor(w, r, "from", "start", false)
	if !ok {
		return
	}
	to, ok := streamCursor(w, r, "to", "end", true)
	if !ok {
		return
	}
	limit, ok := streamLimit(w, r, 100, false)
	if !ok {
		return
	}
	release, ok := s.acquireStreamOp(w)
	if !ok {
		return
	}
	defer release()
	page, err := s.b.ReadStream(r.Context(), id, idx, from, to, limit)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// Route 16: GET /v1/executions/{id}/attempts/{idx}/stream/tail?after=&block_ms=&limit=
//
// Frames after `after` answer at once; otherwise, with block_ms, the tail
// waits for an append through this server (woken by the engine's stream
// hub, no polling) or, every Config.ClaimPoll, re-reads for appends by
// another process, until block_ms passes: then {"frames":[],"count":0}.
// A closed stream answers at once with its closed markers.
func (s *Server) tailStream(w http.ResponseWriter, r *http.Request) {
	id, idx, ok := streamPath(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	after := backend.StreamStart
	if vs, ok := q["after"]; ok {
		c, err := backend.ParseTailCursor(vs[0])
		var ce *backend.CursorError
		switch {
		case errors.As(err, &ce):
			queryError(w, err.Error())
			return
		case err != nil:
			writeError(w, http.StatusBadRequest, invalidInput(err))
			return
		}
		after = c
	}
	var block int64
	if vs, ok := q["block_ms"]; ok {
		if block, ok = queryUint(w, vs[0], "block_ms", backend.MaxTailBlockMS+1); !ok {
			return
		}
	}
	if err := backend.CheckTailBlock(block); err != nil {
		writeError(w, http.StatusBadRequest, invalidInput(err))
		return
	}
	limit, ok := streamLimit(w, r, 50, true)
	if !ok {
		return
	}
	release, ok := s.acquireStreamOp(w)
	if !ok {
		return
	}
	defer release()
	page, err := s.tailWait(r, id, idx, after, limit, time.Duration(block)*time.Millisecond)
	switch {
	case r.Context().Err() != nil:
		// The client went away: nothing to answer.
	case err != nil:
		writeEngineError(w, err)
	default:
		writeJSON(w, http.StatusOK, page)
	}
}

// tailWait tails, waiting up to block for a frame (see tailStream).
func (s *Server) tailWait(r *http.Request, id backend.ExecutionID, idx uint32, after backend.StreamCursor, limit int, block time.Duration) (*backend.StreamFrames, error) {
	ctx := r.Context()
	deadline := time.Now().Add(block)
	for {
		changed, release := s.b.StreamChanged(id, idx) // before the read: no append slips between
		page, err := s.b.TailStream(ctx, id, idx, after, limit)
		left := time.Until(deadline)
		if err != nil || page.Count > 0 || page.Closed() || left <= 0 {
			release()
			return page, err
		}
		if hook := s.streams.waitHook; hook != nil {
			hook()
		}
		t := time.NewTimer(min(left, s.cfg.ClaimPoll))
		var done bool
		select {
		case <-ctx.Done():
			done = true
		case <-s.quit:
			done = true
		case <-changed:
		case <-t.C:
		}
		t.Stop()
		release()
		if done {
			return page, nil
		}
	}
}

// framePayload is a frame's payload on the wire: a JSON string (its
// text) or an array of integers 0–255 (upstream's Vec<u8>).
type framePayload []byte

func (p *framePayload) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*p = []byte(s)
		return nil
	}
	var b backend.Bytes
	if err := b.UnmarshalJSON(data); err != nil {
		return err
	}
	*p = framePayload(b)
	return nil
}

// POST /v1/worker/frames {"handle","frame_type","payload","mode"?,
// "correlation_id"?,"ttl_ms"?} → {"stream_id","frame_count","summary_version"?}
func (s *Server) workerAppendFrame(w http.ResponseWriter, r *http.Request) {
	var body struct {
		handleBody
		FrameType     string       `json:"frame_type"`
		Payload       framePayload `json:"payload"`
		Mode          string       `json:"mode"`
		CorrelationID string       `json:"correlation_id"`
		TTLMS         int64        `json:"ttl_ms"`
	}
	if !decodeJSON(w, r, limitCreate, "/v1/worker/frames", &body, "handle", "frame_type", "payload") {
		return
	}
	res, err := s.b.AppendFrame(r.Context(), body.Handle, backend.AppendFrameArgs{FrameType: body.FrameType,
		Payload: body.Payload, Mode: body.Mode, CorrelationID: body.CorrelationID, TTLMS: body.TTLMS})
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// POST /v1/worker/progress {"handle","progress_pct","message"} → "Ok"
func (s *Server) workerProgress(w http.ResponseWriter, r *http.Request) {
	var body struct {
		handleBody
		Pct     int    `json:"progress_pct"`
		Message string `json:"message"`
	}
	if !decodeJSON(w, r, limitDefault, "/v1/worker/progress", &body, "handle", "progress_pct") {
		return
	}
	if err := s.b.UpdateProgress(r.Context(), body.Handle, body.Pct, body.Message); err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, "Ok")
}

// ParseMaxStreamOps parses FF_MAX_CONCURRENT_STREAM_OPS: unset is 0 (the
// default), else a positive integer.
func ParseMaxStreamOps(v string, set bool) (int, error) {
	if !set {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("invalid value for FF_MAX_CONCURRENT_STREAM_OPS: %q (want a positive integer)", v)
	}
	return n, nil
}
