package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/server"
)

// The execution routes (1, 2, 3, 4, 7) and the worker loop, byte for byte,
// against a database file and an in-memory database.
func TestExecutionRoutesRoundTrip(t *testing.T) {
	t.Parallel()
	for _, mode := range backends {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			clk := testdb.NewClock(epoch)
			a := newAPI(t, mode.open(t, testdb.WithClock(clk.Now)), server.Config{})

			// 2: create → 201 Created; the same id again → 200 Duplicate.
			id := backend.NewExecutionID(7)
			a.do("POST", "/v1/executions", createArgs(id, nil)).
				wantJSON(t, http.StatusCreated, `{"Created":{"execution_id":`+q(id.String())+`,"public_state":"waiting"}}`)
			a.do("POST", "/v1/executions", createArgs(id, map[string]any{"execution_kind": "other"})).
				wantJSON(t, http.StatusOK, `{"Duplicate":{"execution_id":`+q(id.String())+`}}`)
			// A future delay_until starts delayed.
			delayed := backend.NewExecutionID(7)
			a.do("POST", "/v1/executions", createArgs(delayed, map[string]any{"delay_until": epoch + 60_000})).
				wantJSON(t, http.StatusCreated, `{"Created":{"execution_id":`+q(delayed.String())+`,"public_state":"delayed"}}`)

			// 3: full info, created_at as a string, no started/completed yet.
			a.do("GET", ep(id), nil).wantJSON(t, http.StatusOK, `{"execution_id":`+q(id.String())+
				`,"namespace":"ns","lane_id":"default","priority":5,"execution_kind":"email","state_vector":{`+
				`"lifecycle_phase":"runnable","ownership_state":"unowned","eligibility_state":"eligible_now",`+
				`"blocking_reason":"waiting_for_worker","terminal_outcome":"none","attempt_state":"pending_first_attempt",`+
				`"public_state":"waiting"},"public_state":"waiting","created_at":"1700000000000",`+
				`"current_attempt_index":0,"flow_id":null,"blocking_detail":""}`)
			// 4: a bare JSON string.
			a.do("GET", ep(id)+"/state", nil).wantJSON(t, http.StatusOK, `"waiting"`)
			a.do("GET", ep(delayed)+"/state", nil).wantJSON(t, http.StatusOK, `"delayed"`)
			// 7: nothing stored yet.
			a.do("GET", ep(id)+"/result", nil).
				wantJSON(t, http.StatusNotFound, `{"error":"execution result not found: `+id.String()+`"}`)

			// Worker claim: the lease, input payload as an integer array.
			clk.Advance(5 * time.Millisecond)
			r := a.do("POST", "/v1/worker/claim", claimArgs(nil))
			if r.status != http.StatusOK {
				t.Fatalf("claim: %d %s", r.status, r.body)
			}
			var l wireLease
			r.decode(t, &l)
			if l.ExecutionID != id.String() || l.AttemptIndex != 0 || l.AttemptType != "initial" || l.LeaseEpoch != 1 ||
				l.ExpiresAtMS != epoch+5+30000 || l.Handle == "" || len(l.InputPayload) != 2 || l.InputPayload[0] != 123 {
				t.Fatalf("lease %+v", l)
			}
			if !strings.Contains(r.body, `"input_payload":[123,125]`) {
				t.Fatalf("input_payload not an integer array: %s", r.body)
			}
			a.do("GET", ep(id)+"/state", nil).wantJSON(t, http.StatusOK, `"active"`)
			// The delayed one is not claimable yet.
			if l2 := a.claim(nil); l2 != nil {
				t.Fatalf("claimed %s before its delay", l2.ExecutionID)
			}

			// Renew: new expiry, same epoch.
			clk.Advance(10 * time.Millisecond)
			a.do("POST", "/v1/worker/renew", map[string]any{"handle": l.Handle, "lease_ttl_ms": 60000}).
				wantJSON(t, http.StatusOK, `{"expires_at_ms":`+ms(epoch+15+60000)+`,"lease_epoch":1}`)

			// Complete with result bytes "ok".
			clk.Advance(10 * time.Millisecond)
			a.complete(&l, []int{111, 107}).wantJSON(t, http.StatusOK, `"Completed"`)
			a.do("GET", ep(id)+"/state", nil).wantJSON(t, http.StatusOK, `"completed"`)
			r = a.do("GET", ep(id)+"/result", nil)
			r.want(t, http.StatusOK, "ok")
			if ct := r.header.Get("Content-Type"); ct != "application/octet-stream" {
				t.Fatalf("result Content-Type %q", ct)
			}
			a.do("GET", ep(id), nil).wantJSON(t, http.StatusOK, `{"execution_id":`+q(id.String())+
				`,"namespace":"ns","lane_id":"default","priority":5,"execution_kind":"email","state_vector":{`+
				`"lifecycle_phase":"terminal","ownership_state":"unowned","eligibility_state":"not_applicable",`+
				`"blocking_reason":"none","terminal_outcome":"success","attempt_state":"attempt_terminal",`+
				`"public_state":"completed"},"public_state":"completed","created_at":"1700000000000",`+
				`"started_at":"1700000000005","completed_at":"1700000000025",`+
				`"current_attempt_index":0,"flow_id":null,"blocking_detail":""}`)
		})
	}
}

