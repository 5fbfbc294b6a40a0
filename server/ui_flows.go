package server

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/ffsqlite/ffsqlite/inspect"
)

// The dashboard's flows: the list, and one flow as a picture of its DAG.
// Both read through the inspect package (the rows `ffsqlite inspect
// flows` and `inspect flow ID` print); the layout (a column per layer of
// the DAG, rows ordered to keep edges short) is computed here, the page
// only draws it.

// uiFlowsLimit caps the flows the dashboard lists.
const uiFlowsLimit = 50

// GET /ui/api/flows: the newest flows.
func (s *Server) uiFlows(w http.ResponseWriter, r *http.Request) {
	list, err := inspect.Flows(r.Context(), s.b.ReaderDB(), uiFlowsLimit)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		NowMS int64             `json:"now_ms"`
		Flows []inspect.FlowRow `json:"flows"`
	}{s.b.Now(), list.Flows})
}

// uiFlowNode is one member placed in the picture: column Layer (its
// longest path from a root), row Order within the column.
type uiFlowNode struct {
	ID          string `json:"id"`
	PublicState string `json:"public_state"`
	Lane        string `json:"lane"`
	Layer       int    `json:"layer"`
	Order       int    `json:"order"`
	// Group summarises the member's edge group ("all_of 1/2 satisfied").
	Group string `json:"group,omitempty"`
}

// uiFlowEdge is one edge of the picture.
type uiFlowEdge struct {
	ID    string `json:"id"`
	From  string `json:"from"`
	To    string `json:"to"`
	State string `json:"state"`
	Data  string `json:"data,omitempty"`
}

// uiFlowResponse is GET /ui/api/flow.
type uiFlowResponse struct {
	NowMS  int64               `json:"now_ms"`
	Flow   *inspect.FlowDetail `json:"flow"`
	Layers int                 `json:"layers"`
	Nodes  []uiFlowNode        `json:"nodes"`
	Edges  []uiFlowEdge        `json:"edges"`
}

// GET /ui/api/flow?id=UUID: one flow, laid out.
func (s *Server) uiFlow(w http.ResponseWriter, r *http.Request) {
	d, err := inspect.Flow(r.Context(), s.b.ReaderDB(), r.URL.Query().Get("id"))
	if err != nil {
		var nf *inspect.NotFoundError
		switch {
		case errors.As(err, &nf):
			writeError(w, http.StatusNotFound, "not found: flow")
		case strings.HasPrefix(err.Error(), "invalid flow id"):
			writeError(w, http.StatusBadRequest, err.Error())
		default:
			writeEngineError(w, err)
		}
		return
	}
	writeJSON(w, http.StatusOK, layoutFlow(s.b.Now(), d))
}

// layoutFlow places the members: each in the column after its deepest
// upstream (members on a cycle, which only a damaged graph has, go in a
// last column), each column ordered by the mean row of the members'
// upstreams, then by member order.
func layoutFlow(now int64, d *inspect.FlowDetail) uiFlowResponse {
	out := uiFlowResponse{NowMS: now, Flow: d, Nodes: []uiFlowNode{}, Edges: []uiFlowEdge{}}
	index := map[string]int{}
	for i, m := range d.Members {
		index[m.ID] = i
	}
	n := len(d.Members)
	ups := make([][]int, n)
	downs := make([][]int, n)
	for _, e := range d.Edges {
		out.Edges = append(out.Edges, uiFlowEdge{ID: e.EdgeID, From: e.Upstream, To: e.Downstream, State: deref(e.EdgeState), Data: deref(e.DataPassingRef)})
		u, okU := index[e.Upstream]
		v, okV := index[e.Downstream]
		if okU && okV {
			ups[v] = append(ups[v], u)
			downs[u] = append(downs[u], v)
		}
	}
	// Longest path from the roots (Kahn's order).
	layer := make([]int, n)
	indeg := make([]int, n)
	for v := range ups {
		indeg[v] = len(ups[v])
	}
	var queue []int
	for v := range n {
		if indeg[v] == 0 {
			queue = append(queue, v)
		}
	}
	placed := make([]bool, n)
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		placed[u] = true
		for _, v := range downs[u] {
			layer[v] = max(layer[v], layer[u]+1)
			if indeg[v]--; indeg[v] == 0 {
				queue = append(queue, v)
			}
		}
	}
	last := 0
	for v := range n {
		if placed[v] {
			last = max(last, layer[v])
		}
	}
	for v := range n {
		if !placed[v] {
			layer[v] = last + 1
		}
	}
	// Rows: column by column, by the mean row of the upstreams.
	order := make([]int, n)
	cols := map[int][]int{}
	for v := range n {
		cols[layer[v]] = append(cols[layer[v]], v)
	}
	groups := map[string]string{}
	for _, g := range d.EdgeGroups {
		groups[g.Downstream] = g.Summary()
	}
	for l := 0; l <= last+1; l++ {
		col := cols[l]
		key := func(v int) float64 {
			if len(ups[v]) == 0 || l == 0 {
				return float64(v)
			}
			sum := 0.0
			for _, u := range ups[v] {
				sum += float64(order[u])
			}
			return sum / float64(len(ups[v]))
		}
		slices.SortStableFunc(col, func(a, b int) int {
			if c := cmp.Compare(key(a), key(b)); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		for i, v := range col {
			order[v] = i
		}
		if len(col) > 0 {
			out.Layers = l + 1
		}
	}
	for v, m := range d.Members {
		out.Nodes = append(out.Nodes, uiFlowNode{ID: m.ID, PublicState: m.PublicState, Lane: m.Lane, Layer: layer[v], Order: order[v], Group: groups[m.ID]})
	}
	return out
}
