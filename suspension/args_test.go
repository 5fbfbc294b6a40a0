package suspension

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"
)

const argsNow = int64(1_800_000_000_000)

var (
	wp1 = uuid.MustParse("11111111-1111-4111-8111-111111111111")
	wp2 = uuid.MustParse("22222222-2222-4222-8222-222222222222")
	wp3 = uuid.MustParse("33333333-3333-4333-8333-333333333333")
)

func baseArgs() SuspendArgs {
	return SuspendArgs{
		SuspensionID:    uuid.MustParse("44444444-4444-4444-8444-444444444444"),
		Waitpoints:      []WaitpointBinding{Fresh(wp1, "a")},
		ResumeCondition: Single("a", ByName("approve")),
		ResumePolicy:    DefaultResumePolicy(),
		ReasonCode:      ReasonWaitingForApproval,
		RequestedBy:     RequestedByWorker,
		TimeoutBehavior: TimeoutFail,
		Now:             argsNow,
	}
}

func ptr[T any](v T) *T { return &v }

// Every validation detail of engine-canonical.md §2.2, in upstream's
// check order, plus ffsqlite's additions.
func TestValidateSuspendArgs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		mod  func(a *SuspendArgs)
		want string
	}{
		{"valid", func(a *SuspendArgs) {}, ""},
		{"waitpoints empty", func(a *SuspendArgs) { a.Waitpoints = nil }, "waitpoints_empty"},
		{"waitpoints empty beats everything", func(a *SuspendArgs) {
			a.Waitpoints = []WaitpointBinding{}
			a.ResumeCondition = AllOf()
		}, "waitpoints_empty"},
		{"primary fresh key differs from single", func(a *SuspendArgs) { a.Waitpoints[0].WaitpointKey = "b" }, "waitpoint_key_mismatch"},
		{"use pending primary skips the key check", func(a *SuspendArgs) { a.Waitpoints = []WaitpointBinding{UsePending(wp1)} }, ""},
		{"extra binding must be fresh", func(a *SuspendArgs) {
			a.ResumeCondition = AllOf(Single("a", Wildcard()), Single("b", Wildcard()))
			a.Waitpoints = []WaitpointBinding{Fresh(wp1, "a"), UsePending(wp2)}
		}, "additional_waitpoint_binding_must_be_fresh at waitpoints[1]"},
		{"extra binding needs a key", func(a *SuspendArgs) {
			a.ResumeCondition = AllOf(Single("a", Wildcard()), Single("b", Wildcard()))
			a.Waitpoints = []WaitpointBinding{Fresh(wp1, "a"), Fresh(wp2, "b"), Fresh(wp3, "")}
		}, "additional_waitpoint_binding_empty_key at waitpoints[2]"},
		{"use pending with extras", func(a *SuspendArgs) {
			a.ResumeCondition = AllOf(Single("a", Wildcard()), Single("b", Wildcard()))
			a.Waitpoints = []WaitpointBinding{UsePending(wp1), Fresh(wp2, "b")}
		}, "use_pending_with_extras_unsupported"},
		{"referenced key without binding", func(a *SuspendArgs) {
			a.ResumeCondition = AllOf(Single("a", Wildcard()), Single("c", Wildcard()))
			a.Waitpoints = []WaitpointBinding{Fresh(wp1, "a"), Fresh(wp2, "b")}
		}, "referenced_waitpoint_key_missing_binding: c"},
		{"binding not referenced", func(a *SuspendArgs) {
			a.ResumeCondition = AllOf(Single("a", Wildcard()), Single("b", Wildcard()))
			a.Waitpoints = []WaitpointBinding{Fresh(wp1, "a"), Fresh(wp2, "b"), Fresh(wp3, "c")}
		}, "extra_binding_not_referenced_by_condition: c"},
		{"three bindings, count over all", func(a *SuspendArgs) {
			a.ResumeCondition = Count(2, DistinctWaitpoints, nil, "a", "b", "c")
			a.Waitpoints = []WaitpointBinding{Fresh(wp1, "a"), Fresh(wp2, "b"), Fresh(wp3, "c")}
		}, ""},
		{"timeout only needs a deadline", func(a *SuspendArgs) { a.ResumeCondition = TimeoutOnly() }, "timeout_only_without_deadline"},
		{"timeout only with a deadline", func(a *SuspendArgs) {
			a.ResumeCondition = TimeoutOnly()
			a.TimeoutAt = ptr(argsNow + 1000)
		}, ""},
		{"empty by name", func(a *SuspendArgs) { a.ResumeCondition = Single("a", ByName("")) },
			"resume_condition: empty signal name (use Wildcard instead)"},
		{"empty by name nested", func(a *SuspendArgs) {
			a.ResumeCondition = AllOf(Single("a", Wildcard()), Count(1, DistinctSignals, ByName(""), "a"))
		}, "resume_condition: empty signal name (use Wildcard instead) at path members[1]"},
		{"timeout in the past beyond the skew", func(a *SuspendArgs) { a.TimeoutAt = ptr(argsNow - ClockSkewToleranceMS - 1) }, "timeout_at_in_past"},
		{"timeout in the past within the skew", func(a *SuspendArgs) { a.TimeoutAt = ptr(argsNow - ClockSkewToleranceMS) }, ""},
		{"composite structure", func(a *SuspendArgs) { a.ResumeCondition = Count(0, DistinctSignals, nil, "a") }, "count_n_zero at path <root>"},
		{"composite depth", func(a *SuspendArgs) {
			a.ResumeCondition = AllOf(AllOf(AllOf(AllOf(AllOf(Single("a", Wildcard()))))))
		}, "depth 5 exceeds cap 4 at path members[0].members[0].members[0].members[0]"},
		{"duplicate waitpoint id", func(a *SuspendArgs) {
			a.ResumeCondition = AllOf(Single("a", Wildcard()), Single("b", Wildcard()))
			a.Waitpoints = []WaitpointBinding{Fresh(wp1, "a"), Fresh(wp1, "b")}
		}, "duplicate_waitpoint_id: " + wp1.String()},
		{"duplicate waitpoint key", func(a *SuspendArgs) {
			a.ResumeCondition = AllOf(Single("a", Wildcard()), Single("a", ByName("x")))
			a.Waitpoints = []WaitpointBinding{Fresh(wp1, "a"), Fresh(wp2, "a")}
		}, "duplicate_waitpoint_key: a"},
		{"mismatch is checked before the extras", func(a *SuspendArgs) {
			a.Waitpoints = []WaitpointBinding{Fresh(wp1, "z"), UsePending(wp2)}
		}, "waitpoint_key_mismatch"},
		{"deadline check before empty by name", func(a *SuspendArgs) {
			a.ResumeCondition = TimeoutOnly()
			a.Waitpoints = []WaitpointBinding{Fresh(wp1, "")}
		}, "timeout_only_without_deadline"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a := baseArgs()
			c.mod(&a)
			err := a.Validate(argsNow)
			got := ""
			if err != nil {
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("error %T %v is not a *ValidationError", err, err)
				}
				got = ve.Detail
			}
			if got != c.want {
				t.Fatalf("Validate = %q, want %q", got, c.want)
			}
		})
	}
}

