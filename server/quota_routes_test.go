package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/server"
)

// Route 26: create a quota policy, idempotent by id, limits stored once.
func TestQuotaRoute(t *testing.T) {
	t.Parallel()
	for _, mode := range backends {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			clk := testdb.NewClock(epoch)
			b := mode.open(t, testdb.WithClock(clk.Now))
			a := newAPI(t, b, server.Config{})
			const qid = "6c8e2f0a-1b2c-4d3e-8f40-5a6b7c8d9e0f"
			body := func(window, max, conc int) map[string]any {
				return map[string]any{"quota_policy_id": qid, "window_seconds": window, "max_requests_per_window": max,
					"max_concurrent": conc, "now": 1}
			}
			a.do("POST", "/v1/quotas", body(60, 100, 10)).wantJSON(t, http.StatusCreated, `{"Created":{"quota_policy_id":"`+qid+`"}}`)
			// Again with other limits: AlreadySatisfied, the stored ones kept.
			a.do("POST", "/v1/quotas", body(1, 2, 3)).wantJSON(t, http.StatusOK, `{"AlreadySatisfied":{"quota_policy_id":"`+qid+`"}}`)
			var window, max, conc, active, created int64
			if err := b.ReaderDB().QueryRowContext(context.Background(), `SELECT requests_per_window_seconds, max_requests_per_window,
				active_concurrency_cap, active_concurrency, created_at_ms FROM ff_quota_policy WHERE quota_policy_id = ?`, qid).
				Scan(&window, &max, &conc, &active, &created); err != nil {
				t.Fatal(err)
			}
			if window != 60 || max != 100 || conc != 10 || active != 0 || created != epoch {
				t.Fatalf("stored %d %d %d %d %d", window, max, conc, active, created)
			}
			// No validation of the values (upstream has none: window 0 is
			// stored), but the types are checked as serde checks them.
			const other = "0f1e2d3c-4b5a-4697-8877-665544332211"
			zero := body(0, 0, 0)
			zero["quota_policy_id"] = other
			a.do("POST", "/v1/quotas", zero).wantJSON(t, http.StatusCreated, `{"Created":{"quota_policy_id":"`+other+`"}}`)
			for name, bad := range map[string]map[string]any{
				"missing field": {"quota_policy_id": qid, "window_seconds": 1, "max_requests_per_window": 1, "now": 1},
				"null field":    {"quota_policy_id": qid, "window_seconds": 1, "max_requests_per_window": 1, "max_concurrent": nil, "now": 1},
				"not a uuid":    {"quota_policy_id": "q1", "window_seconds": 1, "max_requests_per_window": 1, "max_concurrent": 1, "now": 1},
				"negative":      {"quota_policy_id": qid, "window_seconds": -1, "max_requests_per_window": 1, "max_concurrent": 1, "now": 1},
			} {
				r := a.do("POST", "/v1/quotas", bad)
				if r.status != http.StatusUnprocessableEntity || r.body != `{"error":"invalid JSON: Unprocessable Entity"}` {
					t.Errorf("%s: %d %s", name, r.status, r.body)
				}
			}
			huge := body(1, 1, 1)
			huge["quota_policy_id"] = "11111111-2222-4333-8444-555555555555"
			huge["window_seconds"] = uint64(1) << 63
			a.do("POST", "/v1/quotas", huge).wantJSON(t, http.StatusBadRequest,
				`{"error":"invalid_input: window_seconds: out of range (at most 9223372036854775807)"}`)
		})
	}
}
