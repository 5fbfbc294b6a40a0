package backend_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/suspension"
)

// Every deliver-signal check in canonical order: each case is built so
// that the check it names fails and every later one would fail too, so
// the error shows which check ran first. Each refused delivery changes
// nothing.
func TestDeliverSignalCheckOrder(t *testing.T) {
	t.Parallel()
	b, clock := waitOpen(t, true)
	id, _, out := waitSuspend(t, b, waitArgs("approve"))
	d := out.Details
	tok := d.WaitpointToken
	otherID, _, otherOut := waitSuspend(t, b, waitArgs("approve"))
	// A terminal execution with a waitpoint.
	termID, termLease, termOut := waitSuspend(t, b, waitArgs("approve"))
	if _, err := b.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: termID, Reason: "r"}); err != nil {
		t.Fatal(err)
	}
	_ = termLease
	// A suspended execution whose old waitpoint closed and a new one is open.
	reID, _, reOut := waitSuspend(t, b, waitArgs("approve"))
	waitDeliver(t, b, waitSignal(reID, reOut.Details.WaitpointID, reOut.Details.WaitpointToken, "approve"))
	rl := engClaim(t, b)
	if rl.ExecutionID != reID {
		t.Fatalf("claimed %s, want %s", rl.ExecutionID, reID)
	}
	if _, err := b.Suspend(engCtx, rl.Handle, waitArgs("approve")); err != nil {
		t.Fatal(err)
	}
	// An execution that reached its signal cap.
	capID, _, capOut := waitSuspend(t, b, waitArgs("approve"))
	one := uint64(1)
	capped := func(a *backend.DeliverSignalArgs) { a.MaxSignalsPerExecution = &one }
	waitDeliver(t, b, waitSignal(capID, capOut.Details.WaitpointID, capOut.Details.WaitpointToken, "noise", capped))
	// A resumed (runnable; created last, it would be claimed first) execution whose waitpoint closed.
	doneID, _, doneOut := waitSuspend(t, b, waitArgs("approve"))
	waitDeliver(t, b, waitSignal(doneID, doneOut.Details.WaitpointID, doneOut.Details.WaitpointToken, "approve"))
	key := "idem-1"
	first := waitDeliver(t, b, waitSignal(id, d.WaitpointID, tok, "noise", func(a *backend.DeliverSignalArgs) { a.IdempotencyKey = &key }))
	clock.Advance(time.Second)

	flip := tok[:len(tok)-1] + map[bool]string{true: "0", false: "1"}[tok[len(tok)-1] != '0']
	cases := []struct {
		name string
		a    backend.DeliverSignalArgs
		kind backend.Kind
		code string
	}{
		{"1 unknown execution beats a bad token", waitSignal(backend.NewExecutionID(7), d.WaitpointID, "", "approve"),
			backend.KindNotFound, "execution"},
		{"2 unknown waitpoint is invalid_token", waitSignal(id, uuid.NewString(), tok, "approve"),
			backend.KindValidation, "invalid_token"},
		{"2 unknown waitpoint beats an empty token", waitSignal(id, uuid.NewString(), "", "approve"),
			backend.KindValidation, "invalid_token"},
		{"2 another execution's waitpoint is invalid_token", waitSignal(id, otherOut.Details.WaitpointID, otherOut.Details.WaitpointToken, "approve"),
			backend.KindValidation, "invalid_token"},
		{"2 empty token", waitSignal(id, d.WaitpointID, "", "approve"), backend.KindValidation, "missing_token"},
		{"2 tampered digest", waitSignal(id, d.WaitpointID, flip, "approve"), backend.KindValidation, "invalid_token"},
		{"2 no kid", waitSignal(id, d.WaitpointID, tok[3:], "approve"), backend.KindValidation, "invalid_token"},
		{"2 another kid", waitSignal(id, d.WaitpointID, "k2"+tok[2:], "approve"), backend.KindValidation, "invalid_token"},
		{"2 the token of another waitpoint", waitSignal(id, d.WaitpointID, otherOut.Details.WaitpointToken, "approve"),
			backend.KindValidation, "invalid_token"},
		{"2 token check beats terminal", waitSignal(termID, termOut.Details.WaitpointID, "k1:00", "approve"),
			backend.KindValidation, "invalid_token"},
		{"3 terminal execution", waitSignal(termID, termOut.Details.WaitpointID, termOut.Details.WaitpointToken, "approve"),
			backend.KindState, "target_not_signalable"},
		{"4 closed waitpoint of a runnable execution", waitSignal(doneID, doneOut.Details.WaitpointID, doneOut.Details.WaitpointToken, "approve"),
			backend.KindState, "target_not_signalable"},
		{"5 closed waitpoint of a suspended execution", waitSignal(reID, reOut.Details.WaitpointID, reOut.Details.WaitpointToken, "approve"),
			backend.KindState, "waitpoint_closed"},
		{"6 signal cap", waitSignal(capID, capOut.Details.WaitpointID, capOut.Details.WaitpointToken, "approve", capped),
			backend.KindValidation, "signal_limit_exceeded"},
		{"6 cap beats dedup", waitSignal(capID, capOut.Details.WaitpointID, capOut.Details.WaitpointToken, "approve", capped,
			func(a *backend.DeliverSignalArgs) { a.IdempotencyKey = &key }),
			backend.KindValidation, "signal_limit_exceeded"},
	}
	for _, c := range cases {
		before := waitSnapshot(t, b)
		_, err := b.DeliverSignal(engCtx, c.a)
		var e *backend.Error
		if !asErr(err, &e) || e.Kind != c.kind || e.Code != c.code {
			t.Fatalf("%s: DeliverSignal = %v, want %s %s", c.name, err, c.kind, c.code)
		}
		if after := waitSnapshot(t, b); after != before {
			t.Fatalf("%s: a refused delivery changed the database", c.name)
		}
	}
	// 7: a repeated idempotency key answers Duplicate and records nothing.
	before := waitSnapshot(t, b)
	dup, err := b.DeliverSignal(engCtx, waitSignal(id, d.WaitpointID, tok, "approve", func(a *backend.DeliverSignalArgs) { a.IdempotencyKey = &key }))
	if err != nil || !dup.Duplicate || dup.ExistingSignalID != first.SignalID ||
		waitJSON(t, dup) != `{"Duplicate":{"existing_signal_id":"`+first.SignalID+`"}}` {
		t.Fatalf("duplicate = %s, %v", waitJSON(t, dup), err)
	}
	if waitSnapshot(t, b) != before || engState(t, b, id) != backend.StateSuspended {
		t.Fatal("a duplicate changed the database")
	}
	// A dedup TTL of 0 turns dedup off; the key is per waitpoint.
	zero := uint64(0)
	if r := waitDeliver(t, b, waitSignal(id, d.WaitpointID, tok, "noise", func(a *backend.DeliverSignalArgs) {
		a.IdempotencyKey, a.DedupTTLMS = &key, &zero
	})); r.Duplicate {
		t.Fatal("dedup with ttl 0")
	}
	if r := waitDeliver(t, b, waitSignal(otherID, otherOut.Details.WaitpointID, otherOut.Details.WaitpointToken, "noise",
		func(a *backend.DeliverSignalArgs) { a.IdempotencyKey = &key })); r.Duplicate {
		t.Fatal("the key of one waitpoint deduplicated another's signal")
	}
	// After the TTL the key is free again.
	clock.Advance(24*time.Hour + time.Second)
	if r := waitDeliver(t, b, waitSignal(id, d.WaitpointID, tok, "noise", func(a *backend.DeliverSignalArgs) { a.IdempotencyKey = &key })); r.Duplicate {
		t.Fatal("dedup past its TTL")
	}
	// Every accepted signal has an outbox row.
	n := waitScalar(t, b, `SELECT count(*) FROM ff_signal_event WHERE execution_id = ?`, id.String())
	if n.String != "3" {
		t.Fatalf("signal events = %s, want 3", n.String)
	}
	waitCheckInvariants(t, b)
}

