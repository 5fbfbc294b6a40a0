package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"
)

// Body limits per route (server-api.md §1.4).
const (
	limitCreate  = 1 << 20   // POST /v1/executions
	limitSignal  = 256 << 10 // POST …/signal
	limitDefault = 64 << 10  // every other POST/PUT
)

// An oversized body is read and thrown away, up to drainCap bytes and for
// at most drainTimeout, before the 413 is written: a client that sends its
// whole body before reading (Python's urllib, most scripts) then sees the
// 413 instead of a connection reset, which is what it gets when the server
// closes a socket with unread data. Past the cap the server answers at
// once and closes.
const (
	drainCap     = 8 << 20
	drainTimeout = 10 * time.Second
)

// tooLarge discards the rest of the body, then writes the 413 envelope
// naming the limit and route template.
func tooLarge(w http.ResponseWriter, r *http.Request, limit int64, route string) {
	discardBody(w, r)
	writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{
		"error": "payload_too_large", "limit_bytes": limit, "route": route})
}

// discardBody reads what is left of r's body, up to drainCap, with a read
// deadline. A client that asked "Expect: 100-continue" has sent nothing
// yet and is not asked to (reading would send the 100), and a declared
// length over the cap is not worth reading: both get "Connection: close".
func discardBody(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > drainCap || strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		w.Header().Set("Connection", "close")
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(drainTimeout)) // unsupported under httptest.ResponseRecorder: fine
	n, err := io.CopyN(io.Discard, r.Body, drainCap)
	if n == drainCap || (err != nil && err != io.EOF) {
		w.Header().Set("Connection", "close")
	}
	_ = rc.SetReadDeadline(time.Time{})
}

// bodyTimeoutKey carries Config.BodyReadTimeout in a request's context
// (bodyDeadline), for readBody.
type bodyTimeoutKey struct{}

// bodyDeadline hands every request the server's body read timeout.
func bodyDeadline(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), bodyTimeoutKey{}, d)))
	})
}

// readBody enforces the route's limit up front from Content-Length and
// while reading, within the server's body read timeout. It reports false
// after writing the 413, or the 408 for a body that stopped arriving (the
// connection then closes).
func readBody(w http.ResponseWriter, r *http.Request, limit int64, route string) ([]byte, bool) {
	if r.ContentLength > limit {
		tooLarge(w, r, limit, route)
		return nil, false
	}
	if d, ok := r.Context().Value(bodyTimeoutKey{}).(time.Duration); ok && d > 0 {
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(d)) == nil { // not under httptest.ResponseRecorder
			defer rc.SetReadDeadline(time.Time{})
		}
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusRequestTimeout, "request body not received in time")
		return nil, false
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid body: "+err.Error())
		return nil, false
	}
	if int64(len(data)) > limit {
		tooLarge(w, r, limit, route)
		return nil, false
	}
	return data, true
}

// decodeJSON reads a JSON body into v with ff-server's rejections: 413
// over the route's limit, 415 without a JSON content type, 400 for a
// syntax error, 422 for a body of the wrong shape or missing a required
// top-level field. Text that is not UTF-8 is a syntax error (400), as
// serde_json has it, never decoded with U+FFFD in place of the bad bytes;
// so are nesting past 128 and a lone surrogate escape, and a key repeated
// in an object is 422 (bodyShape).
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, route string, v any, required ...string) bool {
	data, ok := readBody(w, r, limit, route)
	if !ok {
		return false
	}
	return decodeBody(w, r, data, v, required...)
}

// decodeBody is decodeJSON for a body already read (readBody): 415, 400
// and 422 as decodeJSON.
func decodeBody(w http.ResponseWriter, r *http.Request, data []byte, v any, required ...string) bool {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		invalidJSON(w, http.StatusUnsupportedMediaType)
		return false
	}
	if !utf8.Valid(data) {
		invalidJSON(w, http.StatusBadRequest)
		return false
	}
	status, foldable := bodyShape(data)
	if status != 0 {
		invalidJSON(w, status)
		return false
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		// Unmarshal checks the whole text first: a syntax error is 400,
		// valid JSON that is not an object is the wrong shape (422).
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			invalidJSON(w, http.StatusBadRequest)
		} else {
			invalidJSON(w, http.StatusUnprocessableEntity)
		}
		return false
	}
	for _, n := range required {
		if v, ok := raw[n]; !ok || string(v) == "null" {
			invalidJSON(w, http.StatusUnprocessableEntity)
			return false
		}
	}
	// A key that only case-folds to a field's name is ignored, as serde
	// ignores unknown keys, instead of setting the field.
	if foldable {
		data, _ = dropCaseVariants(data, reflect.TypeOf(v))
	}
	if err := json.Unmarshal(data, v); err != nil {
		invalidJSON(w, http.StatusUnprocessableEntity)
		return false
	}
	return true
}

// invalidJSON writes {"error":"invalid JSON: <reason phrase>"}.
func invalidJSON(w http.ResponseWriter, status int) {
	writeError(w, status, "invalid JSON: "+http.StatusText(status))
}
