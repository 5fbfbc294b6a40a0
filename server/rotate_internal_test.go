package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Route 27 during another rotation: ff-server's
// ConcurrencyLimitExceeded("admin_rotate", 1) envelope, which carries no
// kind (api.rs renders kind: None, retryable: Some(true)); the body is
// validated before the gate.
func TestRotateWhileRotating(t *testing.T) {
	t.Parallel()
	s := &Server{}
	s.rotating.Lock()
	defer s.rotating.Unlock()
	do := func(body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/v1/admin/rotate-waitpoint-secret", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		s.rotateSecret(w, r)
		return w
	}
	w := do(`{"new_kid":"k2","new_secret_hex":"abab"}`)
	if want := `{"error":"too many concurrent admin_rotate calls (server max: 1); retry with backoff","retryable":true}`; w.Code != http.StatusTooManyRequests || w.Body.String() != want {
		t.Fatalf("busy rotation = %d %s, want 429 %s", w.Code, w.Body.String(), want)
	}
	w = do(`{"new_kid":"k:2","new_secret_hex":"abab"}`)
	if want := `{"error":"new_kid must be non-empty and must not contain ':'"}`; w.Code != http.StatusBadRequest || w.Body.String() != want {
		t.Fatalf("invalid kid during a rotation = %d %s, want 400 %s", w.Code, w.Body.String(), want)
	}
}
