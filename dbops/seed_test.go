package dbops_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/dbops"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

var quiet = backend.Options{Logger: slog.New(slog.DiscardHandler)}

func execEntry(uuid, lane string) string {
	return fmt.Sprintf(`{"execution_id":"{fp:1}:%s","namespace":"ns","lane_id":%q,"execution_kind":"k",
		"input_payload":[123,125],"priority":5,"creator_identity":"me","partition_id":1,"now":0}`, uuid, lane)
}

const budgetEntry = `{"budget_id":"b1","scope_type":"t","scope_id":"x","enforcement_mode":"strict","on_hard_limit":"fail",
	"on_soft_limit":"warn","reset_interval_ms":0,"dimensions":["tokens"],"hard_limits":[10],"soft_limits":[5],"now":0}`

const quotaEntry = `{"quota_policy_id":"6c8e2f0a-1b2c-4d3e-8f40-5a6b7c8d9e0f","window_seconds":60,"max_requests_per_window":10,"max_concurrent":2,"now":0}`

func count(t *testing.T, b *backend.Backend, table string) int {
	t.Helper()
	var n int
	if err := b.ReaderDB().QueryRowContext(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSeedBadEntryNamesItAndAppliesNothing(t *testing.T) {
	t.Parallel()
	good := execEntry("11111111-2222-4333-8444-555555555555", "default")
	cases := []struct {
		name, file, want string
	}{
		{"missing field", `{"executions":[` + good + `,{"execution_id":"{fp:1}:21111111-2222-4333-8444-555555555555"}]}`, "executions[1].namespace: required"},
		{"wrong type", `{"budgets":[` + strings.Replace(budgetEntry, `"hard_limits":[10]`, `"hard_limits":["ten"]`, 1) + `]}`, "budgets[0].hard_limits: json: cannot unmarshal"},
		{"bad uuid", `{"executions":[` + good + `],"quotas":[` + strings.Replace(quotaEntry, "6c8e2f0a-1b2c-4d3e-8f40-5a6b7c8d9e0f", "q1", 1) + `]}`, "quotas[0].quota_policy_id: invalid UUID"},
		{"bad id", `{"executions":[` + strings.Replace(good, "{fp:1}:", "", 1) + `]}`, "executions[0].execution_id: "},
		{"engine validation", `{"executions":[` + good + `,` + execEntry("31111111-2222-4333-8444-555555555555", strings.Repeat("l", 65)) + `]}`, "executions[1]: create_execution: lane_id: must be 1..=64 bytes"},
		{"budget rule", `{"budgets":[` + strings.Replace(budgetEntry, `"soft_limits":[5]`, `"soft_limits":[]`, 1) + `]}`, "budgets[0]: create_budget: dimensions / hard_limits / soft_limits length mismatch"},
		{"not an object", `{"executions":[7]}`, "executions[0]: not a JSON object"},
		{"unknown array", `{"flowz":[]}`, `unknown array "flowz" (known: quotas, executions, budgets, flows, members, edges)`},
		{"not an array", `{"budgets":{}}`, `"budgets" is not an array`},
		{"not json", `[1,2`, "not a JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := testdb.Open(t)
			_, err := dbops.Seed(context.Background(), b.Path(), []byte(c.file), dbops.SeedOptions{Backend: quiet})
			var ee *dbops.SeedEntryError
			var fe *dbops.SeedFileError
			if err == nil || !(errors.As(err, &ee) || errors.As(err, &fe)) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			for _, tbl := range []string{"ff_exec_core", "ff_budget_policy", "ff_quota_policy", "ff_lane_registry"} {
				if n := count(t, b, tbl); n != 0 {
					t.Fatalf("%s has %d rows after a refused seed", tbl, n)
				}
			}
		})
	}
}

func TestSeedIsIdempotent(t *testing.T) {
	t.Parallel()
	b := testdb.Open(t)
	file := `{"executions":[` + execEntry("11111111-2222-4333-8444-555555555555", "default") + `,` +
		execEntry("21111111-2222-4333-8444-555555555555", "other") + `],"budgets":[` + budgetEntry + `],"quotas":[` + quotaEntry + `]}`
	for run, want := range []dbops.SeedCount{{Created: 2}, {Existing: 2}} {
		res, err := dbops.Seed(context.Background(), b.Path(), []byte(file), dbops.SeedOptions{Backend: quiet})
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Arrays["executions"]; got != want {
			t.Fatalf("run %d: executions %+v, want %+v", run, got, want)
		}
	}
	if count(t, b, "ff_exec_core") != 2 || count(t, b, "ff_budget_policy") != 1 || count(t, b, "ff_quota_policy") != 1 {
		t.Fatal("wrong row counts after two seeds")
	}
}

func TestSeedNeedsTheLatestSchema(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/empty.db"
	_, err := dbops.Seed(context.Background(), path, []byte(`{}`), dbops.SeedOptions{Backend: quiet})
	if !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("seed of a missing file: %v", err)
	}
}
