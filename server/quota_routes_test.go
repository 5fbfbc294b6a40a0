package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
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

// The ffsqlite extension policy.quota_policy_id on route 2: an unknown or
// malformed id is refused with no write; an attached execution is held to
// its quota by the worker claim (rate 1: the second is rate_limited, its
// blocking detail naming the quota).
func TestQuotaAttachmentRoutes(t *testing.T) {
	t.Parallel()
	for _, mode := range backends {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			clk := testdb.NewClock(epoch)
			b := mode.open(t, testdb.WithClock(clk.Now))
			a := newAPI(t, b, server.Config{})
			const qid = "6c8e2f0a-1b2c-4d3e-8f40-5a6b7c8d9e0f"
			a.do("POST", "/v1/quotas", map[string]any{"quota_policy_id": qid, "window_seconds": 60,
				"max_requests_per_window": 1, "max_concurrent": 0, "now": 1}).wantJSON(t, http.StatusCreated,
				`{"Created":{"quota_policy_id":"`+qid+`"}}`)
			for _, c := range []struct {
				name   string
				policy any
				status int
				body   string
			}{
				{"unknown", map[string]any{"quota_policy_id": "0f1e2d3c-4b5a-4697-8877-665544332211"}, http.StatusBadRequest,
					`{"error":"invalid_input: policy.quota_policy_id: no quota policy 0f1e2d3c-4b5a-4697-8877-665544332211 (create it with POST /v1/quotas first)"}`},
				{"malformed", map[string]any{"quota_policy_id": "q1"}, http.StatusBadRequest,
					`{"error":"invalid_input: policy.quota_policy_id: not a valid UUID: \"q1\""}`},
			} {
				r := a.do("POST", "/v1/executions", createArgs(backend.NewExecutionID(3), map[string]any{"policy": c.policy}))
				if r.status != c.status || r.body != c.body {
					t.Errorf("%s: %d %s", c.name, r.status, r.body)
				}
			}
			if r := a.do("POST", "/v1/executions", createArgs(backend.NewExecutionID(3), map[string]any{"policy": map[string]any{"quota_policy_id": 7}})); r.status < 400 || r.status > 499 {
				t.Errorf("non-string id: %d %s", r.status, r.body)
			}
			if n := sqlCount(t, b, `SELECT count(*) FROM ff_exec_core`); n != 0 {
				t.Fatalf("%d executions written by refused creates", n)
			}
			policy := map[string]any{"policy": map[string]any{"quota_policy_id": qid}}
			first, second := a.create(1, policy), a.create(2, policy)
			if l := a.claim(nil); l == nil || l.ExecutionID != first.String() {
				t.Fatalf("first claim = %+v", l)
			}
			if l := a.claim(nil); l != nil {
				t.Fatalf("second claim = %+v; want 204", l)
			}
			var info struct {
				PublicState string `json:"public_state"`
				StateVector struct {
					EligibilityState string `json:"eligibility_state"`
					BlockingReason   string `json:"blocking_reason"`
				} `json:"state_vector"`
				BlockingDetail string `json:"blocking_detail"`
			}
			a.do("GET", ep(second), nil).decode(t, &info)
			if info.PublicState != "rate_limited" || info.StateVector.BlockingReason != "waiting_for_quota" ||
				info.StateVector.EligibilityState != "blocked_by_quota" ||
				info.BlockingDetail != "quota "+qid+": rate limit 1 per 60s reached (retry after 60000 ms)" {
				t.Fatalf("blocked execution: %+v", info)
			}
			if m := a.do("GET", "/metrics", nil); !strings.Contains(m.body, "\nff_quota_hit_total 1\n") {
				t.Errorf("metrics lack ff_quota_hit_total 1:\n%s", m.body)
			}
		})
	}
}
