package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/server"
)

// flowPath is /v1/flows/{id}[suffix].
func flowPath(id uuid.UUID, suffix string) string { return "/v1/flows/" + id.String() + suffix }

// newFlow creates a flow over HTTP.
func (a *api) newFlow() uuid.UUID {
	a.t.Helper()
	id := uuid.New()
	a.do("POST", "/v1/flows", map[string]any{"flow_id": id, "flow_kind": "dag", "namespace": "ns", "now": epoch}).
		wantJSON(a.t, http.StatusCreated, `{"Created":{"flow_id":"`+id.String()+`"}}`)
	return id
}

// member creates an execution on lane and adds it to flow over HTTP.
func (a *api) member(flow uuid.UUID, lane string) backend.ExecutionID {
	a.t.Helper()
	id := a.create(0, map[string]any{"lane_id": lane})
	r := a.do("POST", flowPath(flow, "/members"), map[string]any{"flow_id": flow, "execution_id": id.String(), "now": epoch})
	if r.status != http.StatusCreated {
		a.t.Fatalf("add member: %d %s", r.status, r.body)
	}
	return id
}

// edge stages and applies up → down at revision rev over HTTP and
// returns the next revision.
func (a *api) edge(flow uuid.UUID, up, down backend.ExecutionID, rev uint64, extra string) uint64 {
	a.t.Helper()
	e := uuid.New()
	body := fmt.Sprintf(`{"flow_id":%q,"edge_id":%q,"upstream_execution_id":%q,"downstream_execution_id":%q,"expected_graph_revision":%d,"now":0%s}`,
		flow, e, up, down, rev, extra)
	a.do("POST", flowPath(flow, "/edges"), body).wantJSON(a.t, http.StatusCreated,
		fmt.Sprintf(`{"Staged":{"edge_id":%q,"new_graph_revision":%d}}`, e, rev+1))
	r := a.do("POST", flowPath(flow, "/edges/apply"), fmt.Sprintf(`{"flow_id":%q,"edge_id":%q,"upstream_execution_id":%q,"downstream_execution_id":%q,"graph_revision":%d,"now":0}`,
		flow, e, up, down, rev+1))
	if r.status != http.StatusOK || !strings.HasPrefix(r.body, `{"Applied":{"unsatisfied_count":`) {
		a.t.Fatalf("apply: %d %s", r.status, r.body)
	}
	return rev + 1
}

// state reads an execution's public state over HTTP.
func (a *api) state(id backend.ExecutionID) string {
	a.t.Helper()
	var s string
	a.do("GET", ep(id)+"/state", nil).decode(a.t, &s)
	return s
}

// run claims lane's next execution and completes it (ok) or fails it
// permanently.
func (a *api) run(lane string, ok bool) *wireLease {
	a.t.Helper()
	l := a.claim(map[string]any{"lane_id": lane})
	if l == nil {
		a.t.Fatalf("nothing to claim on %s", lane)
	}
	if ok {
		a.complete(l, nil).wantJSON(a.t, http.StatusOK, `"Completed"`)
	} else {
		a.do("POST", "/v1/worker/fail", map[string]any{"handle": l.Handle, "class": "permanent", "reason": "boom"}).
			wantJSON(a.t, http.StatusOK, `"TerminalFailed"`)
	}
	return l
}

