package backend_test

import (
	"encoding/json"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
)

func TestFailRetryBackoff(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		policy string
		class  backend.FailureClass
		// delays of each retry; after them the next failure is terminal.
		delays []int64
	}{
		{"exponential with cap", `{"retry_policy":{"max_retries":5,"backoff":{"type":"exponential","initial_delay_ms":1000,"max_delay_ms":5000,"multiplier":2}}}`,
			backend.FailTransient, []int64{1000, 2000, 4000, 5000, 5000}},
		{"default backoff", `{"retry_policy":{"max_retries":3}}`, backend.FailInfraCrash, []int64{1000, 2000, 4000}},
		{"default max_retries", `{"retry_policy":{"backoff":{"type":"fixed","delay_ms":7}}}`, backend.FailTransient, []int64{7, 7, 7}},
		{"fixed", `{"retry_policy":{"max_retries":2,"backoff":{"type":"fixed","delay_ms":250}}}`, backend.FailTransient, []int64{250, 250}},
		{"fixed zero", `{"retry_policy":{"max_retries":1,"backoff":{"type":"fixed","delay_ms":0}}}`, backend.FailTransient, []int64{0}},
		{"multiplier 1.5", `{"retry_policy":{"max_retries":3,"backoff":{"type":"exponential","initial_delay_ms":100,"max_delay_ms":1000,"multiplier":1.5}}}`,
			backend.FailTransient, []int64{100, 150, 225}},
		{"no retry policy", ``, backend.FailTransient, nil},
		{"max_retries 0", `{"retry_policy":{"max_retries":0}}`, backend.FailTransient, nil},
		{"permanent", `{"retry_policy":{"max_retries":3}}`, backend.FailPermanent, nil},
		{"timeout", `{"retry_policy":{"max_retries":3}}`, backend.FailTimeout, nil},
		{"cancelled", `{"retry_policy":{"max_retries":3}}`, backend.FailCancelled, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b, clock := engOpen(t, true)
			id := engCreate(t, b, engPolicy(c.policy))
			for i, d := range append(c.delays, -1) {
				l := engClaim(t, b)
				res, err := b.Fail(engCtx, l.Handle, backend.FailArgs{Class: c.class, Reason: "boom"})
				if err != nil {
					t.Fatal(err)
				}
				info := engInfo(t, b, id)
				if d < 0 {
					want := backend.StateVector{"terminal", "unowned", "not_applicable", "none", "failed", "attempt_terminal", "failed"}
					if res.RetryScheduled || info.StateVector != want {
						t.Fatalf("failure %d: %+v, %+v; want terminal failed", i, res, info.StateVector)
					}
					break
				}
				now := clock.MS()
				want := backend.StateVector{"runnable", "unowned", "not_eligible_until_time", "waiting_for_retry_backoff", "none", "pending_retry_attempt", "delayed"}
				if !res.RetryScheduled || res.DelayUntilMS != now+d || info.StateVector != want {
					t.Fatalf("failure %d: %+v, %+v; want retry after %d", i, res, info.StateVector, d)
				}
				if d > 0 {
					clock.Set(now + d - 1)
					if l, err := b.Claim(engCtx, engClaimArgs()); l != nil || err != nil {
						t.Fatalf("claimed during backoff: %+v, %v", l, err)
					}
				}
				clock.Set(now + d)
				engCheckInvariants(t, b)
			}
			att, err := b.ListAttempts(engCtx, id)
			if err != nil || len(att) != len(c.delays)+1 {
				t.Fatalf("attempts = %d, %v", len(att), err)
			}
			for _, a := range att {
				if a.Outcome != "failed" || a.FailureClass != string(c.class) || a.FailureReason != "boom" {
					t.Fatalf("attempt %+v", a)
				}
			}
			if ev := engJoin(engEvents(t, b, backend.OutboxCompletion, id)); ev != "failed" {
				t.Fatalf("completion events = %s", ev)
			}
			var retries int64
			b.ReaderDB().QueryRowContext(engCtx, `SELECT json_extract(raw_fields, '$.retry_count') FROM ff_exec_core`).Scan(&retries)
			if retries != int64(len(c.delays)) {
				t.Fatalf("retry_count = %d", retries)
			}
			engCheckInvariants(t, b)
		})
	}
}

func TestFailValidationAndJSON(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, true)
	engCreate(t, b)
	l := engClaim(t, b)
	_, err := b.Fail(engCtx, l.Handle, backend.FailArgs{Class: "weird"})
	engWantCode(t, err, backend.KindValidation, "invalid_input")
	for _, c := range []struct {
		r    backend.FailResult
		want string
	}{
		{backend.FailResult{RetryScheduled: true, DelayUntilMS: 5}, `{"RetryScheduled":{"delay_until":5}}`},
		{backend.FailResult{}, `"TerminalFailed"`},
	} {
		if got, _ := json.Marshal(c.r); string(got) != c.want {
			t.Errorf("marshal = %s, want %s", got, c.want)
		}
	}
}
