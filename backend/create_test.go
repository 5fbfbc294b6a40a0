package backend_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

func TestCreateLandsWaitingOrDelayed(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, false)
	cases := []struct {
		name      string
		mod       func(*backend.CreateExecutionArgs)
		state     string
		vector    backend.StateVector
		hasDetail bool
	}{
		{"no delay", func(*backend.CreateExecutionArgs) {}, "waiting",
			backend.StateVector{"runnable", "unowned", "eligible_now", "waiting_for_worker", "none", "pending_first_attempt", "waiting"}, false},
		{"past delay", func(a *backend.CreateExecutionArgs) { d := engT0 - 1; a.DelayUntil = &d }, "waiting",
			backend.StateVector{"runnable", "unowned", "eligible_now", "waiting_for_worker", "none", "pending_first_attempt", "waiting"}, false},
		{"delay == now", func(a *backend.CreateExecutionArgs) { d := engT0; a.DelayUntil = &d }, "waiting",
			backend.StateVector{"runnable", "unowned", "eligible_now", "waiting_for_worker", "none", "pending_first_attempt", "waiting"}, false},
		{"future delay", func(a *backend.CreateExecutionArgs) { d := engT0 + 5000; a.DelayUntil = &d }, "delayed",
			backend.StateVector{"runnable", "unowned", "not_eligible_until_time", "waiting_for_delay", "none", "pending_first_attempt", "delayed"}, true},
		{"policy delay", engPolicy(`{"delay_until": 1800000009000}`), "delayed",
			backend.StateVector{"runnable", "unowned", "not_eligible_until_time", "waiting_for_delay", "none", "pending_first_attempt", "delayed"}, true},
	}
	for _, c := range cases {
		a := engArgs(c.mod)
		res, err := b.CreateExecution(engCtx, a)
		if err != nil || res.Duplicate || res.PublicState != c.state || res.ExecutionID != a.ExecutionID {
			t.Fatalf("%s: CreateExecution = %+v, %v", c.name, res, err)
		}
		info := engInfo(t, b, a.ExecutionID)
		if info.StateVector != c.vector {
			t.Errorf("%s: vector %+v, want %+v", c.name, info.StateVector, c.vector)
		}
		if (info.BlockingDetail != "") != c.hasDetail {
			t.Errorf("%s: blocking_detail %q", c.name, info.BlockingDetail)
		}
	}
	engCheckInvariants(t, b)
}

func TestCreateResultJSON(t *testing.T) {
	t.Parallel()
	id := backend.MustParseExecutionID("{fp:7}:0f8fad5b-d9cb-469f-a165-70867728950e")
	for _, c := range []struct {
		r    backend.CreateExecutionResult
		want string
	}{
		{backend.CreateExecutionResult{ExecutionID: id, PublicState: "waiting"},
			`{"Created":{"execution_id":"{fp:7}:0f8fad5b-d9cb-469f-a165-70867728950e","public_state":"waiting"}}`},
		{backend.CreateExecutionResult{Duplicate: true, ExecutionID: id},
			`{"Duplicate":{"execution_id":"{fp:7}:0f8fad5b-d9cb-469f-a165-70867728950e"}}`},
	} {
		got, err := json.Marshal(c.r)
		if err != nil || string(got) != c.want {
			t.Errorf("marshal = %s, %v; want %s", got, err, c.want)
		}
	}
}

func TestCreateArgsWireShape(t *testing.T) {
	t.Parallel()
	body := `{"execution_id":"{fp:7}:0f8fad5b-d9cb-469f-a165-70867728950e","namespace":"ns","lane_id":"default",
"execution_kind":"k","input_payload":[123,125],"priority":5,"creator_identity":"me","tags":{"a":"b"},
"policy":{"max_retries_ignored":1},"partition_id":7,"now":1}`
	var a backend.CreateExecutionArgs
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatal(err)
	}
	if string(a.InputPayload) != "{}" || a.Priority != 5 || a.Tags["a"] != "b" || a.ExecutionID.Partition != 7 {
		t.Fatalf("decoded %+v", a)
	}
	out, _ := json.Marshal(backend.Bytes("{}"))
	if string(out) != "[123,125]" {
		t.Fatalf("Bytes marshal = %s", out)
	}
}