// Route 1: ids in ascending order, cursor paging, the partition filter and
// its errors.
func TestListExecutions(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{})
	var ids []string
	for range 3 {
		ids = append(ids, a.create(4, nil).String())
	}
	other := a.create(5, nil)
	sortStrings(ids)

	a.do("GET", "/v1/executions?partition=4", nil).wantJSON(t, http.StatusOK,
		`{"executions":[`+q(ids[0])+`,`+q(ids[1])+`,`+q(ids[2])+`],"next_cursor":null}`)
	a.do("GET", "/v1/executions?partition=4&limit=2", nil).wantJSON(t, http.StatusOK,
		`{"executions":[`+q(ids[0])+`,`+q(ids[1])+`],"next_cursor":`+q(ids[1])+`}`)
	a.do("GET", "/v1/executions?partition=4&limit=2&cursor="+strings.NewReplacer("{", "%7B", "}", "%7D").Replace(ids[1]), nil).
		wantJSON(t, http.StatusOK, `{"executions":[`+q(ids[2])+`],"next_cursor":null}`)
	a.do("GET", "/v1/executions?partition=5&cursor=", nil).wantJSON(t, http.StatusOK,
		`{"executions":[`+q(other.String())+`],"next_cursor":null}`)
	a.do("GET", "/v1/executions?partition=9", nil).wantJSON(t, http.StatusOK, `{"executions":[],"next_cursor":null}`)

	a.do("GET", "/v1/executions?partition=4&cursor=nope", nil).wantJSON(t, http.StatusBadRequest,
		`{"error":"invalid cursor: execution_id is missing the `+"`{fp:N}:`"+` hash-tag prefix: nope"}`)
	// Query extractor failures are plain-text 400s, as axum's.
	for _, query := range []string{"", "?partition=x", "?partition=70000", "?partition=1&limit=x"} {
		r := a.do("GET", "/v1/executions"+query, nil)
		if r.status != http.StatusBadRequest || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
			t.Errorf("list%s: %d %q %s", query, r.status, r.header.Get("Content-Type"), r.body)
		}
	}
}

func sortStrings(s []string) {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
}