// http_postgres_smoke.rs: a flow, 3 × (create + add member), 2 edges from
// graph_revision 3 threading new_graph_revision, each applied; the
// database then holds 1 flow, 3 executions and 2 edges. Byte for byte.
func TestFlowRoutesSmoke(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{})
	flow := a.newFlow()
	a.do("POST", "/v1/flows", map[string]any{"flow_id": flow, "flow_kind": "dag", "namespace": "ns", "now": 1}).
		wantJSON(t, http.StatusOK, `{"AlreadySatisfied":{"flow_id":"`+flow.String()+`"}}`)
	var ids []backend.ExecutionID
	for i := 1; i <= 3; i++ {
		id := a.create(0, nil)
		a.do("POST", flowPath(flow, "/members"), map[string]any{"flow_id": flow, "execution_id": id.String(), "now": epoch}).
			wantJSON(t, http.StatusCreated, fmt.Sprintf(`{"Added":{"execution_id":%q,"new_node_count":%d}}`, id, i))
		ids = append(ids, id)
	}
	a.do("POST", flowPath(flow, "/members"), map[string]any{"flow_id": flow, "execution_id": ids[0].String(), "now": epoch}).
		wantJSON(t, http.StatusOK, fmt.Sprintf(`{"AlreadyMember":{"execution_id":%q,"node_count":3}}`, ids[0]))
	rev := uint64(sqlCount(t, a.b, `SELECT graph_revision FROM ff_flow_core`))
	if rev != 3 {
		t.Fatalf("graph_revision %d after 3 members", rev)
	}
	rev = a.edge(flow, ids[0], ids[1], rev, "")
	a.edge(flow, ids[1], ids[2], rev, `,"dependency_kind":"success_only","data_passing_ref":"r"`)
	if f, e, x := sqlCount(t, a.b, `SELECT count(*) FROM ff_flow_core`), sqlCount(t, a.b, `SELECT count(*) FROM ff_edge`),
		sqlCount(t, a.b, `SELECT count(*) FROM ff_exec_core`); f != 1 || e != 2 || x != 3 {
		t.Fatalf("%d flows, %d edges, %d executions", f, e, x)
	}
	// Re-applying answers the bare string.
	var edges struct {
		FlowID string `json:"flow_id"`
		Edges  []struct {
			EdgeID    string `json:"edge_id"`
			EdgeState string `json:"edge_state"`
		} `json:"edges"`
	}
	a.do("GET", flowPath(flow, "/edges"), nil).decode(t, &edges)
	if edges.FlowID != flow.String() || len(edges.Edges) != 2 || edges.Edges[0].EdgeState != "unsatisfied" {
		t.Fatalf("edges %+v", edges)
	}
	a.do("POST", flowPath(flow, "/edges/apply"), fmt.Sprintf(`{"flow_id":%q,"edge_id":%q,"upstream_execution_id":%q,"downstream_execution_id":%q,"graph_revision":5,"now":0}`,
		flow, edges.Edges[0].EdgeID, ids[0], ids[1])).wantJSON(t, http.StatusOK, `"AlreadyApplied"`)
	var list struct {
		Flows []backend.FlowSummary `json:"flows"`
	}
	a.do("GET", "/v1/flows?limit=5", nil).decode(t, &list)
	if len(list.Flows) != 1 || list.Flows[0].FlowID != flow || list.Flows[0].NodeCount != 3 || list.Flows[0].EdgeCount != 2 {
		t.Fatalf("list %+v", list)
	}
	if r := a.do("GET", "/v1/flows?limit=x", nil); r.status != http.StatusBadRequest {
		t.Fatalf("bad limit: %d %s", r.status, r.body)
	}
	var info backend.FlowInfo
	a.do("GET", flowPath(flow, ""), nil).decode(t, &info)
	if info.GraphRevision != 5 || info.NodeCount != 3 || info.EdgeCount != 2 || info.PublicFlowState != "open" || len(info.Members) != 3 ||
		info.Members[1].PublicState != backend.StateWaitingChildren || info.Members[1].BlockingDetail == "" {
		t.Fatalf("flow %+v", info)
	}
}