func TestCreateDuplicates(t *testing.T) {
	t.Parallel()
	clock := testdb.NewClock(engT0)
	b := testdb.Open(t, testdb.WithClock(clock.Now))
	key := "idem-1"
	first := engArgs(func(a *backend.CreateExecutionArgs) { a.IdempotencyKey = &key })
	if _, err := b.CreateExecution(engCtx, first); err != nil {
		t.Fatal(err)
	}
	dup := func(name string, a backend.CreateExecutionArgs, wantDup bool, wantID backend.ExecutionID) {
		t.Helper()
		res, err := b.CreateExecution(engCtx, a)
		if err != nil || res.Duplicate != wantDup || (wantDup && res.ExecutionID != wantID) {
			t.Fatalf("%s: %+v, %v; want duplicate=%v of %s", name, res, err, wantDup, wantID)
		}
	}
	// Same id (even on another partition) is a duplicate of the original.
	same := first
	same.IdempotencyKey = nil
	dup("same id", same, true, first.ExecutionID)
	other := same
	other.ExecutionID.Partition = 99
	dup("same uuid other partition", other, true, first.ExecutionID)
	// Same key, new id, inside the window.
	clock.Advance(23 * time.Hour)
	dup("key inside window", engArgs(func(a *backend.CreateExecutionArgs) { a.IdempotencyKey = &key }), true, first.ExecutionID)
	// Same key in another namespace is not a duplicate.
	dup("key other namespace", engArgs(func(a *backend.CreateExecutionArgs) { a.IdempotencyKey = &key; a.Namespace = "ns2" }), false, backend.ExecutionID{})
	// Outside the 24 h window: a new execution.
	clock.Advance(time.Hour)
	dup("key outside window", engArgs(func(a *backend.CreateExecutionArgs) { a.IdempotencyKey = &key }), false, backend.ExecutionID{})
	// A policy window applies to executions created with it.
	k2 := "idem-2"
	short := engArgs(engPolicy(`{"dedup_window_ms": 1000}`), func(a *backend.CreateExecutionArgs) { a.IdempotencyKey = &k2 })
	dup("short first", short, false, backend.ExecutionID{})
	clock.Advance(999 * time.Millisecond)
	dup("short inside", engArgs(func(a *backend.CreateExecutionArgs) { a.IdempotencyKey = &k2 }), true, short.ExecutionID)
	clock.Advance(time.Millisecond)
	dup("short boundary", engArgs(func(a *backend.CreateExecutionArgs) { a.IdempotencyKey = &k2 }), false, backend.ExecutionID{})
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, true)
	cases := []struct {
		name string
		mod  func(*backend.CreateExecutionArgs)
		code string
	}{
		{"no id", func(a *backend.CreateExecutionArgs) { a.ExecutionID = backend.ExecutionID{} }, "invalid_input"},
		{"empty lane", engLane(""), "invalid_input"},
		{"long lane", engLane(string(make([]byte, 65))), "invalid_input"},
		{"control lane", engLane("a\nb"), "invalid_input"},
		{"policy not json", engPolicy(`{nope`), "invalid_policy_json"},
		{"policy array", engPolicy(`[1]`), "invalid_policy_json"},
		{"policy bad type", engPolicy(`{"max_replay_count": -1}`), "invalid_policy_json"},
		{"backoff unknown", engPolicy(`{"retry_policy":{"backoff":{"type":"linear"}}}`), "invalid_policy_json"},
		{"backoff incomplete", engPolicy(`{"retry_policy":{"backoff":{"type":"exponential","initial_delay_ms":1}}}`), "invalid_policy_json"},
		{"fixed without delay", engPolicy(`{"retry_policy":{"backoff":{"type":"fixed"}}}`), "invalid_policy_json"},
		{"cap empty", engPolicy(`{"routing_requirements":{"required_capabilities":[""]}}`), "invalid_capabilities"},
		{"cap comma", engPolicy(`{"routing_requirements":{"required_capabilities":["a,b"]}}`), "invalid_capabilities"},
		{"cap space", engPolicy(`{"routing_requirements":{"required_capabilities":["a b"]}}`), "invalid_capabilities"},
		{"cap del", engPolicy(`{"routing_requirements":{"required_capabilities":["a\u007f"]}}`), "invalid_capabilities"},
	}
	for _, c := range cases {
		_, err := b.CreateExecution(engCtx, engArgs(c.mod))
		engWantCode(t, err, backend.KindValidation, c.code)
	}
	many := make([]string, 257)
	for i := range many {
		many[i] = "c" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	p, _ := json.Marshal(map[string]any{"routing_requirements": map[string]any{"required_capabilities": many}})
	_, err := b.CreateExecution(engCtx, engArgs(engPolicy(string(p))))
	engWantCode(t, err, backend.KindValidation, "invalid_capabilities")
	// A null policy is no policy.
	if _, err := b.CreateExecution(engCtx, engArgs(engPolicy(`null`))); err != nil {
		t.Fatal(err)
	}
}

