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

// wireGrant is route 14's and route 13's grant.
type wireGrant struct {
	Status       string `json:"status"`
	ExecutionID  string `json:"execution_id"`
	PartitionKey string `json:"partition_key"`
	GrantKey     string `json:"grant_key"`
	ExpiresAtMS  int64  `json:"expires_at_ms"`
	LaneID       string `json:"lane_id"`
}

func grantBody(extra map[string]any) map[string]any {
	m := map[string]any{"lane_id": "default", "worker_instance_id": "w-1", "grant_ttl_ms": 5000}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func consumeBody(g wireGrant, extra map[string]any) map[string]any {
	m := map[string]any{"worker_id": "w", "worker_instance_id": "w-1", "lane_id": "default",
		"execution_id": g.ExecutionID, "grant_key": g.GrantKey, "lease_ttl_ms": 30000}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// TestClaimGrantRoutes: route 14 → claim-grant → complete, the grant's
// shape, 204 when nothing is grantable, expiry and a wrong worker.
func TestClaimGrantRoutes(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			clk := testdb.NewClock(epoch)
			a := newAPI(t, be.open(t, testdb.WithClock(clk.Now)), server.Config{})
			r := a.do("POST", "/v1/workers/w/claim", grantBody(nil))
			if r.status != http.StatusNoContent || r.body != "" {
				t.Fatalf("empty lane: %d %q", r.status, r.body)
			}
			id := a.create(4, nil)
			r = a.do("POST", "/v1/workers/w/claim", grantBody(nil))
			var g wireGrant
			r.decode(t, &g)
			if r.status != http.StatusOK || g.ExecutionID != id.String() || g.PartitionKey != "{fp:4}" ||
				g.ExpiresAtMS != epoch+5000 || len(g.GrantKey) != 36 ||
				!strings.HasPrefix(r.body, `{"execution_id":`) || strings.Contains(r.body, "status") {
				t.Fatalf("grant: %d %s", r.status, r.body)
			}
			// Held: another worker's plain claim finds nothing.
			if l := a.claim(map[string]any{"worker_id": "other"}); l != nil {
				t.Fatalf("plain claim took a granted execution: %+v", l)
			}
			a.do("POST", "/v1/worker/claim-grant", consumeBody(g, map[string]any{"worker_id": "other"})).
				wantJSON(t, http.StatusConflict, `{"error":"invalid_claim_grant: claim grant `+g.GrantKey+
					` was issued to another worker","kind":"contention","retryable":true}`)
			r = a.do("POST", "/v1/worker/claim-grant", consumeBody(g, nil))
			var l wireLease
			r.decode(t, &l)
			if r.status != http.StatusOK || l.ExecutionID != id.String() || l.AttemptType != "initial" || l.Handle == "" {
				t.Fatalf("claim-grant: %d %s", r.status, r.body)
			}
			if c := a.complete(&l, []int{1}); c.status != http.StatusOK {
				t.Fatalf("complete: %d %s", c.status, c.body)
			}

			// An unconsumed grant expires.
			a.create(4, nil)
			r = a.do("POST", "/v1/workers/w/claim", grantBody(nil))
			r.decode(t, &g)
			clk.Advance(5 * time.Second)
			a.do("POST", "/v1/worker/claim-grant", consumeBody(g, nil)).
				wantJSON(t, http.StatusConflict, `{"error":"claim_grant_expired: claim grant `+g.GrantKey+
					` expired at `+ms(epoch+5000)+`","kind":"contention","retryable":true}`)
			if l := a.claim(nil); l == nil {
				t.Fatal("the expired grant still holds the execution")
			}
		})
	}
}