// Routes 8, 10, 11, 12: the operator routes, success and refusal shapes.
func TestOperatorRoutes(t *testing.T) {
	t.Parallel()
	for _, mode := range backends {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			clk := testdb.NewClock(epoch)
			a := newAPI(t, mode.open(t, testdb.WithClock(clk.Now)), server.Config{})

			// 10: priority of a waiting execution.
			waiting := a.create(1, nil)
			a.do("PUT", ep(waiting)+"/priority", map[string]any{"new_priority": 9}).
				wantJSON(t, http.StatusOK, `{"Changed":{"execution_id":`+q(waiting.String())+`}}`)
			// The highest priority is claimed first.
			low := a.create(1, map[string]any{"priority": 1})
			l := a.claim(nil)
			if l.ExecutionID != waiting.String() {
				t.Fatalf("claimed %s, want the priority-9 %s", l.ExecutionID, waiting)
			}
			// ...and an active one may not change priority: 409 contention.
			a.do("PUT", ep(waiting)+"/priority", map[string]any{"new_priority": 1}).wantJSON(t, http.StatusConflict,
				`{"error":"execution_not_eligible: execution `+waiting.String()+` is active","kind":"contention","retryable":true}`)

			// 12: revoke the lease; the holder's calls are refused after.
			r := a.do("POST", ep(waiting)+"/revoke-lease", nil)
			r.wantJSON(t, http.StatusOK, `{"Revoked":{"lease_id":`+q(l.LeaseID)+`,"lease_epoch":"2"}}`)
			a.do("POST", ep(waiting)+"/revoke-lease", nil).
				wantJSON(t, http.StatusOK, `{"AlreadySatisfied":{"reason":"already_revoked"}}`)
			a.do("POST", ep(low)+"/revoke-lease", nil).
				wantJSON(t, http.StatusOK, `{"AlreadySatisfied":{"reason":"no_active_lease"}}`)
			r = a.complete(l, nil)
			if r.status != http.StatusConflict || !strings.Contains(r.body, `"kind":"contention","retryable":true`) ||
				!strings.Contains(r.body, `"error":"lease_revoked: `) {
				t.Fatalf("complete after revoke: %d %s", r.status, r.body)
			}

			// 8: cancel, idempotent re-cancel.
			cancelBody := map[string]any{"execution_id": low.String(), "reason": "no longer needed", "now": epoch}
			want := `{"Cancelled":{"execution_id":` + q(low.String()) + `,"public_state":"cancelled"}}`
			a.do("POST", ep(low)+"/cancel", cancelBody).wantJSON(t, http.StatusOK, want)
			a.do("POST", ep(low)+"/cancel", cancelBody).wantJSON(t, http.StatusOK, want)
			a.do("GET", ep(low)+"/state", nil).wantJSON(t, http.StatusOK, `"cancelled"`)
			// A lease-holder cancel of a leased execution needs the epoch.
			held := a.create(1, nil)
			hl := a.claim(nil)
			if hl.ExecutionID != held.String() {
				t.Fatalf("claimed %s, want %s", hl.ExecutionID, held)
			}
			r = a.do("POST", ep(held)+"/cancel", map[string]any{"execution_id": held.String(), "reason": "r",
				"source": "lease_holder", "lease_epoch": 7, "now": epoch})
			if r.status != http.StatusConflict || !strings.Contains(r.body, `"error":"stale_lease: `) {
				t.Fatalf("stale-epoch cancel: %d %s", r.status, r.body)
			}
			a.do("POST", ep(held)+"/cancel", map[string]any{"execution_id": held.String(), "reason": "r",
				"source": "lease_holder", "lease_epoch": hl.LeaseEpoch, "lease_id": hl.LeaseID, "now": epoch}).
				wantJSON(t, http.StatusOK, `{"Cancelled":{"execution_id":`+q(held.String())+`,"public_state":"cancelled"}}`)

			// Cancel of a completed execution: canonical State(Terminal).
			done := a.create(2, nil)
			dl := a.claim(nil)
			if dl.ExecutionID != done.String() {
				t.Fatalf("claimed %s, want %s", dl.ExecutionID, done)
			}
			a.complete(dl, []int{1}).wantJSON(t, http.StatusOK, `"Completed"`)
			a.do("POST", ep(done)+"/cancel", map[string]any{"execution_id": done.String(), "reason": "late", "now": epoch}).
				wantJSON(t, http.StatusConflict, `{"error":"terminal: execution_id=`+done.String()+
					`: already terminal in state 'completed'","kind":"terminal","retryable":false}`)

			// 11: replay of the completed one; a non-terminal one is refused.
			a.do("POST", ep(done)+"/replay", nil).wantJSON(t, http.StatusOK, `{"Replayed":{"public_state":"waiting"}}`)
			a.do("GET", ep(done)+"/result", nil).
				wantJSON(t, http.StatusNotFound, `{"error":"execution result not found: `+done.String()+`"}`)
			a.do("POST", ep(done)+"/replay", nil).wantJSON(t, http.StatusConflict,
				`{"error":"execution_not_terminal: execution `+done.String()+` is waiting","kind":"execution_not_terminal","retryable":false}`)
			rl := a.claim(nil)
			if rl == nil || rl.ExecutionID != done.String() || rl.AttemptType != "replay" || rl.AttemptIndex != 1 {
				t.Fatalf("replay claim %+v", rl)
			}
		})
	}
}