// Signals to a pending waitpoint are buffered; a suspend that binds it
// (UsePending) evaluates them: already satisfied keeps the lease.
func TestPendingWaitpointBuffersSignals(t *testing.T) {
	waitBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		id := engCreate(t, b)
		l := engClaim(t, b)
		pw, err := b.CreateWaitpoint(engCtx, l.Handle, backend.CreateWaitpointArgs{WaitpointKey: "approval", ExpiresInMS: 60_000})
		if err != nil {
			t.Fatal(err)
		}
		if pw.ExpiresAtMS != engT0+60_000 || pw.WaitpointToken != suspension.MintWaitpointToken(waitSecret, "k1", id.String(), pw.WaitpointID) {
			t.Fatalf("pending waitpoint = %+v", pw)
		}
		page, err := b.ListPendingWaitpoints(engCtx, id, nil, 0)
		if err != nil || len(page.Waitpoints) != 1 || page.Waitpoints[0].State != "pending" || page.Waitpoints[0].ActivatedAt != nil {
			t.Fatalf("pending list = %+v, %v", page, err)
		}
		res := waitDeliver(t, b, waitSignal(id, pw.WaitpointID, pw.WaitpointToken, "approve"))
		if res.Effect != suspension.EffectBuffered {
			t.Fatalf("effect = %s", res.Effect)
		}
		if engState(t, b, id) != backend.StateActive {
			t.Fatal("a buffered signal changed the execution")
		}
		args := waitArgs("", func(a *suspension.SuspendArgs) {
			a.Waitpoints = []suspension.WaitpointBinding{suspension.UsePending(uuid.MustParse(pw.WaitpointID))}
			a.ResumeCondition = suspension.Single("approval", suspension.ByName("approve"))
		})
		out, err := b.Suspend(engCtx, l.Handle, args)
		if err != nil || !out.AlreadySatisfied || out.Details.WaitpointToken != pw.WaitpointToken || out.Details.WaitpointKey != "approval" {
			t.Fatalf("Suspend = %+v, %v", out, err)
		}
		if waitJSON(t, out) != `{"AlreadySatisfied":{"details":{"suspension_id":"`+args.SuspensionID.String()+`","waitpoint_id":"`+pw.WaitpointID+
			`","waitpoint_key":"approval","waitpoint_token":"`+pw.WaitpointToken+`","additional_waitpoints":[]}}}` {
			t.Fatalf("wire = %s", waitJSON(t, out))
		}
		if engState(t, b, id) != backend.StateActive || waitWaitpointState(t, b, pw.WaitpointID) != "closed/resumed" {
			t.Fatal("AlreadySatisfied changed the execution")
		}
		if _, err := b.Renew(engCtx, l.Handle, 0); err != nil {
			t.Fatalf("AlreadySatisfied lost the lease: %v", err)
		}
		// Not yet satisfied buffered signals carry over into the suspension.
		pw2, err := b.CreateWaitpoint(engCtx, l.Handle, backend.CreateWaitpointArgs{WaitpointKey: "votes", ExpiresInMS: 60_000})
		if err != nil {
			t.Fatal(err)
		}
		waitDeliver(t, b, waitSignal(id, pw2.WaitpointID, pw2.WaitpointToken, "vote", func(a *backend.DeliverSignalArgs) { a.SourceIdentity = "a" }))
		out2, err := b.Suspend(engCtx, l.Handle, waitArgs("", func(a *suspension.SuspendArgs) {
			a.Waitpoints = []suspension.WaitpointBinding{suspension.UsePending(uuid.MustParse(pw2.WaitpointID))}
			a.ResumeCondition = suspension.Count(2, suspension.DistinctSources, suspension.ByName("vote"), "votes")
		}))
		if err != nil || out2.AlreadySatisfied {
			t.Fatalf("Suspend 2 = %+v, %v", out2, err)
		}
		if p, _ := b.ListPendingWaitpoints(engCtx, id, nil, 0); len(p.Waitpoints) != 1 || p.Waitpoints[0].State != "active" ||
			p.Waitpoints[0].ActivatedAt == nil || waitJSON(t, p.Waitpoints[0].RequiredSignalNames) != `["vote"]` {
			t.Fatalf("active list = %+v", p)
		}
		if r := waitDeliver(t, b, waitSignal(id, pw2.WaitpointID, pw2.WaitpointToken, "vote", func(a *backend.DeliverSignalArgs) { a.SourceIdentity = "a" })); r.Effect != suspension.EffectDuplicate {
			t.Fatalf("same source again = %s", r.Effect)
		}
		if r := waitDeliver(t, b, waitSignal(id, pw2.WaitpointID, pw2.WaitpointToken, "vote", func(a *backend.DeliverSignalArgs) { a.SourceIdentity = "b" })); r.Effect != suspension.EffectResumed {
			t.Fatalf("second source = %s", r.Effect)
		}
		r := engClaim(t, b)
		if !r.Resumed || len(r.Signals) != 2 || r.Signals[0].SourceIdentity != "a" || r.Signals[1].SourceIdentity != "b" {
			t.Fatalf("resumed = %+v", r)
		}
		waitCheckInvariants(t, b)
	})
}