func TestCreateStoresFields(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, false)
	dl := engT0 + 60_000
	cases := []struct {
		name     string
		mods     []func(*backend.CreateExecutionArgs)
		prio     int32
		deadline any
		caps     string
	}{
		{"clamp high", []func(*backend.CreateExecutionArgs){engPrio(12000)}, 9000, nil, ""},
		{"clamp low", []func(*backend.CreateExecutionArgs){engPrio(-5)}, 0, nil, ""},
		{"deadline arg", []func(*backend.CreateExecutionArgs){func(a *backend.CreateExecutionArgs) { a.ExecutionDeadlineAt = &dl }}, 0, dl, ""},
		{"deadline policy", []func(*backend.CreateExecutionArgs){engPolicy(`{"timeout_policy":{"execution_deadline_ms":5000}}`)}, 0, engT0 + 5000, ""},
		{"caps sorted dedup", []func(*backend.CreateExecutionArgs){engLane("gpu-lane"),
			engPolicy(`{"routing_requirements":{"required_capabilities":["gpu","cuda","gpu"]}}`)}, 0, nil, "cuda,gpu"},
	}
	for _, c := range cases {
		id := engCreate(t, b, c.mods...)
		info := engInfo(t, b, id)
		if info.Priority != c.prio {
			t.Errorf("%s: priority %d want %d", c.name, info.Priority, c.prio)
		}
		var deadline any
		var caps string
		row := b.ReaderDB().QueryRowContext(engCtx, `SELECT deadline_at_ms,
  COALESCE((SELECT group_concat(capability, ',') FROM (SELECT capability FROM ff_execution_capabilities
    WHERE execution_id = e.execution_id ORDER BY capability)), '')
FROM ff_exec_core e WHERE partition_key = ? AND execution_id = ?`, int64(id.Partition), id.UUID[:])
		if err := row.Scan(&deadline, &caps); err != nil {
			t.Fatal(err)
		}
		if deadline != c.deadline || caps != c.caps {
			t.Errorf("%s: deadline %v caps %q; want %v %q", c.name, deadline, caps, c.deadline, c.caps)
		}
	}
	var lanes string
	if err := b.ReaderDB().QueryRowContext(engCtx,
		`SELECT group_concat(lane_id, ',') FROM (SELECT lane_id FROM ff_lane_registry ORDER BY lane_id)`).Scan(&lanes); err != nil {
		t.Fatal(err)
	}
	if lanes != "default,gpu-lane" {
		t.Fatalf("lane registry = %q", lanes)
	}
}

// TestCreateDuplicateOfUnreadablePolicy: a create with an idempotency
// key must not fail because another execution's policy (here written by
// another writer, nested past SQLite's JSON depth) cannot be read; that
// execution's dedup window is then the default one.
func TestCreateDuplicateOfUnreadablePolicy(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, true)
	key := "idem-deep"
	first := engArgs(func(a *backend.CreateExecutionArgs) { a.IdempotencyKey = &key })
	if _, err := b.CreateExecution(engCtx, first); err != nil {
		t.Fatal(err)
	}
	deep := `{"x":` + strings.Repeat("[", 1001) + strings.Repeat("]", 1001) + `}`
	if _, err := readySecond(t, b).ExecContext(engCtx, `UPDATE ff_exec_core SET policy = ?1 WHERE execution_id = ?2`,
		deep, first.ExecutionID.UUID[:]); err != nil {
		t.Fatal(err)
	}
	res, err := b.CreateExecution(engCtx, engArgs(func(a *backend.CreateExecutionArgs) { a.IdempotencyKey = &key }))
	if err != nil || !res.Duplicate || res.ExecutionID != first.ExecutionID {
		t.Fatalf("create with the same key: %+v, %v; want a duplicate of %s", res, err, first.ExecutionID)
	}
}