// TestClaimGrantCapabilitySkip: route 14 skips a candidate the worker
// cannot run and grants the next one.
func TestClaimGrantCapabilitySkip(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{})
	a.create(1, map[string]any{"priority": 9, "policy": map[string]any{
		"routing_requirements": map[string]any{"required_capabilities": []string{"gpu"}}}})
	plain := a.create(1, map[string]any{"priority": 1})
	var g wireGrant
	a.do("POST", "/v1/workers/w/claim", grantBody(nil)).decode(t, &g)
	if g.ExecutionID != plain.String() {
		t.Fatalf("grant %s, want %s", g.ExecutionID, plain)
	}
	r := a.do("POST", "/v1/workers/w/claim", grantBody(map[string]any{"capabilities": []string{"gpu"}}))
	if r.status != http.StatusOK {
		t.Fatalf("capable worker: %d %s", r.status, r.body)
	}
}

// TestReclaimRoutes: revoke → route 13 → /v1/worker/reclaim; the new
// attempt, the old handle fenced (409), not_reclaimable, and the cap.
func TestReclaimRoutes(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, be.open(t, testdb.WithClock(testdb.NewClock(epoch).Now)), server.Config{})
			id := a.create(2, map[string]any{"policy": map[string]any{"max_reclaim_count": 1}})
			old := a.claim(nil)
			reclaim := map[string]any{"worker_id": "w", "worker_instance_id": "w-2", "lane_id": "default", "grant_ttl_ms": 5000}
			a.do("POST", ep(id)+"/reclaim", reclaim).wantJSON(t, http.StatusOK,
				`{"status":"not_reclaimable","execution_id":`+q(id.String())+`,"detail":"lease is held (ownership leased)"}`)
			if r := a.do("POST", ep(id)+"/revoke-lease", nil); r.status != http.StatusOK {
				t.Fatalf("revoke: %d %s", r.status, r.body)
			}
			r := a.do("POST", ep(id)+"/reclaim", reclaim)
			var g wireGrant
			r.decode(t, &g)
			if r.status != http.StatusOK || g.Status != "granted" || g.LaneID != "default" || g.PartitionKey != "{fp:2}" ||
				!strings.HasPrefix(r.body, `{"status":"granted","execution_id":`) {
				t.Fatalf("reclaim grant: %d %s", r.status, r.body)
			}
			// A second grant while the first is live: a State error, which
			// ff-server renders state_conflict (engine-canonical.md C10).
			a.do("POST", ep(id)+"/reclaim", reclaim).wantJSON(t, http.StatusConflict,
				`{"error":"state_conflict: GrantAlreadyExists","kind":"state_conflict","retryable":false}`)
			r = a.do("POST", "/v1/worker/reclaim", consumeBody(g, map[string]any{"worker_instance_id": "w-2"}))
			var l wireLease
			r.decode(t, &l)
			if r.status != http.StatusOK || l.AttemptIndex != old.AttemptIndex+1 || l.AttemptType != "reclaim" ||
				l.LeaseEpoch != old.LeaseEpoch+2 {
				t.Fatalf("reclaim: %d %s", r.status, r.body)
			}
			var h backend.Handle
			if err := h.UnmarshalText([]byte(l.Handle)); err != nil || h.Kind != backend.HandleReclaimed {
				t.Fatalf("handle %q: kind %v", l.Handle, h.Kind)
			}
			if c := a.complete(old, nil); c.status != http.StatusConflict {
				t.Fatalf("old handle: %d %s", c.status, c.body)
			}
			// The cap: one reclaim used, the next grant fails the execution.
			a.do("POST", ep(id)+"/revoke-lease", nil)
			a.do("POST", ep(id)+"/reclaim", reclaim).wantJSON(t, http.StatusOK,
				`{"status":"reclaim_cap_exceeded","execution_id":`+q(id.String())+`,"reclaim_count":1}`)
			if r := a.do("GET", ep(id)+"/state", nil); r.body != `"failed"` {
				t.Fatalf("state: %s", r.body)
			}
		})
	}
}

