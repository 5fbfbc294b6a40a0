package backend_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// grantArgs is worker w1 asking for a 5 s grant on lane "default".
func grantArgs(mods ...func(*backend.ClaimGrantArgs)) backend.ClaimGrantArgs {
	a := backend.ClaimGrantArgs{WorkerID: "w1", WorkerInstanceID: "w1-i1", LaneID: "default", GrantTTLMS: 5_000}
	for _, m := range mods {
		m(&a)
	}
	return a
}

// fromGrant is the consumption of g by worker w1.
func fromGrant(g *backend.ClaimGrant) backend.ClaimFromGrantArgs {
	return backend.ClaimFromGrantArgs{WorkerID: "w1", WorkerInstanceID: "w1-i1", LaneID: "default",
		ExecutionID: g.ExecutionID, GrantKey: g.GrantKey, LeaseTTLMS: 10_000}
}

func mustGrant(t *testing.T, b *backend.Backend, mods ...func(*backend.ClaimGrantArgs)) *backend.ClaimGrant {
	t.Helper()
	g, err := b.IssueClaimGrant(engCtx, grantArgs(mods...))
	if err != nil || g == nil {
		t.Fatalf("IssueClaimGrant = %+v, %v", g, err)
	}
	return g
}

// TestClaimGrantLifecycle: issue → consume → complete, in claim order,
// and a live grant keeps plain claims and second grants off the
// execution while it stays waiting.
func TestClaimGrantLifecycle(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		low := engCreate(t, b, engPrio(1))
		clock.Advance(time.Millisecond)
		high := engCreate(t, b, engPrio(5))
		g := mustGrant(t, b)
		if g.ExecutionID != high || g.ExpiresAtMS != clock.MS()+5_000 || g.PartitionKey != "{fp:7}" || len(g.GrantKey) != 36 {
			t.Fatalf("grant = %+v; want %s first", g, high)
		}
		if s := engState(t, b, high); s != "waiting" {
			t.Fatalf("granted execution is %s, want waiting", s)
		}
		// Another worker's plain claim and grant skip the held execution.
		l := engClaim(t, b, func(a *backend.ClaimArgs) { a.WorkerID = "w2" })
		if l.ExecutionID != low {
			t.Fatalf("plain claim took %s, want %s", l.ExecutionID, low)
		}
		if g2, err := b.IssueClaimGrant(engCtx, grantArgs()); err != nil || g2 != nil {
			t.Fatalf("second grant = %+v, %v; want none (204)", g2, err)
		}
		lease, err := b.ClaimFromGrant(engCtx, fromGrant(g))
		if err != nil || lease.ExecutionID != high || lease.AttemptType != "initial" || lease.Handle.Kind != backend.HandleFresh {
			t.Fatalf("ClaimFromGrant = %+v, %v", lease, err)
		}
		// A second consumption meets the lease (§2.5 checks leaseable first).
		_, err = b.ClaimFromGrant(engCtx, fromGrant(g))
		engWantCode(t, err, backend.KindContention, backend.CodeLeaseConflict)
		if err := b.Complete(engCtx, lease.Handle, []byte(`"ok"`)); err != nil {
			t.Fatal(err)
		}
		if s := engState(t, b, high); s != "completed" {
			t.Fatalf("state = %s", s)
		}
		_, err = b.ClaimFromGrant(engCtx, fromGrant(g))
		engWantCode(t, err, backend.KindContention, backend.CodeExecutionNotLeaseable)
	})
}