// A UsePending binding is checked in upstream's order.
func TestUsePendingChecks(t *testing.T) {
	t.Parallel()
	b, clock := waitOpen(t, true)
	id := engCreate(t, b)
	l := engClaim(t, b)
	other := engCreate(t, b)
	ol := engClaim(t, b)
	if ol.ExecutionID != other {
		t.Fatal("claim order")
	}
	theirs, err := b.CreateWaitpoint(engCtx, ol.Handle, backend.CreateWaitpointArgs{WaitpointKey: "k", ExpiresInMS: 60_000})
	if err != nil {
		t.Fatal(err)
	}
	short, err := b.CreateWaitpoint(engCtx, l.Handle, backend.CreateWaitpointArgs{WaitpointKey: "k", ExpiresInMS: 1000})
	if err != nil {
		t.Fatal(err)
	}
	mine, err := b.CreateWaitpoint(engCtx, l.Handle, backend.CreateWaitpointArgs{WaitpointKey: "k", ExpiresInMS: 60_000})
	if err != nil {
		t.Fatal(err)
	}
	closed, err := b.CreateWaitpoint(engCtx, l.Handle, backend.CreateWaitpointArgs{WaitpointKey: "k", ExpiresInMS: 60_000})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := b.CloseWaitpoint(engCtx, l.Handle, uuid.MustParse(closed.WaitpointID), ""); err != nil || r != backend.WaitpointClosedNow {
		t.Fatalf("CloseWaitpoint = %s, %v", r, err)
	}
	if r, err := b.CloseWaitpoint(engCtx, l.Handle, uuid.MustParse(closed.WaitpointID), ""); err != nil || r != backend.WaitpointAlreadyClosed {
		t.Fatalf("CloseWaitpoint again = %s, %v", r, err)
	}
	_, err = b.CloseWaitpoint(engCtx, l.Handle, uuid.MustParse(theirs.WaitpointID), "")
	engWantCode(t, err, backend.KindNotFound, "waitpoint")
	clock.Advance(2 * time.Second)
	use := func(wp string, cond suspension.Condition) error {
		_, err := b.Suspend(engCtx, l.Handle, waitArgs("", func(a *suspension.SuspendArgs) {
			a.Waitpoints = []suspension.WaitpointBinding{suspension.UsePending(uuid.MustParse(wp))}
			a.ResumeCondition = cond
		}))
		return err
	}
	single := suspension.Single("k", suspension.Wildcard())
	before := waitSnapshot(t, b)
	for _, c := range []struct {
		name, wp string
		cond     suspension.Condition
		kind     backend.Kind
		code     string
	}{
		{"not found", uuid.NewString(), single, backend.KindContention, "waitpoint_not_found"},
		{"not pending", closed.WaitpointID, single, backend.KindState, "waitpoint_not_pending"},
		{"other execution", theirs.WaitpointID, single, backend.KindValidation, "invalid_waitpoint_for_execution"},
		{"expired", short.WaitpointID, single, backend.KindState, "pending_waitpoint_expired"},
		{"key mismatch", mine.WaitpointID, suspension.Single("other", suspension.Wildcard()), backend.KindValidation, "invalid_input"},
	} {
		err := use(c.wp, c.cond)
		var e *backend.Error
		if !asErr(err, &e) || e.Kind != c.kind || e.Code != c.code {
			t.Fatalf("%s: Suspend = %v, want %s %s", c.name, err, c.kind, c.code)
		}
		if waitSnapshot(t, b) != before {
			t.Fatalf("%s: a refused suspend changed the database", c.name)
		}
	}
	if err := use(mine.WaitpointID, single); err != nil {
		t.Fatalf("valid UsePending: %v", err)
	}
	// Expired pending waitpoints are closed by the reconciler.
	if rep, err := b.ExpirePendingWaitpoints(engCtx, clock.MS(), 10); err != nil || rep.Processed != 1 {
		t.Fatalf("ExpirePendingWaitpoints = %+v, %v", rep, err)
	}
	if got := waitWaitpointState(t, b, short.WaitpointID); got != "closed/never_committed" {
		t.Fatalf("expired waitpoint = %s", got)
	}
	_, err = b.DeliverSignal(engCtx, waitSignal(id, short.WaitpointID, short.WaitpointToken, "x"))
	engWantCode(t, err, backend.KindState, "waitpoint_closed")
	waitCheckInvariants(t, b)
}