// TestGrantRoutesBadInput: every bad request is a 4xx and writes nothing.
func TestGrantRoutesBadInput(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{})
	id := a.create(0, nil)
	unknown := backend.NewExecutionID(0)
	good := wireGrant{ExecutionID: id.String(), GrantKey: "00000000-0000-4000-8000-000000000000"}
	writes := func() int64 {
		return sqlCount(t, a.b, `SELECT (SELECT count(*) FROM ff_claim_grant) + (SELECT count(*) FROM ff_attempt) +
  (SELECT count(*) FROM ff_lease_event)`)
	}
	before := writes()
	reclaim := map[string]any{"worker_id": "w", "worker_instance_id": "w-2", "lane_id": "default", "grant_ttl_ms": 5000}
	for _, c := range []struct {
		name, path string
		body       any
		status     int
	}{
		{"grant ttl 0", "/v1/workers/w/claim", grantBody(map[string]any{"grant_ttl_ms": 0}), 400},
		{"grant ttl 60001", "/v1/workers/w/claim", grantBody(map[string]any{"grant_ttl_ms": 60001}), 400},
		{"grant ttl string", "/v1/workers/w/claim", grantBody(map[string]any{"grant_ttl_ms": "5"}), 422},
		{"grant no lane", "/v1/workers/w/claim", map[string]any{"worker_instance_id": "w-1", "grant_ttl_ms": 5}, 422},
		{"grant worker blank", "/v1/workers/%20/claim", grantBody(nil), 400},
		{"grant not json", "/v1/workers/w/claim", `{`, 400},
		{"consume bad execution id", "/v1/worker/claim-grant", consumeBody(wireGrant{ExecutionID: "nope", GrantKey: good.GrantKey}, nil), 400},
		{"consume unknown execution", "/v1/worker/claim-grant", consumeBody(wireGrant{ExecutionID: unknown.String(), GrantKey: good.GrantKey}, nil), 404},
		{"consume bad grant key", "/v1/worker/claim-grant", consumeBody(wireGrant{ExecutionID: id.String(), GrantKey: "zzz"}, nil), 400},
		{"consume unknown grant", "/v1/worker/claim-grant", consumeBody(good, nil), 409},
		{"consume negative ttl", "/v1/worker/claim-grant", consumeBody(good, map[string]any{"lease_ttl_ms": -1}), 400},
		{"consume ttl overflow", "/v1/worker/claim-grant", consumeBody(good, map[string]any{"lease_ttl_ms": 1e30}), 422},
		{"consume missing grant key", "/v1/worker/claim-grant", map[string]any{"worker_id": "w"}, 422},
		{"reclaim bad id", "/v1/executions/nope/reclaim", reclaim, 400},
		{"reclaim unknown", ep(unknown) + "/reclaim", reclaim, 404},
		{"reclaim ttl 0", ep(id) + "/reclaim", map[string]any{"worker_id": "w", "worker_instance_id": "w-2", "lane_id": "default", "grant_ttl_ms": 0}, 400},
		{"reclaim missing worker", ep(id) + "/reclaim", map[string]any{"worker_instance_id": "w-2", "lane_id": "default", "grant_ttl_ms": 5}, 422},
		{"worker reclaim unknown grant", "/v1/worker/reclaim", consumeBody(good, nil), 404},
		{"worker reclaim bad grant key", "/v1/worker/reclaim", consumeBody(wireGrant{ExecutionID: id.String(), GrantKey: ""}, nil), 400},
		{"worker reclaim negative ttl", "/v1/worker/reclaim", consumeBody(good, map[string]any{"lease_ttl_ms": -3}), 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := a.do("POST", c.path, c.body)
			if r.status != c.status || !strings.HasPrefix(r.body, `{"error":`) {
				t.Fatalf("%d %s; want %d and an envelope", r.status, r.body, c.status)
			}
		})
	}
	if after := writes(); after != before {
		t.Fatalf("bad input wrote %d rows", after-before)
	}
}