// Routes 22–25: budgets.
func TestBudgetRoutes(t *testing.T) {
	t.Parallel()
	for _, mode := range backends {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			clk := testdb.NewClock(epoch)
			a := newAPI(t, mode.open(t, testdb.WithClock(clk.Now)), server.Config{})
			const bid = "0b6b8e38-7c9a-4c43-9a8e-0c7b1d2f3a4b"
			body := map[string]any{"budget_id": bid, "scope_type": "tenant", "scope_id": "acme", "enforcement_mode": "strict",
				"on_hard_limit": "fail", "on_soft_limit": "warn", "reset_interval_ms": 3_600_000,
				"dimensions": []string{"tokens"}, "hard_limits": []int{100}, "soft_limits": []int{80}, "now": epoch}
			a.do("POST", "/v1/budgets", body).wantJSON(t, http.StatusCreated, `{"Created":{"budget_id":"`+bid+`"}}`)
			a.do("POST", "/v1/budgets", body).wantJSON(t, http.StatusOK, `{"AlreadySatisfied":{"budget_id":"`+bid+`"}}`)

			status := func(usage, breaches, soft, lastAt, lastDim string) string {
				return `{"budget_id":"` + bid + `","scope_type":"tenant","scope_id":"acme","enforcement_mode":"strict",` +
					`"usage":` + usage + `,"hard_limits":{"tokens":100},"soft_limits":{"tokens":80},` +
					`"breach_count":` + breaches + `,"soft_breach_count":` + soft + `,"last_breach_at":` + lastAt +
					`,"last_breach_dim":` + lastDim + `,"next_reset_at":"1700003600000","created_at":"1700000000000"}`
			}
			a.do("GET", "/v1/budgets/"+bid, nil).wantJSON(t, http.StatusOK, status(`{}`, "0", "0", "null", "null"))

			usage := func(delta int, key string) reply {
				m := map[string]any{"dimensions": map[string]int{"tokens": delta}, "now": epoch}
				if key != "" {
					m["dedup_key"] = key
				}
				return a.do("POST", "/v1/budgets/"+bid+"/usage", m)
			}
			usage(50, "k1").wantJSON(t, http.StatusOK, `"Ok"`)
			// A repeated dedup key answers the first outcome and applies
			// nothing (the usage below stays 90, not 140).
			usage(50, "k1").wantJSON(t, http.StatusOK, `"Ok"`)
			usage(40, "").wantJSON(t, http.StatusOK, `{"SoftBreach":{"dimension":"tokens","current_usage":90,"soft_limit":80}}`)
			clk.Advance(time.Second)
			usage(20, "").wantJSON(t, http.StatusOK, `{"HardBreach":{"dimension":"tokens","current_usage":90,"hard_limit":100}}`)
			a.do("GET", "/v1/budgets/"+bid, nil).
				wantJSON(t, http.StatusOK, status(`{"tokens":90}`, "1", "1", `"1700000001000"`, `"tokens"`))

			a.do("POST", "/v1/budgets/"+bid+"/reset", nil).wantJSON(t, http.StatusOK, `{"Reset":{"next_reset_at":1700003601000}}`)
			r := a.do("GET", "/v1/budgets/"+bid, nil)
			if r.status != http.StatusOK || !strings.Contains(r.body, `"next_reset_at":"1700003601000"`) || strings.Contains(r.body, `"tokens":90`) {
				t.Fatalf("after reset: %d %s", r.status, r.body)
			}

			const missing = "9f0e8d7c-6b5a-4938-8271-605f4e3d2c1b"
			a.do("GET", "/v1/budgets/"+missing, nil).wantJSON(t, http.StatusNotFound, `{"error":"not found: budget"}`)
			a.do("POST", "/v1/budgets/"+missing+"/reset", nil).wantJSON(t, http.StatusNotFound, `{"error":"not found: budget"}`)
			// Usage against a budget without a policy applies, unlimited
			// (route 24 always answers 200).
			a.do("POST", "/v1/budgets/"+missing+"/usage", map[string]any{"dimensions": map[string]int{"tokens": 1}, "now": epoch}).
				wantJSON(t, http.StatusOK, `"Ok"`)
		})
	}
}