// A pending waitpoint past its expiry no longer buffers, even before the
// reconciler closed it; the reconciler closes only due pending rows.
func TestPendingWaitpointExpiry(t *testing.T) {
	t.Parallel()
	b, clock := waitOpen(t, false)
	id := engCreate(t, b)
	l := engClaim(t, b)
	pw, err := b.CreateWaitpoint(engCtx, l.Handle, backend.CreateWaitpointArgs{WaitpointKey: "k", ExpiresInMS: 5000})
	if err != nil {
		t.Fatal(err)
	}
	keep, err := b.CreateWaitpoint(engCtx, l.Handle, backend.CreateWaitpointArgs{WaitpointKey: "k2", ExpiresInMS: 50_000})
	if err != nil {
		t.Fatal(err)
	}
	if rep, _ := b.ExpirePendingWaitpoints(engCtx, clock.MS(), 10); rep.Processed != 0 {
		t.Fatal("expired early")
	}
	clock.Advance(5 * time.Second)
	_, err = b.DeliverSignal(engCtx, waitSignal(id, pw.WaitpointID, pw.WaitpointToken, "x"))
	engWantCode(t, err, backend.KindState, "waitpoint_closed")
	if rep, err := b.ExpirePendingWaitpoints(engCtx, clock.MS(), 10); err != nil || rep.Processed != 1 {
		t.Fatalf("ExpirePendingWaitpoints = %+v, %v", rep, err)
	}
	if waitWaitpointState(t, b, keep.WaitpointID) != "pending/" || waitWaitpointState(t, b, pw.WaitpointID) != "closed/never_committed" {
		t.Fatal("wrong waitpoint closed")
	}
	if rep, _ := b.ExpirePendingWaitpoints(engCtx, clock.MS(), 10); rep.Processed != 0 {
		t.Fatal("closed twice")
	}
	for _, bad := range []backend.CreateWaitpointArgs{{WaitpointKey: "", ExpiresInMS: 1}, {WaitpointKey: "k", ExpiresInMS: 0}} {
		_, err := b.CreateWaitpoint(engCtx, l.Handle, bad)
		engWantCode(t, err, backend.KindValidation, "invalid_input")
	}
	waitCheckInvariants(t, b)
}

