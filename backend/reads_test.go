package backend_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

func TestExecutionInfoWireShape(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		id := engCreate(t, b, engPrio(3), func(a *backend.CreateExecutionArgs) { a.ExecutionKind = "kind-x" })
		info := engInfo(t, b, id)
		got, _ := json.Marshal(info)
		want := fmt.Sprintf(`{"execution_id":"%s","namespace":"ns","lane_id":"default","priority":3,"execution_kind":"kind-x",`+
			`"state_vector":{"lifecycle_phase":"runnable","ownership_state":"unowned","eligibility_state":"eligible_now",`+
			`"blocking_reason":"waiting_for_worker","terminal_outcome":"none","attempt_state":"pending_first_attempt","public_state":"waiting"},`+
			`"public_state":"waiting","created_at":"%d","current_attempt_index":0,"flow_id":null,"blocking_detail":""}`, id, engT0)
		if string(got) != want {
			t.Fatalf("info JSON\n got %s\nwant %s", got, want)
		}
		clock.Advance(time.Second)
		l := engClaim(t, b)
		clock.Advance(time.Second)
		b.Complete(engCtx, l.Handle, []byte("x"))
		got, _ = json.Marshal(engInfo(t, b, id))
		for _, part := range []string{fmt.Sprintf(`"started_at":"%d"`, engT0+1000), fmt.Sprintf(`"completed_at":"%d"`, engT0+2000),
			`"public_state":"completed"`, `"terminal_outcome":"success"`} {
			if !strings.Contains(string(got), part) {
				t.Fatalf("info JSON %s lacks %s", got, part)
			}
		}
		missing := backend.NewExecutionID(9)
		for _, err := range []error{
			func() error { _, err := b.GetExecutionInfo(engCtx, missing); return err }(),
			func() error { _, err := b.GetPublicState(engCtx, missing); return err }(),
			func() error { _, err := b.ListAttempts(engCtx, missing); return err }(),
		} {
			engWantCode(t, err, backend.KindNotFound, "execution")
			if err.Error() != "execution not found: "+missing.String() {
				t.Fatalf("message %q", err)
			}
		}
		_, err := b.GetResult(engCtx, missing)
		engWantCode(t, err, backend.KindNotFound, "")
	})
}

func TestListExecutionsPaging(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		var all []string
		for i, p := range []uint16{1, 2, 10, 100, 1, 65535, 0} {
			for j := range 5 {
				lane := "a"
				if j%2 == 1 {
					lane = "b"
				}
				id := engCreate(t, b, engLane(lane), func(a *backend.CreateExecutionArgs) {
					a.ExecutionID = backend.NewExecutionID(p)
				})
				_ = i
				all = append(all, id.String())
			}
		}
		sort.Strings(all)
		collect := func(limit int, f backend.ListExecutionsFilter) []string {
			t.Helper()
			var got []string
			cursor := ""
			for range 100 {
				page, err := b.ListExecutions(engCtx, cursor, limit, f)
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Executions) > max(limit, 0) && limit > 0 {
					t.Fatalf("page of %d > limit %d", len(page.Executions), limit)
				}
				for _, id := range page.Executions {
					got = append(got, id.String())
				}
				if page.NextCursor == nil {
					return got
				}
				if *page.NextCursor != page.Executions[len(page.Executions)-1] {
					t.Fatal("next_cursor is not the last id")
				}
				cursor = page.NextCursor.String()
			}
			t.Fatal("paging did not end")
			return nil
		}
		for _, limit := range []int{1, 3, 7, 35, 50, 0} {
			if got := collect(limit, backend.ListExecutionsFilter{}); strings.Join(got, " ") != strings.Join(all, " ") {
				t.Fatalf("limit %d: got %d ids out of order or missing:\n%v\nwant\n%v", limit, len(got), got, all)
			}
		}
		p := uint16(1)
		got := collect(4, backend.ListExecutionsFilter{Partition: &p})
		if len(got) != 10 {
			t.Fatalf("partition 1: %d ids", len(got))
		}
		for _, id := range got {
			if !strings.HasPrefix(id, "{fp:1}:") {
				t.Fatalf("partition filter leaked %s", id)
			}
		}
		if got := collect(4, backend.ListExecutionsFilter{Lane: "b"}); len(got) != 14 {
			t.Fatalf("lane b: %d ids", len(got))
		}
		l := engClaim(t, b, func(a *backend.ClaimArgs) { a.LaneID = "a" })
		if got := collect(4, backend.ListExecutionsFilter{State: "active"}); len(got) != 1 || got[0] != l.ExecutionID.String() {
			t.Fatalf("state active: %v", got)
		}
		// Exact page boundary: no next cursor on the last full page.
		page, err := b.ListExecutions(engCtx, "", len(all), backend.ListExecutionsFilter{})
		if err != nil || len(page.Executions) != len(all) || page.NextCursor != nil {
			t.Fatalf("full page: %d, %v, %v", len(page.Executions), page.NextCursor, err)
		}
		out, _ := json.Marshal(page)
		if !strings.HasSuffix(string(out), `"next_cursor":null}`) {
			t.Fatalf("json %s", out)
		}
		_, err = b.ListExecutions(engCtx, "garbage", 10, backend.ListExecutionsFilter{})
		engWantCode(t, err, backend.KindValidation, "invalid_input")
		if !strings.Contains(err.Error(), "invalid cursor: ") {
			t.Fatalf("cursor error %q", err)
		}
		_, err = b.ListExecutions(engCtx, "", 10, backend.ListExecutionsFilter{State: "nope"})
		engWantCode(t, err, backend.KindValidation, "invalid_input")
		empty, err := b.ListExecutions(engCtx, all[len(all)-1], 10, backend.ListExecutionsFilter{})
		if err != nil || len(empty.Executions) != 0 || empty.NextCursor != nil {
			t.Fatalf("after last: %+v, %v", empty, err)
		}
		if out, _ := json.Marshal(empty); string(out) != `{"executions":[],"next_cursor":null}` {
			t.Fatalf("empty json %s", out)
		}
	})
}

func TestListExecutionsLimitClamp(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, true)
	for range backend.MaxListLimit + 5 {
		engCreate(t, b)
	}
	page, err := b.ListExecutions(engCtx, "", 5000, backend.ListExecutionsFilter{})
	if err != nil || len(page.Executions) != backend.MaxListLimit || page.NextCursor == nil {
		t.Fatalf("clamped page: %d, %v", len(page.Executions), err)
	}
	page, err = b.ListExecutions(engCtx, "", 0, backend.ListExecutionsFilter{})
	if err != nil || len(page.Executions) != backend.DefaultListLimit {
		t.Fatalf("default page: %d, %v", len(page.Executions), err)
	}
}
