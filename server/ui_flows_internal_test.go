package server

import (
	"testing"

	"github.com/ffsqlite/ffsqlite/inspect"
)

// The picture's layout: a column per layer (longest path from a root),
// rows ordered by the upstreams' rows; a cycle (only a damaged graph has
// one) lands in a last column instead of looping.
func TestLayoutFlow(t *testing.T) {
	t.Parallel()
	st := "unsatisfied"
	edge := func(u, v string) inspect.FlowEdge {
		return inspect.FlowEdge{EdgeID: u + v, Upstream: u, Downstream: v, EdgeState: &st}
	}
	d := &inspect.FlowDetail{
		Members: []inspect.FlowMember{{ID: "a"}, {ID: "b"}, {ID: "c"}, {ID: "d"}, {ID: "e"}, {ID: "x"}, {ID: "y"}},
		Edges:   []inspect.FlowEdge{edge("a", "c"), edge("b", "d"), edge("a", "d"), edge("d", "e"), edge("c", "e"), edge("x", "y"), edge("y", "x")},
	}
	out := layoutFlow(0, d)
	at := map[string][2]int{}
	for _, n := range out.Nodes {
		at[n.ID] = [2]int{n.Layer, n.Order}
	}
	want := map[string][2]int{"a": {0, 0}, "b": {0, 1}, "c": {1, 0}, "d": {1, 1}, "e": {2, 0}, "x": {3, 0}, "y": {3, 1}}
	for id, w := range want {
		if at[id] != w {
			t.Errorf("%s at %v, want %v (all %v)", id, at[id], w, at)
		}
	}
	if out.Layers != 4 || len(out.Edges) != 7 || out.Edges[0].State != "unsatisfied" {
		t.Fatalf("layers %d, edges %+v", out.Layers, out.Edges)
	}
}