// A waitpoint keeps at most signal_maxlen records, oldest dropped; the
// counters keep counting.
func TestSignalMaxlen(t *testing.T) {
	t.Parallel()
	b, _ := waitOpen(t, true)
	id, _, out := waitSuspend(t, b, waitArgs("never"))
	three := uint64(3)
	for i := range 5 {
		waitDeliver(t, b, waitSignal(id, out.Details.WaitpointID, out.Details.WaitpointToken, "n"+itoa(int64(i)),
			func(a *backend.DeliverSignalArgs) { a.SignalMaxlen = &three }))
	}
	u := uuid.MustParse(out.Details.WaitpointID)
	got := waitScalar(t, b, `SELECT json_array_length(condition, '$.signals') || ',' || json_extract(condition, '$.signal_count') || ',' ||
  json_extract(condition, '$.signals[0].signal_name') FROM ff_waitpoint_pending WHERE waitpoint_id = ?`, u[:])
	if got.String != "3,5,n2" {
		t.Fatalf("records,count,oldest = %s, want 3,5,n2", got.String)
	}
	if n := waitScalar(t, b, `SELECT json_extract(raw_fields, '$.signal_count') FROM ff_exec_core WHERE execution_id = ?`, id.UUID[:]); n.String != "5" {
		t.Fatalf("execution signal_count = %s", n.String)
	}
}

