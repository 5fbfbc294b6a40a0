package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ffsqlite/ffsqlite/backend"
)

// envelope is ff-server's JSON error body: {"error","kind"?,"retryable"?}.
type envelope struct {
	Error     string `json:"error"`
	Kind      string `json:"kind,omitempty"`
	Retryable *bool  `json:"retryable,omitempty"`
}

func boolPtr(b bool) *bool { return &b }

// writeJSON writes v with status and the JSON content type. The body is
// byte-for-byte what ff-server (serde_json) sends: no trailing newline and
// no HTML escaping of <, > and &.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"error":%q,"retryable":false}`, "encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// encodeJSON is the body writeJSON sends for v, for answers written
// outside a handler (rawerrors.go).
func encodeJSON(v any) []byte {
	var b bodyWriter
	writeJSON(&b, http.StatusOK, v)
	return b.body.Bytes()
}

// bodyWriter is a ResponseWriter that keeps only the body.
type bodyWriter struct {
	h    http.Header
	body bytes.Buffer
}

func (b *bodyWriter) Header() http.Header {
	if b.h == nil {
		b.h = http.Header{}
	}
	return b.h
}
func (b *bodyWriter) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bodyWriter) WriteHeader(int)             {}

// writeError writes the envelope for a plain message.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, envelope{Error: msg})
}

// engineStatus maps the engine's typed errors to ff-server's status codes
// and envelopes (server-api.md §1.3).
func engineStatus(err error) (int, envelope) {
	var e *backend.Error
	if !errors.As(err, &e) {
		return http.StatusInternalServerError, envelope{Error: "engine: " + err.Error(), Retryable: boolPtr(false)}
	}
	detail := e.Msg
	switch e.Kind {
	case backend.KindNotFound:
		return http.StatusNotFound, envelope{Error: detail}
	case backend.KindValidation:
		return http.StatusBadRequest, envelope{Error: coded(or(e.Code, "validation_error"), detail)}
	case backend.KindConflict:
		code := or(e.Code, "conflict")
		return http.StatusConflict, envelope{Error: coded(code, detail), Kind: code, Retryable: boolPtr(false)}
	case backend.KindContention:
		// Upstream's RetryExhausted (500) has no SQLite source: exhausted
		// busy retries are KindTransport here, as upstream's SQLite
		// backend reports them, so it has no mapping.
		switch e.Code {
		case "rate_limit_exceeded", "concurrency_limit_exceeded":
			return http.StatusTooManyRequests, envelope{Error: coded(e.Code, detail), Kind: e.Code, Retryable: boolPtr(true)}
		}
		if debugContention[e.Code] {
			// Upstream's Contention(<Debug>) rendering, "contention: <Debug>".
			return http.StatusConflict, envelope{Error: "contention: " + detail, Kind: "contention", Retryable: boolPtr(true)}
		}
		return http.StatusConflict, envelope{Error: coded(or(e.Code, "contention"), detail), Kind: "contention", Retryable: boolPtr(true)}
	case backend.KindState:
		if e.Code == "execution_not_eligible" {
			// Upstream classifies ExecutionNotEligible (priority change of a
			// non-waiting execution) as Contention: 409 contention, retryable.
			return http.StatusConflict, envelope{Error: coded(e.Code, detail), Kind: "contention", Retryable: boolPtr(true)}
		}
		if !stateKindsOnWire[e.Code] {
			// engine-canonical.md C10: every other State kind answers
			// "state_conflict: <Debug>" (the engine's Msg is the Debug name).
			return http.StatusConflict, envelope{Error: coded("state_conflict", detail), Kind: "state_conflict", Retryable: boolPtr(false)}
		}
		return http.StatusConflict, envelope{Error: coded(e.Code, detail), Kind: e.Code, Retryable: boolPtr(false)}
	case backend.KindUnavailable:
		return http.StatusServiceUnavailable, envelope{Error: "backend op unavailable: " + or(e.Op, e.Code), Kind: "unavailable", Retryable: boolPtr(false)}
	}
	return http.StatusInternalServerError, envelope{Error: "engine: " + err.Error(), Kind: "transport", Retryable: boolPtr(true)}
}

// stateKindsOnWire are the State codes ff-server names in `kind`
// (engine-canonical.md C10); any other State error is state_conflict.
var stateKindsOnWire = map[string]bool{
	"execution_not_terminal": true, "max_replays_exhausted": true, "replay_not_allowed": true,
	"not_runnable": true, "terminal": true, "flow_already_terminal": true, "budget_exceeded": true,
	"budget_soft_exceeded": true, "already_satisfied": true,
}

// debugContention are the contention codes whose message is upstream's
// Debug name, rendered "contention: <Debug>" as ff-server does (the lease
// codes keep ffsqlite's documented "<code>: …" form).
var debugContention = map[string]bool{"waitpoint_not_found": true, "stale_graph_revision": true}

// coded renders "<code>: <detail>" without repeating a code the engine's
// message already starts with.
func coded(code, detail string) string {
	if detail == "" || detail == code {
		return code
	}
	if strings.HasPrefix(detail, code+":") {
		return detail
	}
	return code + ": " + detail
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// writeEngineError writes err through engineStatus.
func writeEngineError(w http.ResponseWriter, err error) {
	status, env := engineStatus(err)
	writeJSON(w, status, env)
}