// Route 27: rotate the waitpoint secret.
func TestRotateWaitpointSecret(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{})
	secret := strings.Repeat("ab", 32)
	a.do("POST", "/v1/admin/rotate-waitpoint-secret", map[string]any{"new_kid": "k2", "new_secret_hex": secret}).
		wantJSON(t, http.StatusOK, `{"rotated":1,"failed":[],"new_kid":"k2"}`)
	// Idempotent for the same pair; a different secret under the kid conflicts.
	a.do("POST", "/v1/admin/rotate-waitpoint-secret", map[string]any{"new_kid": "k2", "new_secret_hex": secret}).
		wantJSON(t, http.StatusOK, `{"rotated":1,"failed":[],"new_kid":"k2"}`)
	r := a.do("POST", "/v1/admin/rotate-waitpoint-secret", map[string]any{"new_kid": "k2", "new_secret_hex": strings.Repeat("cd", 32)})
	if r.status != http.StatusConflict || !strings.Contains(r.body, `"kind":"rotation_conflict","retryable":false`) {
		t.Fatalf("conflicting rotation: %d %s", r.status, r.body)
	}
	for _, c := range []struct{ kid, hex, want string }{
		{"", secret, "new_kid must be non-empty and must not contain ':'"},
		{"a:b", secret, "new_kid must be non-empty and must not contain ':'"},
		{"k3", "", "new_secret_hex must be a non-empty even-length hex string"},
		{"k3", "abc", "new_secret_hex must be a non-empty even-length hex string"},
		{"k3", "zz", "new_secret_hex must be a non-empty even-length hex string"},
		// Upstream checks the kid before the secret.
		{"", "", "new_kid must be non-empty and must not contain ':'"},
		{"a:b", "zz", "new_kid must be non-empty and must not contain ':'"},
	} {
		a.do("POST", "/v1/admin/rotate-waitpoint-secret", map[string]any{"new_kid": c.kid, "new_secret_hex": c.hex}).
			wantJSON(t, http.StatusBadRequest, `{"error":"`+c.want+`"}`)
	}
}

// Routes 28 and 29.
func TestHealthzAndMetrics(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{})
	a.do("GET", "/healthz", nil).wantJSON(t, http.StatusOK, `{"status":"ok"}`)
	a.create(0, nil)
	a.do("GET", "/v1/executions/nope", nil)
	a.do("GET", "/nowhere", nil)
	r := a.do("GET", "/metrics", nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("metrics: %d %q", r.status, r.header.Get("Content-Type"))
	}
	for _, want := range []string{
		`ff_http_requests_total{method="POST",path="/v1/executions",status="201"} 1`,
		`ff_http_requests_total{method="GET",path="/v1/executions/{id}",status="400"} 1`,
		`ff_http_requests_total{method="GET",path="/healthz",status="200"} 1`,
		`ff_http_requests_total{method="GET",path="unknown",status="404"} 1`,
		`ff_http_request_duration_seconds_bucket{method="POST",path="/v1/executions",status="201",le=`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
