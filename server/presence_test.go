package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/server"
)

// A worker that claims over HTTP shows up in the registry (and so on the
// dashboard) once, not with a write per claim, and gains lanes it claims
// from.
func TestClaimRegistersWorker(t *testing.T) {
	t.Parallel()
	b := testdb.Open(t)
	a := newAPI(t, b, server.Config{})
	for i := 0; i < 3; i++ {
		r := a.do(http.MethodPost, "/v1/worker/claim", claimArgs(nil))
		if r.status != http.StatusNoContent {
			t.Fatalf("claim with no work: %d %s", r.status, r.body)
		}
	}
	if n := sqlCount(t, b, "SELECT count(*) FROM ff_worker_registry_event WHERE event_kind = 'registered'"); n != 1 {
		t.Fatalf("%d registrations after 3 claims, want 1", n)
	}
	if n := sqlCount(t, b, "SELECT count(*) FROM ff_worker_registry_event"); n != 1 {
		t.Fatalf("%d registry events after 3 claims, want 1", n)
	}
	r := a.do(http.MethodPost, "/v1/worker/claim", claimArgs(map[string]any{"lane_id": "other"}))
	if r.status != http.StatusNoContent {
		t.Fatalf("claim on another lane: %d", r.status)
	}
	st := a.do(http.MethodGet, "/ui/api/state", nil)
	if st.status != http.StatusOK || !strings.Contains(st.body, `"lanes":["default","other"]`) {
		t.Fatalf("dashboard workers: %s", st.body)
	}
}

// Waiting on an idle lane reads only: a long-poll that polls every 5 ms
// for 200 ms takes the write lock for its first claim (and the worker's
// registration), not on every poll.
func TestIdleLongPollTakesNoWriteLock(t *testing.T) {
	t.Parallel()
	b := testdb.Open(t)
	a := newAPI(t, b, server.Config{ClaimPoll: 5 * time.Millisecond})
	before := b.GroupCommitStats().Batches
	r := a.do(http.MethodPost, "/v1/worker/claim", claimArgs(map[string]any{"block_ms": 200}))
	if r.status != http.StatusNoContent {
		t.Fatalf("idle long-poll: %d %s", r.status, r.body)
	}
	if n := b.GroupCommitStats().Batches - before; n > 2 {
		t.Fatalf("an idle 200 ms long-poll ran %d write transactions, want at most 2", n)
	}
}