// TestClaimGrantExpires: an unconsumed grant expires (the boundary:
// expires_at_ms <= now is expired) and the execution is claimable again.
func TestClaimGrantExpires(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		id := engCreate(t, b)
		g := mustGrant(t, b)
		clock.Advance(4999 * time.Millisecond)
		if l, err := b.Claim(engCtx, engClaimArgs()); err != nil || l != nil {
			t.Fatalf("claim 1 ms before expiry = %+v, %v; want none", l, err)
		}
		clock.Advance(time.Millisecond)
		_, err := b.ClaimFromGrant(engCtx, fromGrant(g))
		engWantCode(t, err, backend.KindContention, backend.CodeClaimGrantExpired)
		g2 := mustGrant(t, b, func(a *backend.ClaimGrantArgs) { a.WorkerID = "w2" })
		if g2.ExecutionID != id || g2.GrantKey == g.GrantKey {
			t.Fatalf("regrant = %+v", g2)
		}
		var rows int
		if err := b.ReaderDB().QueryRowContext(engCtx, `SELECT count(*) FROM ff_claim_grant`).Scan(&rows); err != nil || rows != 1 {
			t.Fatalf("grant rows = %d, %v; want the expired one deleted", rows, err)
		}
	})
}

// TestClaimGrantRefusals: the consumption checks of §2.5 change nothing.
func TestClaimGrantRefusals(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		engCreate(t, b)
		other := engCreate(t, b, engLane("other"))
		g := mustGrant(t, b)
		before := engSnapshot(t, b)
		cases := []struct {
			name string
			mod  func(*backend.ClaimFromGrantArgs)
			kind backend.Kind
			code string
		}{
			{"wrong worker", func(a *backend.ClaimFromGrantArgs) { a.WorkerID = "w2" }, backend.KindContention, backend.CodeInvalidClaimGrant},
			{"wrong lane", func(a *backend.ClaimFromGrantArgs) { a.LaneID = "other" }, backend.KindContention, backend.CodeInvalidClaimGrant},
			{"other execution", func(a *backend.ClaimFromGrantArgs) { a.ExecutionID = other }, backend.KindContention, backend.CodeInvalidClaimGrant},
			{"unknown grant", func(a *backend.ClaimFromGrantArgs) { a.GrantKey = "00000000-0000-4000-8000-000000000000" }, backend.KindContention, backend.CodeInvalidClaimGrant},
			{"malformed grant key", func(a *backend.ClaimFromGrantArgs) { a.GrantKey = "nope" }, backend.KindValidation, "invalid_input"},
			{"unknown execution", func(a *backend.ClaimFromGrantArgs) { a.ExecutionID = backend.NewExecutionID(7) }, backend.KindNotFound, ""},
			{"negative ttl", func(a *backend.ClaimFromGrantArgs) { a.LeaseTTLMS = -1 }, backend.KindValidation, "invalid_input"},
			{"no worker", func(a *backend.ClaimFromGrantArgs) { a.WorkerID = "" }, backend.KindValidation, "invalid_input"},
		}
		for _, c := range cases {
			a := fromGrant(g)
			c.mod(&a)
			_, err := b.ClaimFromGrant(engCtx, a)
			engWantCode(t, err, c.kind, c.code)
		}
		if after := engSnapshot(t, b); after != before {
			t.Fatal("a refused consumption changed the database")
		}
		if _, err := b.ClaimFromGrant(engCtx, fromGrant(g)); err != nil {
			t.Fatalf("the right worker still consumes: %v", err)
		}
	})
}