// Each refusal of routes 17–21 with ff-server's status, envelope and
// text, byte for byte; malformed input is a 4xx, never a 5xx.
func TestFlowRoutesErrors(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{})
	flow, other, done := a.newFlow(), a.newFlow(), a.newFlow()
	m1, m2 := a.member(flow, "default"), a.member(flow, "default")
	theirs := a.member(other, "default")
	stranger := a.create(0, nil)
	a.do("POST", flowPath(done, "/cancel"), map[string]any{"flow_id": done, "reason": "r", "cancellation_policy": "cancel_flow_only", "now": 0}).
		wantJSON(t, http.StatusOK, `{"Cancelled":{"cancellation_policy":"cancel_flow_only","member_execution_ids":[]}}`)
	unknown := uuid.New()
	stage := func(f uuid.UUID, up, down backend.ExecutionID, rev any) string {
		return fmt.Sprintf(`{"flow_id":%q,"edge_id":%q,"upstream_execution_id":%q,"downstream_execution_id":%q,"expected_graph_revision":%v,"now":0}`,
			f, uuid.New(), up, down, rev)
	}
	member := func(f uuid.UUID, id string) string {
		return fmt.Sprintf(`{"flow_id":%q,"execution_id":%q,"now":0}`, f, id)
	}
	rev := 2
	const (
		notFlow = `{"error":"not found: flow"}`
		bad422  = `{"error":"invalid JSON: Unprocessable Entity"}`
	)
	for _, c := range []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"create without now", "/v1/flows", `{"flow_id":"` + unknown.String() + `","flow_kind":"dag","namespace":"ns"}`, 422, bad422},
		{"create with a bad flow_id", "/v1/flows", `{"flow_id":"nope","flow_kind":"dag","namespace":"ns","now":0}`, 422, bad422},
		{"member of an unknown flow", flowPath(unknown, "/members"), member(unknown, stranger.String()), 404, notFlow},
		{"member of a cancelled flow", flowPath(done, "/members"), member(done, stranger.String()), 409,
			`{"error":"flow_already_terminal: FlowAlreadyTerminal","kind":"flow_already_terminal","retryable":false}`},
		{"unknown execution", flowPath(flow, "/members"), member(flow, backend.NewExecutionID(0).String()), 404, `{"error":"not found: execution"}`},
		{"member of another flow", flowPath(flow, "/members"), member(flow, theirs.String()), 400,
			`{"error":"invalid_input: already_member_of_different_flow:` + other.String() + `"}`},
		{"path and body differ", flowPath(other, "/members"), member(flow, stranger.String()), 400, `{"error":"path flow_id does not match body flow_id"}`},
		{"bad path id", "/v1/flows/xyz/members", member(flow, stranger.String()), 400, `{"error":"invalid flow_id: invalid UUID length: 3"}`},
		{"malformed execution id", flowPath(flow, "/members"), member(flow, "{fp:x}:nope"), 422, bad422},
		{"self edge", flowPath(flow, "/edges"), stage(flow, m1, m1, rev), 409,
			`{"error":"self_referencing_edge: SelfReferencingEdge","kind":"self_referencing_edge","retryable":false}`},
		{"edge of an unknown flow", flowPath(unknown, "/edges"), stage(unknown, m1, m2, rev), 404, notFlow},
		{"edge of a cancelled flow", flowPath(done, "/edges"), stage(done, m1, m2, 0), 409,
			`{"error":"flow_already_terminal: FlowAlreadyTerminal","kind":"flow_already_terminal","retryable":false}`},
		{"stale revision", flowPath(flow, "/edges"), stage(flow, m1, m2, rev+7), 409,
			`{"error":"contention: StaleGraphRevision","kind":"contention","retryable":true}`},
		{"revision as a string", flowPath(flow, "/edges"), stage(flow, m1, m2, `"2"`), 422, bad422},
		{"negative revision", flowPath(flow, "/edges"), stage(flow, m1, m2, -1), 422, bad422},
		{"not a member", flowPath(flow, "/edges"), stage(flow, m1, stranger, rev), 409,
			`{"error":"state_conflict: ExecutionNotInFlow","kind":"state_conflict","retryable":false}`},
		{"malformed edge id", flowPath(flow, "/edges"), strings.Replace(stage(flow, m1, m2, rev), `"edge_id":"`, `"edge_id":"x`, 1), 422, bad422},
		{"apply an unknown edge", flowPath(flow, "/edges/apply"), fmt.Sprintf(`{"flow_id":%q,"edge_id":%q,"upstream_execution_id":%q,"downstream_execution_id":%q,"graph_revision":0,"now":0}`,
			flow, uuid.New(), m1, m2), 400, `{"error":"invalid_input: edge_not_found"}`},
		{"apply to a member of another flow", flowPath(flow, "/edges/apply"), fmt.Sprintf(`{"flow_id":%q,"edge_id":%q,"upstream_execution_id":%q,"downstream_execution_id":%q,"graph_revision":0,"now":0}`,
			flow, uuid.New(), m1, theirs), 409, `{"error":"execution_already_in_flow: ExecutionAlreadyInFlow","kind":"execution_already_in_flow","retryable":false}`},
		{"apply to an unknown child", flowPath(flow, "/edges/apply"), fmt.Sprintf(`{"flow_id":%q,"edge_id":%q,"upstream_execution_id":%q,"downstream_execution_id":%q,"graph_revision":0,"now":0}`,
			flow, uuid.New(), m1, backend.NewExecutionID(0)), 404, `{"error":"not found: execution"}`},
		{"apply without graph_revision", flowPath(flow, "/edges/apply"), fmt.Sprintf(`{"flow_id":%q,"edge_id":%q,"upstream_execution_id":%q,"downstream_execution_id":%q,"now":0}`,
			flow, uuid.New(), m1, m2), 422, bad422},
		{"cancel an unknown flow", flowPath(unknown, "/cancel"), fmt.Sprintf(`{"flow_id":%q,"reason":"r","cancellation_policy":"cancel_all","now":0}`, unknown), 404, notFlow},
		{"cancel without a policy", flowPath(flow, "/cancel"), fmt.Sprintf(`{"flow_id":%q,"reason":"r","now":0}`, flow), 422, bad422},
	} {
		t.Run(c.name, func(t *testing.T) {
			a.do("POST", c.path, c.body).wantJSON(t, c.status, c.want)
		})
	}
	a.do("GET", flowPath(unknown, ""), nil).wantJSON(t, http.StatusNotFound, notFlow)
	a.do("GET", flowPath(unknown, "/edges"), nil).wantJSON(t, http.StatusNotFound, notFlow)
	a.do("GET", "/v1/flows/nope", nil).wantJSON(t, http.StatusBadRequest, `{"error":"invalid flow_id: invalid UUID length: 4"}`)
	// Nothing the refusals touched changed: the revision is still 2.
	if got := sqlCount(t, a.b, `SELECT graph_revision FROM ff_flow_core WHERE flow_id = ?`, flow[:]); got != 2 {
		t.Fatalf("graph_revision %d after refusals", got)
	}
	// A cycle, once an edge exists; a duplicate edge id.
	e := uuid.New()
	a.do("POST", flowPath(flow, "/edges"), fmt.Sprintf(`{"flow_id":%q,"edge_id":%q,"upstream_execution_id":%q,"downstream_execution_id":%q,"expected_graph_revision":2,"now":0}`,
		flow, e, m1, m2)).wantJSON(t, http.StatusCreated, fmt.Sprintf(`{"Staged":{"edge_id":%q,"new_graph_revision":3}}`, e))
	a.do("POST", flowPath(flow, "/edges"), stage(flow, m2, m1, 3)).wantJSON(t, http.StatusConflict,
		`{"error":"cycle_detected: CycleDetected","kind":"cycle_detected","retryable":false}`)
	a.do("POST", flowPath(flow, "/edges"), fmt.Sprintf(`{"flow_id":%q,"edge_id":%q,"upstream_execution_id":%q,"downstream_execution_id":%q,"expected_graph_revision":3,"now":0}`,
		flow, e, m1, m2)).wantJSON(t, http.StatusConflict,
		`{"error":"dependency_already_exists: DependencyAlreadyExists { edge_id: `+e.String()+` }","kind":"dependency_already_exists","retryable":false}`)

	// Garbage of every shape at every flow route: always a 4xx.
	for _, path := range []string{"/v1/flows", flowPath(flow, "/members"), flowPath(flow, "/cancel"), flowPath(flow, "/edges"),
		flowPath(flow, "/edges/apply"), "/v1/worker/wait-children"} {
		for _, body := range []string{``, `{`, `[]`, `null`, `{}`, `{"flow_id":1}`, `{"flow_id":"` + flow.String() + `"}`,
			`{"flow_id":"` + flow.String() + `","execution_id":"x","edge_id":"y","expected_graph_revision":"1","now":"0"}`,
			`{"handle":"not a handle"}`, `{"flow_id":"` + flow.String() + `","reason":1,"cancellation_policy":[],"now":0}`} {
			if r := a.do("POST", path, body); r.status < 400 || r.status >= 500 {
				t.Errorf("POST %s %s → %d %s", path, body, r.status, r.body)
			}
		}
	}
}

