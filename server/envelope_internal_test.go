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
