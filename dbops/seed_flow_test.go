package dbops_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ffsqlite/ffsqlite/dbops"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// A seeded flow: the flow, its members and its edges (staged and
// applied), idempotent on ids; a bad edge applies nothing.
func TestSeedFlows(t *testing.T) {
	t.Parallel()
	b := testdb.Open(t)
	const (
		flow = "f0000000-0000-4000-8000-000000000001"
		a    = "11111111-2222-4333-8444-555555555555"
		c    = "21111111-2222-4333-8444-555555555555"
	)
	edge := `{"flow_id":"` + flow + `","edge_id":"e0000000-0000-4000-8000-000000000001","upstream_execution_id":"{fp:1}:` + a +
		`","downstream_execution_id":"{fp:1}:` + c + `","expected_graph_revision":2,"data_passing_ref":"out","now":0}`
	file := `{"executions":[` + execEntry(a, "default") + `,` + execEntry(c, "default") + `],
 "flows":[{"flow_id":"` + flow + `","flow_kind":"dag","namespace":"ns","now":0}],
 "members":[{"flow_id":"` + flow + `","execution_id":"{fp:1}:` + a + `","now":0},{"flow_id":"` + flow + `","execution_id":"{fp:1}:` + c + `","now":0}],
 "edges":[` + edge + `]}`
	for run, want := range []dbops.SeedCount{{Created: 1}, {Existing: 1}} {
		res, err := dbops.Seed(context.Background(), b.Path(), []byte(file), dbops.SeedOptions{Backend: quiet})
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if res.Arrays["flows"] != want || res.Arrays["edges"] != want || res.Arrays["members"].Created+res.Arrays["members"].Existing != 2 {
			t.Fatalf("run %d: %+v", run, res.Arrays)
		}
	}
	var state, edgeState string
	var rev int
	if err := b.ReaderDB().QueryRowContext(context.Background(), `SELECT (SELECT public_state FROM ff_exec_core WHERE execution_id = unhex(replace(?, '-', ''))),
  (SELECT json_extract(policy, '$.edge_state') FROM ff_edge), (SELECT graph_revision FROM ff_flow_core)`, c).Scan(&state, &edgeState, &rev); err != nil {
		t.Fatal(err)
	}
	if state != "waiting_children" || edgeState != "unsatisfied" || rev != 3 {
		t.Fatalf("child %s, edge %s, revision %d", state, edgeState, rev)
	}
	// A stale revision on a new edge is the route's refusal: nothing applies.
	b2 := testdb.Open(t)
	bad := strings.Replace(file, `"expected_graph_revision":2`, `"expected_graph_revision":7`, 1)
	if _, err := dbops.Seed(context.Background(), b2.Path(), []byte(bad), dbops.SeedOptions{Backend: quiet}); err == nil ||
		!strings.Contains(err.Error(), "edges[0]: stage_dependency_edge: StaleGraphRevision") {
		t.Fatalf("stale seed: %v", err)
	}
	for _, tbl := range []string{"ff_exec_core", "ff_flow_core", "ff_edge"} {
		if n := count(t, b2, tbl); n != 0 {
			t.Fatalf("%s has %d rows after a refused seed", tbl, n)
		}
	}
}