// TestClaimGrantCheckOrder: consumption checks the execution before the
// grant, in §2.5's order: owned → lease_conflict, not runnable and eligible
// → execution_not_leaseable, a running attempt → active_attempt_exists,
// and only then the grant (a wrong worker's call meets the state error).
func TestClaimGrantCheckOrder(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		id := engCreate(t, b)
		g := mustGrant(t, b)
		part, key := int64(id.Partition), id.UUID[:]
		wrongWorker := fromGrant(g)
		wrongWorker.WorkerID = "w2"
		cases := []struct {
			name, set string
			kind      backend.Kind
			code      string
		}{
			{"owned", `ownership_state = 'leased'`, backend.KindContention, backend.CodeLeaseConflict},
			{"not eligible", `eligibility_state = 'not_eligible_until_time'`, backend.KindContention, backend.CodeExecutionNotLeaseable},
			{"running attempt", `attempt_state = 'running_attempt'`, backend.KindConflict, backend.CodeActiveAttemptExists},
		}
		for _, c := range cases {
			engExec(t, b, `UPDATE ff_exec_core SET `+c.set+` WHERE partition_key = ? AND execution_id = ?`, part, key)
			for _, a := range []backend.ClaimFromGrantArgs{fromGrant(g), wrongWorker} {
				_, err := b.ClaimFromGrant(engCtx, a)
				engWantCode(t, err, c.kind, c.code)
			}
			engExec(t, b, `UPDATE ff_exec_core SET ownership_state = 'unowned', eligibility_state = 'eligible_now',
  attempt_state = 'pending_first_attempt' WHERE partition_key = ? AND execution_id = ?`, part, key)
		}
		_, err := b.ClaimFromGrant(engCtx, wrongWorker)
		engWantCode(t, err, backend.KindContention, backend.CodeInvalidClaimGrant)
		if _, err := b.ClaimFromGrant(engCtx, fromGrant(g)); err != nil {
			t.Fatalf("consumption after the checks: %v", err)
		}
	})
}

// TestClaimGrantSkips: capability and hard-budget candidates are skipped
// (not blocked), and nothing grantable is nil.
func TestClaimGrantSkips(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		if g, err := b.IssueClaimGrant(engCtx, grantArgs()); err != nil || g != nil {
			t.Fatalf("empty lane: %+v, %v", g, err)
		}
		gpu := engCreate(t, b, engPrio(9), engPolicy(`{"routing_requirements":{"required_capabilities":["gpu"]}}`))
		if _, err := b.CreateBudget(engCtx, backend.CreateBudgetArgs{BudgetID: "bud", ScopeType: "lane", ScopeID: "default",
			EnforcementMode: "strict", OnHardLimit: "fail", OnSoftLimit: "warn",
			Dimensions: []string{"tokens"}, HardLimits: []uint64{10}, SoftLimits: []uint64{0}}); err != nil {
			t.Fatal(err)
		}
		budgeted := engCreate(t, b, engPrio(8), engPolicy(`{"budget_ids":["bud"]}`))
		plain := engCreate(t, b, engPrio(1))
		if g := mustGrant(t, b); g.ExecutionID != budgeted {
			t.Fatalf("grant = %s, want the budgeted one (gpu skipped)", g.ExecutionID)
		}
		engExec(t, b, `DELETE FROM ff_claim_grant`)
		if _, err := b.ReportUsage(engCtx, "bud", backend.ReportUsageArgs{Dimensions: map[string]uint64{"tokens": 10}}); err != nil {
			t.Fatal(err)
		}
		if g := mustGrant(t, b); g.ExecutionID != plain {
			t.Fatalf("grant = %s, want the plain one (budget at its hard limit)", g.ExecutionID)
		}
		for _, id := range []backend.ExecutionID{gpu, budgeted} {
			if s := engState(t, b, id); s != "waiting" {
				t.Fatalf("skipped %s is %s, want waiting (skipped, not blocked)", id, s)
			}
		}
		g := mustGrant(t, b, func(a *backend.ClaimGrantArgs) { a.Capabilities = []string{"gpu"} })
		if g.ExecutionID != gpu {
			t.Fatalf("capable worker's grant = %s", g.ExecutionID)
		}
	})
}

