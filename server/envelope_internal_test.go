package server

import (
	"net/http"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
)

// Every contention code maps to 409 "contention" (retryable), the
// admission codes to 429. Upstream's RetryExhausted has no SQLite source
// (an exhausted busy retry is KindTransport, a 500 retryable), so no
// code is singled out as a 500.
func TestContentionMapping(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		code   string
		status int
		kind   string
	}{
		{backend.CodeStaleLease, http.StatusConflict, "contention"},
		{backend.CodeLeaseRevoked, http.StatusConflict, "contention"},
		{backend.CodeLeaseExpired, http.StatusConflict, "contention"},
		{"retry_exhausted", http.StatusConflict, "contention"},
		{"rate_limit_exceeded", http.StatusTooManyRequests, "rate_limit_exceeded"},
		{"concurrency_limit_exceeded", http.StatusTooManyRequests, "concurrency_limit_exceeded"},
	} {
		status, env := engineStatus(&backend.Error{Kind: backend.KindContention, Code: c.code, Msg: "m"})
		if status != c.status || env.Kind != c.kind || env.Retryable == nil || !*env.Retryable {
			t.Errorf("%s: %d %+v, want %d %s retryable", c.code, status, env, c.status, c.kind)
		}
	}
	status, env := engineStatus(&backend.Error{Kind: backend.KindTransport, Msg: "database is locked"})
	if status != http.StatusInternalServerError || env.Retryable == nil || !*env.Retryable {
		t.Errorf("transport: %d %+v", status, env)
	}
}

// A validation message that already starts with its code (the capability
// checks write "invalid_capabilities: …") is not prefixed a second time.
func TestValidationMessageNamesCodeOnce(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ code, msg, want string }{
		{"invalid_capabilities", "invalid_capabilities: token 1 is empty", "invalid_capabilities: token 1 is empty"},
		{"invalid_input", "lease_ttl_ms: must be positive", "invalid_input: lease_ttl_ms: must be positive"},
		{"invalid_input", "invalid_input", "invalid_input"},
		{"", "", "validation_error"},
	} {
		status, env := engineStatus(&backend.Error{Kind: backend.KindValidation, Code: c.code, Msg: c.msg})
		if status != http.StatusBadRequest || env.Error != c.want {
			t.Errorf("%q/%q: %d %q, want 400 %q", c.code, c.msg, status, env.Error, c.want)
		}
	}
}

// active_attempt_exists is upstream's Conflict kind (server-api.md §1.3):
// 409 named by its code, not retryable, unlike the other grant-consumption
// refusals (contention).
func TestActiveAttemptExistsIsAConflict(t *testing.T) {
	t.Parallel()
	status, env := engineStatus(&backend.Error{Kind: backend.KindConflict, Code: backend.CodeActiveAttemptExists, Msg: "ActiveAttemptExists"})
	if status != http.StatusConflict || env.Error != "active_attempt_exists: ActiveAttemptExists" ||
		env.Kind != "active_attempt_exists" || env.Retryable == nil || *env.Retryable {
		t.Fatalf("%d %+v", status, env)
	}
}