// §2.2 deliver step 7: the idempotency key "is remembered for the TTL".
// Canonical stores it with SET PX dedup_ttl_ms and a Valkey key with an
// expiry at T+ttl is expired only once now > T+ttl (keyIsExpired), so a
// repeat at exactly T+ttl is still a Duplicate.
func TestSignalDedupLivesThroughItsTTL(t *testing.T) {
	t.Parallel()
	b, clock := waitOpen(t, true)
	id, _, out := waitSuspend(t, b, waitArgs("approve"))
	d := out.Details
	key, ttl := "idem", uint64(1000)
	with := func(a *backend.DeliverSignalArgs) { a.IdempotencyKey, a.DedupTTLMS = &key, &ttl }
	first := waitDeliver(t, b, waitSignal(id, d.WaitpointID, d.WaitpointToken, "noise", with))
	clock.Advance(time.Duration(ttl) * time.Millisecond) // now == T + ttl
	r := waitDeliver(t, b, waitSignal(id, d.WaitpointID, d.WaitpointToken, "noise", with))
	if !r.Duplicate || r.ExistingSignalID != first.SignalID {
		t.Fatalf("at exactly T+ttl: %s, want Duplicate of %s (canonical: expired only when now > T+ttl)", waitJSON(t, r), first.SignalID)
	}
	clock.Advance(time.Millisecond)
	if r := waitDeliver(t, b, waitSignal(id, d.WaitpointID, d.WaitpointToken, "noise", with)); r.Duplicate {
		t.Fatal("past T+ttl still a duplicate")
	}
}

// §2.2 deliver step 6: the cap is "signal count for the execution ≥
// max_signals_per_execution (default 10000)": with 9999 recorded the
// 10000th is accepted and the 10001st is 400 signal_limit_exceeded.
func TestSignalCapBoundary(t *testing.T) {
	t.Parallel()
	b, _ := waitOpen(t, true)
	id, _, out := waitSuspend(t, b, waitArgs("approve"))
	d := out.Details
	engExec(t, b, `UPDATE ff_exec_core SET raw_fields = json_set(raw_fields, '$.signal_count', 9999) WHERE execution_id = ?`, id.UUID[:])
	if r := waitDeliver(t, b, waitSignal(id, d.WaitpointID, d.WaitpointToken, "noise")); r.Effect != suspension.EffectNoOp {
		t.Fatalf("10000th = %+v", r)
	}
	_, err := b.DeliverSignal(engCtx, waitSignal(id, d.WaitpointID, d.WaitpointToken, "approve"))
	engWantCode(t, err, backend.KindValidation, "signal_limit_exceeded")
}