// fanout_fanin_flow_{happy,fanin_skip}.rs over HTTP with the worker
// routes: A → {B, C} → D on its own lanes.
func TestFlowRoutesDiamond(t *testing.T) {
	t.Parallel()
	for _, skip := range []bool{false, true} {
		t.Run(fmt.Sprint("skip=", skip), func(t *testing.T) {
			t.Parallel()
			a, _ := fileAPI(t, server.Config{})
			flow := a.newFlow()
			A, B, C, D := a.member(flow, "a"), a.member(flow, "b"), a.member(flow, "c"), a.member(flow, "d")
			rev := uint64(4)
			for _, e := range [][2]backend.ExecutionID{{A, B}, {A, C}, {B, D}, {C, D}} {
				rev = a.edge(flow, e[0], e[1], rev, "")
			}
			a.run("a", true)
			if got := a.state(B) + "," + a.state(C) + "," + a.state(D); got != "waiting,waiting,waiting_children" {
				t.Fatalf("after A: %s", got)
			}
			a.run("b", !skip)
			a.run("c", true)
			if skip {
				if got := a.state(D); got != "skipped" {
					t.Fatalf("D after B failed: %s", got)
				}
				if a.claim(map[string]any{"lane_id": "d"}) != nil {
					t.Fatal("a skipped D was claimable")
				}
				return
			}
			if got := a.state(D); got != "waiting" {
				t.Fatalf("D after B and C: %s", got)
			}
			a.run("d", true)
		})
	}
}