func TestSuspendArgsJSON(t *testing.T) {
	t.Parallel()
	a := baseArgs()
	a.Waitpoints = append(a.Waitpoints, UsePending(wp2))
	a.TimeoutAt = ptr(argsNow + 5)
	a.IdempotencyKey = ptr("k")
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"suspension_id":"44444444-4444-4444-8444-444444444444","waitpoints":[{"Fresh":{"waitpoint_id":"11111111-1111-4111-8111-111111111111","waitpoint_key":"a"}},{"UsePending":{"waitpoint_id":"22222222-2222-4222-8222-222222222222"}}],"resume_condition":{"Single":{"waitpoint_key":"a","matcher":{"ByName":"approve"}}},"resume_policy":{"resume_target":"Runnable","consume_matched_signals":true,"retain_signal_buffer_until_closed":false,"close_waitpoint_on_resume":true},"reason_code":"WaitingForApproval","requested_by":"Worker","timeout_at":1800000000005,"timeout_behavior":"Fail","now":1800000000000,"idempotency_key":"k"}`
	if string(data) != want {
		t.Fatalf("Marshal =\n%s\nwant\n%s", data, want)
	}
	var back SuspendArgs
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, a) {
		t.Fatalf("round trip = %+v\nwant %+v", back, a)
	}
}

func TestSuspendArgsJSONRejects(t *testing.T) {
	t.Parallel()
	good := map[string]any{}
	data, _ := json.Marshal(baseArgs())
	json.Unmarshal(data, &good)
	cases := map[string]func(m map[string]any){
		"missing suspension_id":     func(m map[string]any) { delete(m, "suspension_id") },
		"bad suspension_id":         func(m map[string]any) { m["suspension_id"] = "nope" },
		"missing waitpoints":        func(m map[string]any) { delete(m, "waitpoints") },
		"null resume_policy":        func(m map[string]any) { m["resume_policy"] = nil },
		"policy missing a field":    func(m map[string]any) { m["resume_policy"] = map[string]any{"resume_target": "Runnable"} },
		"policy unknown target":     func(m map[string]any) { m["resume_policy"].(map[string]any)["resume_target"] = "Elsewhere" },
		"unknown reason code":       func(m map[string]any) { m["reason_code"] = "waiting_for_approval" },
		"unknown requester":         func(m map[string]any) { m["requested_by"] = "Someone" },
		"unknown timeout behaviour": func(m map[string]any) { m["timeout_behavior"] = "fail" },
		"missing now":               func(m map[string]any) { delete(m, "now") },
		"binding bad id": func(m map[string]any) {
			m["waitpoints"] = []any{map[string]any{"Fresh": map[string]any{"waitpoint_id": "x", "waitpoint_key": "a"}}}
		},
		"binding unknown variant": func(m map[string]any) {
			m["waitpoints"] = []any{map[string]any{"Stale": map[string]any{"waitpoint_id": wp1.String()}}}
		},
		"fresh binding without key": func(m map[string]any) {
			m["waitpoints"] = []any{map[string]any{"Fresh": map[string]any{"waitpoint_id": wp1.String()}}}
		},
		"bad condition":       func(m map[string]any) { m["resume_condition"] = "Anything" },
		"timeout_at a string": func(m map[string]any) { m["timeout_at"] = "soon" },
	}
	for name, mod := range cases {
		m := map[string]any{}
		json.Unmarshal(data, &m)
		mod(m)
		in, _ := json.Marshal(m)
		var a SuspendArgs
		err := json.Unmarshal(in, &a)
		var se *ShapeError
		if !errors.As(err, &se) {
			t.Errorf("%s: Unmarshal = %v, want a *ShapeError", name, err)
		}
	}
	if len(good) == 0 {
		t.Fatal("base args did not decode")
	}
}

func TestWireStringsAndBlocking(t *testing.T) {
	t.Parallel()
	for code, want := range map[ReasonCode]string{
		ReasonWaitingForSignal: "waiting_for_signal", ReasonWaitingForApproval: "waiting_for_approval",
		ReasonWaitingForCallback: "waiting_for_callback", ReasonWaitingForToolResult: "waiting_for_tool_result",
		ReasonWaitingForOperatorReview: "paused_by_operator", ReasonManualPause: "paused_by_operator",
		ReasonPausedByPolicy: "paused_by_policy", ReasonPausedByBudget: "waiting_for_budget",
		ReasonStepBoundary: "waiting_for_signal",
	} {
		if got := BlockingReasonFor(code.Wire()); got != want {
			t.Errorf("BlockingReasonFor(%s) = %s, want %s", code.Wire(), got, want)
		}
	}
	if BlockingReasonFor("something_else") != "waiting_for_signal" {
		t.Error("unknown reason does not map to waiting_for_signal")
	}
	if TimeoutAutoResumeWithTimeoutSignal.Wire() != "auto_resume_with_timeout_signal" || RequestedBySystemTimeoutPolicy.Wire() != "system_timeout_policy" {
		t.Error("wire strings")
	}
	a := baseArgs()
	if got := a.DedupTTLMS(argsNow); got != SuspendDedupMaxTTLMS {
		t.Errorf("DedupTTLMS without timeout = %d", got)
	}
	a.TimeoutAt = ptr(argsNow + 1000)
	if got := a.DedupTTLMS(argsNow); got != 1000+SuspendDedupGraceMS {
		t.Errorf("DedupTTLMS = %d", got)
	}
	a.TimeoutAt = ptr(argsNow - 5)
	if got := a.DedupTTLMS(argsNow); got != SuspendDedupGraceMS {
		t.Errorf("DedupTTLMS past = %d", got)
	}
	if !strings.Contains(invalid("x").Error(), "invalid_input") {
		t.Error("error text")
	}
}

// §2.2 validation: timeout_at_in_past is "timeout_at more than 600000 ms
// before now". A timeout far in the future (near i64 max) is not in the
// past; at + 600000 must not wrap around.
func TestFarFutureTimeoutIsNotInThePast(t *testing.T) {
	t.Parallel()
	wp := uuid.New()
	key := "wpk:" + wp.String()
	at := int64(math.MaxInt64 - 1000)
	a := SuspendArgs{
		SuspensionID: uuid.New(), Waitpoints: []WaitpointBinding{Fresh(wp, key)},
		ResumeCondition: Single(key, ByName("go")), ResumePolicy: DefaultResumePolicy(),
		ReasonCode: ReasonWaitingForSignal, RequestedBy: RequestedByWorker,
		TimeoutAt: &at, TimeoutBehavior: TimeoutFail,
	}
	if err := a.Validate(argsNow); err != nil {
		t.Fatalf("Validate(timeout_at = MaxInt64-1000) = %v", err)
	}
}
