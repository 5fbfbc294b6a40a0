package inspect

// TreeLines draws the flow's graph as a tree with box-drawing characters:
// each root (a member no edge points to) at the left, its downstream
// members below it. label renders a node; edge is nil for roots. A member
// reachable along several paths is drawn in full the first time and as
// "… (see above)" afterwards, so the output stays linear in the graph's
// size. Members not reachable from any root (only possible in a corrupt
// graph) are drawn as extra roots.
func (d *FlowDetail) TreeLines(label func(id string, edge *FlowEdge) string) []string {
	children := map[string][]*FlowEdge{}
	for i := range d.Edges {
		e := &d.Edges[i]
		children[e.Upstream] = append(children[e.Upstream], e)
	}
	var lines []string
	drawn := map[string]bool{}
	var walk func(id string, edge *FlowEdge, prefix, branch string)
	walk = func(id string, edge *FlowEdge, prefix, branch string) {
		text := label(id, edge)
		if drawn[id] {
			lines = append(lines, prefix+branch+text+" (see above)")
			return
		}
		drawn[id] = true
		lines = append(lines, prefix+branch+text)
		next := prefix
		switch branch {
		case "├── ":
			next += "│   "
		case "└── ":
			next += "    "
		}
		kids := children[id]
		for i, e := range kids {
			b := "├── "
			if i == len(kids)-1 {
				b = "└── "
			}
			walk(e.Downstream, e, next, b)
		}
	}
	for _, r := range d.Roots {
		walk(r, nil, "", "")
	}
	for _, m := range d.Members {
		if !drawn[m.ID] {
			walk(m.ID, nil, "", "")
		}
	}
	return lines
}