// cancel_flow_partial.rs over HTTP: ?wait=true with one member that
// cannot be cancelled answers PartiallyCancelled naming it; a clean flow
// Cancelled; without wait, CancellationScheduled; cancel_all without
// members Cancelled (e2e_api.rs).
func TestFlowRoutesCancel(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{})
	cancel := func(flow uuid.UUID, query, policy string) reply {
		return a.do("POST", flowPath(flow, "/cancel")+query, map[string]any{"flow_id": flow, "reason": "readiness-cancel",
			"cancellation_policy": policy, "now": epoch})
	}
	empty := a.newFlow()
	cancel(empty, "", "cancel_all").wantJSON(t, http.StatusOK, `{"Cancelled":{"cancellation_policy":"cancel_all","member_execution_ids":[]}}`)

	flow := a.newFlow()
	m1, broken := a.member(flow, "default"), a.member(flow, "default")
	err := a.b.WriteTx(context.Background(), "test", func(ctx context.Context, tx *backend.Txn) error {
		_, err := tx.ExecContext(ctx, `UPDATE ff_exec_core SET raw_fields = 'not json' WHERE execution_id = ?`, broken.UUID[:])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cancel(flow, "?wait=true", "cancel_all").wantJSON(t, http.StatusOK, fmt.Sprintf(
		`{"PartiallyCancelled":{"cancellation_policy":"cancel_all","member_execution_ids":[%q,%q],"failed_member_execution_ids":[%q]}}`,
		m1, broken, broken))
	// Again: the stored policy, every member, nothing dispatched.
	cancel(flow, "?wait=true", "cancel_flow_only").wantJSON(t, http.StatusOK, fmt.Sprintf(
		`{"Cancelled":{"cancellation_policy":"cancel_all","member_execution_ids":[%q,%q]}}`, m1, broken))

	control := a.newFlow()
	c1, c2 := a.member(control, "default"), a.member(control, "default")
	cancel(control, "?wait=1", "cancel_all").wantJSON(t, http.StatusOK, fmt.Sprintf(
		`{"Cancelled":{"cancellation_policy":"cancel_all","member_execution_ids":[%q,%q]}}`, c1, c2))
	if a.state(c1) != "cancelled" || a.state(c2) != "cancelled" {
		t.Fatal("control members not cancelled")
	}

	async := a.newFlow()
	x := a.member(async, "default")
	cancel(async, "?wait=no", "cancel_all").wantJSON(t, http.StatusOK, fmt.Sprintf(
		`{"CancellationScheduled":{"cancellation_policy":"cancel_all","member_count":1,"member_execution_ids":[%q]}}`, x))
}

// The worker's wait for children over HTTP: Waiting, the lease released,
// the same attempt resumed once the child completes.
func TestFlowRoutesWaitChildren(t *testing.T) {
	t.Parallel()
	a, _ := fileAPI(t, server.Config{})
	flow := a.newFlow()
	parent := a.member(flow, "p")
	l := a.claim(map[string]any{"lane_id": "p"})
	child := a.member(flow, "c")
	a.edge(flow, child, parent, 2, "")
	a.do("POST", "/v1/worker/wait-children", map[string]any{"handle": l.Handle}).wantJSON(t, http.StatusOK, `{"Waiting":{"unsatisfied_count":1}}`)
	if a.state(parent) != "waiting_children" {
		t.Fatal("parent not waiting")
	}
	if r := a.complete(l, nil); r.status != http.StatusConflict {
		t.Fatalf("complete with the paused handle: %d %s", r.status, r.body)
	}
	a.run("c", true)
	r := a.do("POST", "/v1/worker/claim", claimArgs(map[string]any{"lane_id": "p"}))
	var resumed wireLease
	r.decode(t, &resumed)
	if r.status != http.StatusOK || !strings.Contains(r.body, `"resumed":true`) || resumed.AttemptIndex != l.AttemptIndex || resumed.LeaseEpoch != l.LeaseEpoch+1 {
		t.Fatalf("resumed claim %d %s (first %+v)", r.status, r.body, l)
	}
	a.complete(&resumed, nil).wantJSON(t, http.StatusOK, `"Completed"`)
}