// TestClaimGrantBadInput: grant_ttl_ms is 1..=60000 and ids are checked.
func TestClaimGrantBadInput(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, true)
	for _, mod := range []func(*backend.ClaimGrantArgs){
		func(a *backend.ClaimGrantArgs) { a.GrantTTLMS = 0 },
		func(a *backend.ClaimGrantArgs) { a.GrantTTLMS = 60_001 },
		func(a *backend.ClaimGrantArgs) { a.WorkerID = "" },
		func(a *backend.ClaimGrantArgs) { a.WorkerInstanceID = "a b" },
		func(a *backend.ClaimGrantArgs) { a.LaneID = "" },
	} {
		_, err := b.IssueClaimGrant(engCtx, grantArgs(mod))
		engWantCode(t, err, backend.KindValidation, "invalid_input")
	}
	if _, err := b.IssueClaimGrant(engCtx, grantArgs(func(a *backend.ClaimGrantArgs) { a.GrantTTLMS = 60_000 })); err != nil {
		t.Fatalf("grant_ttl_ms 60000: %v", err)
	}
}

// TestClaimGrantResumes: a grant of an execution paused by a delay resumes
// the same attempt.
func TestClaimGrantResumes(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		engCreate(t, b)
		l := engClaim(t, b)
		if _, err := b.Delay(engCtx, l.Handle, clock.MS()+100); err != nil {
			t.Fatal(err)
		}
		if g, err := b.IssueClaimGrant(engCtx, grantArgs()); err != nil || g != nil {
			t.Fatalf("grant while delayed = %+v, %v; want none (not eligible now)", g, err)
		}
		clock.Advance(100 * time.Millisecond)
		if _, err := b.PromoteDelayed(engCtx, clock.MS(), 10); err != nil {
			t.Fatal(err)
		}
		g := mustGrant(t, b)
		r, err := b.ClaimFromGrant(engCtx, fromGrant(g))
		if err != nil || !r.Resumed || r.AttemptIndex != l.AttemptIndex || r.AttemptID != l.AttemptID ||
			r.LeaseEpoch != l.LeaseEpoch+1 || r.Handle.Kind != backend.HandleResumed {
			t.Fatalf("resumed = %+v, %v (first %+v)", r, err, l)
		}
	})
}

// TestClaimGrantQuota: route 14 admits at issue; a candidate its quota
// refuses (rate 1 per window) is blocked rate_limited and the walk grants
// the next one.
func TestClaimGrantQuota(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		qid := uuid.New()
		if _, err := b.CreateQuotaPolicy(engCtx, backend.CreateQuotaPolicyArgs{QuotaPolicyID: qid, WindowSeconds: 60,
			MaxRequestsPerWindow: 1}); err != nil {
			t.Fatal(err)
		}
		pol := engPolicy(`{"quota_policy_id":"` + qid.String() + `"}`)
		first := engCreate(t, b, engPrio(9), pol)
		second := engCreate(t, b, engPrio(8), pol)
		free := engCreate(t, b, engPrio(1))
		if g := mustGrant(t, b); g.ExecutionID != first {
			t.Fatalf("grant 1 = %s", g.ExecutionID)
		}
		if g := mustGrant(t, b); g.ExecutionID != free {
			t.Fatalf("grant 2 = %s, want the unattached one", g.ExecutionID)
		}
		if s := engState(t, b, second); s != "rate_limited" {
			t.Fatalf("refused candidate is %s", s)
		}
	})
}

// TestReplayEndsEarlierClaimGrants: a claim grant issued before a cancel
// must not outlive the replay that follows: it used to hide the replayed
// run from plain claims until it expired, and then lease it itself.
func TestReplayEndsEarlierClaimGrants(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		id := engCreate(t, b)
		g := mustGrant(t, b)
		if _, err := b.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: id, Reason: "r"}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.ReplayExecution(engCtx, backend.ReplayExecutionArgs{ExecutionID: id}); err != nil {
			t.Fatal(err)
		}
		l, err := b.Claim(engCtx, engClaimArgs())
		if err != nil || l == nil || l.ExecutionID != id {
			t.Fatalf("plain claim of the replayed run: %+v, %v", l, err)
		}
		if l, err := b.ClaimFromGrant(engCtx, fromGrant(g)); err == nil || l != nil {
			t.Fatalf("the grant issued before the cancel leased the replayed run: %v, %v", l != nil, err)
		}
	})
}
