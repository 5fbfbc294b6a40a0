package server_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/server"
)

// The dashboard's JSON: state counts, recent executions with their attempt
// count, budgets with usage against limits, and an execution's detail with
// its attempts and outbox events.
func TestDashboardJSON(t *testing.T) {
	t.Parallel()
	a := newAPI(t, testdb.Open(t), server.Config{})
	const bid = "6a0c2b9e-1f4d-4e7a-9b3c-2d5e8f1a0b7c"
	a.do("POST", "/v1/budgets", map[string]any{"budget_id": bid, "scope_type": "tenant", "scope_id": "acme",
		"enforcement_mode": "strict", "on_hard_limit": "fail", "on_soft_limit": "warn", "reset_interval_ms": 0,
		"dimensions": []string{"tokens"}, "hard_limits": []int{100}, "soft_limits": []int{80}, "now": 0}).
		wantJSON(t, http.StatusCreated, `{"Created":{"budget_id":"`+bid+`"}}`)
	if r := a.do("POST", "/v1/budgets/"+bid+"/usage", map[string]any{"dimensions": map[string]int{"tokens": 30}, "now": 0}); r.status != http.StatusOK {
		t.Fatalf("usage: %d %s", r.status, r.body)
	}
	waiting := a.create(0, nil)
	done := a.create(0, map[string]any{"priority": 9})
	l := a.claim(nil)
	if l == nil || l.ExecutionID != done.String() {
		t.Fatalf("claimed %+v, want %s", l, done)
	}
	if r := a.complete(l, []int{1}); r.status != http.StatusOK {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}

	var st struct {
		States     map[string]int64 `json:"states"`
		Executions []struct {
			ExecutionID string `json:"execution_id"`
			PublicState string `json:"public_state"`
			Attempts    int64  `json:"attempts"`
		} `json:"executions"`
		Budgets []struct {
			BudgetID   string `json:"budget_id"`
			Dimensions []struct {
				Dimension string `json:"dimension"`
				Usage     int64  `json:"usage"`
				HardLimit int64  `json:"hard_limit"`
				SoftLimit int64  `json:"soft_limit"`
			} `json:"dimensions"`
		} `json:"budgets"`
	}
	a.do(http.MethodGet, "/ui/api/state", nil).decode(t, &st)
	if st.States["waiting"] != 1 || st.States["completed"] != 1 {
		t.Fatalf("states %v", st.States)
	}
	attempts := map[string]int64{}
	for _, e := range st.Executions {
		attempts[e.ExecutionID] = e.Attempts
	}
	if len(attempts) != 2 || attempts[waiting.String()] != 0 || attempts[done.String()] != 1 {
		t.Fatalf("executions %+v", st.Executions)
	}
	if len(st.Budgets) != 1 || len(st.Budgets[0].Dimensions) != 1 {
		t.Fatalf("budgets %+v", st.Budgets)
	}
	if d := st.Budgets[0].Dimensions[0]; d.Dimension != "tokens" || d.Usage != 30 || d.HardLimit != 100 || d.SoftLimit != 80 {
		t.Fatalf("budget dimension %+v", d)
	}

	var det struct {
		Attempts []struct {
			WorkerInstanceID string `json:"worker_instance_id"`
			Outcome          string `json:"outcome"`
		} `json:"attempts"`
		Events []struct {
			Outbox string `json:"outbox"`
			Type   string `json:"type"`
		} `json:"events"`
	}
	a.do(http.MethodGet, "/ui/api/execution?id="+url.QueryEscape(done.String()), nil).decode(t, &det)
	if len(det.Attempts) != 1 || det.Attempts[0].Outcome != "success" {
		t.Fatalf("attempts %+v", det.Attempts)
	}
	seen := map[string]bool{}
	for _, e := range det.Events {
		seen[e.Outbox+":"+e.Type] = true
	}
	for _, want := range []string{"completion:success", "lease:acquired", "lease:released"} {
		if !seen[want] {
			t.Fatalf("events %+v lack %s", det.Events, want)
		}
	}
	if r := a.do(http.MethodGet, "/ui/api/execution?id=nope", nil); r.status != http.StatusBadRequest {
		t.Fatalf("bad id: %d", r.status)
	}
}
