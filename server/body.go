package server

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
)

// Body limits per route (server-api.md §1.4).
const (
	limitCreate  = 1 << 20   // POST /v1/executions
	limitSignal  = 256 << 10 // POST …/signal
	limitDefault = 64 << 10  // every other POST/PUT
)

// tooLarge writes the 413 envelope naming the limit and route template.
func tooLarge(w http.ResponseWriter, limit int64, route string) {
	writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{
		"error": "payload_too_large", "limit_bytes": limit, "route": route})
}

// readBody enforces the route's limit up front from Content-Length and
// while reading. It reports false after writing the 413.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, route string) ([]byte, bool) {
	if r.ContentLength > limit {
		tooLarge(w, limit, route)
		return nil, false
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid body: "+err.Error())
		return nil, false
	}
	if int64(len(data)) > limit {
		tooLarge(w, limit, route)
		return nil, false
	}
	return data, true
}

// decodeJSON reads a JSON body into v with ff-server's rejections: 413
// over the route's limit, 415 without a JSON content type, 400 for a
// syntax error, 422 for a body of the wrong shape or missing a required
// top-level field.
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
