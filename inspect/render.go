package inspect

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ffsqlite/ffsqlite/render"
	"github.com/ffsqlite/ffsqlite/schemafacts"
)

// Printer prints inspect's reports: with JSON set, the stable JSON of
// docs/inspect-json.md; otherwise text for people (aligned key/value
// blocks and tables, states coloured when Painter is enabled, times in
// Zone with their age relative to NowMS). A report and its rendering live
// in this one package; `ffsqlite inspect` only wires flags to them.
type Printer struct {
	W       io.Writer
	JSON    bool
	Painter render.Painter
	// NowMS is the instant ages are computed against (Unix ms).
	NowMS int64
	// Zone is where times are shown; nil is time.Local.
	Zone *time.Location
}

// printReport renders r as JSON or with text.
func printReport[T any](p Printer, r T, text func(T) error) error {
	if p.JSON {
		return render.JSON(p.W, r)
	}
	return text(r)
}

// Overview prints the overview (`inspect`).
func (p Printer) Overview(r *OverviewReport) error { return printReport(p, r, p.overviewText) }

// Executions prints an execution list (`inspect executions`).
func (p Printer) Executions(l *ExecutionList) error { return printReport(p, l, p.executionsText) }

// Execution prints one execution (`inspect execution ID`).
func (p Printer) Execution(d *ExecutionDetail) error { return printReport(p, d, p.executionText) }

// Flows prints a flow list (`inspect flows`).
func (p Printer) Flows(l *FlowList) error { return printReport(p, l, p.flowsText) }

// Flow prints one flow and its graph (`inspect flow ID`).
func (p Printer) Flow(d *FlowDetail) error { return printReport(p, d, p.flowText) }

// Budgets prints the budget list (`inspect budgets`).
func (p Printer) Budgets(l *BudgetList) error { return printReport(p, l, p.budgetsText) }

// Budget prints one budget (`inspect budget ID`).
func (p Printer) Budget(d *BudgetDetail) error { return printReport(p, d, p.budgetText) }

// Quotas prints the quota policies (`inspect quotas`).
func (p Printer) Quotas(l *QuotaList) error { return printReport(p, l, p.quotasText) }

// Workers prints the worker registry (`inspect workers`).
func (p Printer) Workers(l *WorkerList) error { return printReport(p, l, p.workersText) }

// Events prints a page of outbox events and its cursor (`inspect events`).
func (p Printer) Events(page *EventPage) error { return printReport(p, page, p.eventsText) }

// EventLine prints one followed event (`inspect events --follow`): a
// compact JSON line, or one text line.
func (p Printer) EventLine(e Event) error {
	if p.JSON {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.W, "%s\n", b)
		return err
	}
	_, err := fmt.Fprintf(p.W, "%s  %-10s #%-6d %-22s %s\n", p.ts(e.AtMS), e.Outbox, e.EventID, p.Painter.State(e.Type), e.ExecutionID)
	return err
}

// Schema prints the file's schema facts (`inspect schema`); the JSON is
// the facts' own (schemafacts.Facts.JSON).
func (p Printer) Schema(f *schemafacts.Facts) error {
	if p.JSON {
		out, err := f.JSON()
		if err != nil {
			return err
		}
		_, err = p.W.Write(out)
		return err
	}
	return p.schemaText(f)
}

// Drift prints a drift report (`inspect drift`) for the database at path:
// the differences, or one line saying there are none.
func (p Printer) Drift(d *DriftReport, path string) error {
	switch {
	case p.JSON:
		return render.JSON(p.W, d)
	case d.Drift:
		p.printf("%s", d.Report)
	default:
		p.printf("no drift: %s matches the embedded migrations (%d tables)\n", path, d.ActualTables)
	}
	return nil
}

// printf writes to W; a failed write shows up as a short or missing
// output, as for any CLI printing to a closed pipe.
func (p Printer) printf(format string, args ...any) { fmt.Fprintf(p.W, format, args...) }

func (p Printer) zone() *time.Location {
	if p.Zone == nil {
		return time.Local
	}
	return p.Zone
}

// ts shows a timestamp as local time plus age; 0 shows "-".
func (p Printer) ts(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.UnixMilli(ms).In(p.zone()).Format("2006-01-02 15:04:05") + " (" + render.Age(ms, p.NowMS) + ")"
}

// tsp is ts for an optional time; nil shows "-".
func (p Printer) tsp(ms *int64) string {
	if ms == nil {
		return "-"
	}
	return p.ts(*ms)
}

func dash(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return *s
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// kv prints aligned "key  value" lines.
func (p Printer) kv(pairs ...string) {
	width := 0
	for i := 0; i < len(pairs); i += 2 {
		width = max(width, len(pairs[i]))
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		p.printf("%-*s  %s\n", width, pairs[i], pairs[i+1])
	}
}

func (p Printer) section(title string) { p.printf("\n%s\n", p.Painter.Bold(title)) }

func (p Printer) overviewText(r *OverviewReport) error {
	schema := fmt.Sprintf("version %d of %d (ledger %s)", r.Schema.Version, r.Schema.LatestVersion, r.Schema.Ledger)
	if n := len(r.Schema.Pending); n > 0 {
		var ps []string
		for _, p := range r.Schema.Pending {
			ps = append(ps, itoa(p))
		}
		schema += fmt.Sprintf(", %d pending: %s", n, strings.Join(ps, ", "))
	} else {
		schema += ", up to date"
	}
	pairs := []string{
		"file", r.File,
		"size", fmt.Sprintf("%d bytes (%s), WAL %d bytes", r.SizeBytes, render.Bytes(r.SizeBytes), r.WALSizeBytes),
		"sqlite", r.SQLiteVersion + ", journal mode " + r.JournalMode,
		"schema", schema,
	}
	if r.Schema.Note != "" {
		pairs = append(pairs, "", r.Schema.Note)
	}
	if len(r.MissingTables) > 0 {
		pairs = append(pairs, "missing", strings.Join(r.MissingTables, ", ")+" (counts read 0)")
	}
	pairs = append(pairs,
		"now", time.UnixMilli(r.NowMS).In(p.zone()).Format("2006-01-02 15:04:05"),
		"executions", fmt.Sprintf("%d (%d delayed and due)", r.Executions.Total, r.Executions.DelayedDue),
		"leases", fmt.Sprintf("%d active, %d expired", r.Leases.Active, r.Leases.Expired),
		"budgets", fmt.Sprintf("%d, %d due for reset, %d in breach", r.Budgets.Total, r.Budgets.ResetDue, r.Budgets.InBreach),
		"workers", fmt.Sprintf("%d, %d alive, %d expired", r.Workers.Total, r.Workers.Alive, r.Workers.Expired),
	)
	var heads []string
	for _, o := range r.Outboxes {
		id := "-"
		if o.NewestEventID != nil {
			id = "#" + itoa(*o.NewestEventID)
		}
		heads = append(heads, o.Outbox+" "+id)
	}
	pairs = append(pairs, "newest events", strings.Join(heads, ", "))
	p.kv(pairs...)

	p.section("executions by state")
	var rows [][]string
	for _, s := range PublicStates {
		rows = append(rows, []string{p.Painter.State(s), itoa(r.Executions.ByState[s])})
	}
	var extra []string
	for s := range r.Executions.ByState {
		if !ValidState(s) {
			extra = append(extra, s)
		}
	}
	slices.Sort(extra)
	for _, s := range extra {
		rows = append(rows, []string{s + " (unknown)", itoa(r.Executions.ByState[s])})
	}
	if err := render.Table(p.W, []string{"state", "executions"}, rows); err != nil {
		return err
	}
	p.section("executions by lane")
	if len(r.Executions.ByLane) == 0 {
		p.printf("no lanes\n")
		return nil
	}
	rows = nil
	for _, l := range r.Executions.ByLane {
		row := []string{l.Lane, itoa(l.Total)}
		for _, p := range LifecyclePhases {
			row = append(row, itoa(l.ByPhase[p]))
		}
		reg := "yes"
		if !l.Registered {
			reg = "no"
		}
		rows = append(rows, append(row, reg))
	}
	return render.Table(p.W, append(append([]string{"lane", "total"}, LifecyclePhases...), "registered"), rows)
}

func (p Printer) executionsText(l *ExecutionList) error {
	if len(l.Executions) == 0 {
		p.printf("no executions\n")
		return nil
	}
	var rows [][]string
	for _, e := range l.Executions {
		rows = append(rows, []string{e.ID, e.Lane, p.Painter.State(e.PublicState), itoa(e.AttemptIndex), itoa(e.Priority), p.ts(e.CreatedAtMS)})
	}
	if err := render.Table(p.W, []string{"id", "lane", "state", "attempt", "priority", "created"}, rows); err != nil {
		return err
	}
	if l.Truncated {
		p.printf("showing the newest %d; --limit N shows more (0 = all)\n", l.Limit)
	}
	return nil
}

func compact(raw json.RawMessage) string {
	if raw == nil {
		return "-"
	}
	return string(raw)
}

func (p Printer) executionText(d *ExecutionDetail) error {
	result := "-"
	if d.ResultSize != nil {
		result = fmt.Sprintf("%d bytes", *d.ResultSize)
	}
	caps := "-"
	if len(d.Capabilities) > 0 {
		caps = strings.Join(d.Capabilities, ", ")
	}
	p.kv(
		"execution", d.ID,
		"state", p.Painter.State(d.State.PublicState),
		"lane", d.Lane,
		"flow", dash(d.FlowID),
		"namespace", dash(d.Namespace),
		"kind", dash(d.ExecutionKind),
		"creator", dash(d.CreatorIdentity),
		"idempotency key", dash(d.IdempotencyKey),
		"priority", itoa(d.Priority),
		"attempt index", itoa(d.AttemptIndex),
		"counters", fmt.Sprintf("retries %d, replays %d, lease reclaims %d", d.RetryCount, d.ReplayCount, d.LeaseReclaimCount),
		"created", p.ts(d.CreatedAtMS),
		"started", p.tsp(d.StartedAtMS),
		"terminal", p.tsp(d.TerminalAtMS),
		"deadline", p.tsp(d.DeadlineAtMS),
		"delay until", p.tsp(d.DelayUntilMS),
		"cancelled", strings.TrimSuffix(dash(d.CancellationReason)+" by "+dash(d.CancelledBy), " by -"),
		"failure", strings.TrimSuffix(dash(d.FailureClass)+": "+dash(d.FailureReason), ": -"),
		"capabilities", caps,
		"tags", compact(d.Tags),
		"policy", compact(d.Policy),
		"payload", fmt.Sprintf("%d bytes", d.PayloadSize),
		"result", result,
	)
	if d.Progress != nil {
		p.kv("progress", fmt.Sprintf("%d%% %s (at %s)", d.Progress.Pct, d.Progress.Message, p.ts(d.Progress.UpdatedAtMS)))
	}
	p.section("state vector")
	p.kv(
		"lifecycle_phase", d.State.LifecyclePhase,
		"ownership_state", d.State.OwnershipState,
		"eligibility_state", d.State.EligibilityState,
		"blocking_reason", dash(d.State.BlockingReason),
		"blocking_detail", dash(d.State.BlockingDetail),
		"terminal_outcome", dash(d.State.TerminalOutcome),
		"attempt_state", d.State.AttemptState,
		"public_state", p.Painter.State(d.State.PublicState),
	)
	p.section("attempts")
	if len(d.Attempts) == 0 {
		p.printf("none (never claimed)\n")
	} else {
		var rows [][]string
		for _, a := range d.Attempts {
			worker := dash(a.WorkerID)
			if a.WorkerInstanceID != nil {
				worker += " (" + *a.WorkerInstanceID + ")"
			}
			lease := a.Lease
			if a.LeaseExpiresAtMS != nil {
				at := " until "
				if a.Lease == "expired" {
					at = " at "
				}
				lease = p.Painter.State(a.Lease) + at + p.ts(*a.LeaseExpiresAtMS)
			}
			outcome := dash(a.Outcome)
			if a.FailureReason != nil {
				outcome += ": " + *a.FailureReason
			}
			rows = append(rows, []string{itoa(a.AttemptIndex), dash(a.AttemptType), worker, itoa(a.LeaseEpoch),
				lease, p.tsp(a.StartedAtMS), p.tsp(a.TerminalAtMS), outcome})
		}
		if err := render.Table(p.W, []string{"#", "type", "worker", "epoch", "lease", "started", "ended", "outcome"}, rows); err != nil {
			return err
		}
	}
	if err := p.waitsText(d); err != nil {
		return err
	}
	p.section("recent events")
	if len(d.Events) == 0 {
		p.printf("none\n")
		return nil
	}
	var rows [][]string
	for _, e := range d.Events {
		rows = append(rows, []string{e.Outbox, itoa(e.EventID), p.Painter.State(e.Type), p.ts(e.AtMS)})
	}
	return render.Table(p.W, []string{"outbox", "event", "type", "at"}, rows)
}

// stateSummary renders "completed 2, waiting 1" in public-state order.
func (p Printer) stateSummary(m map[string]int64) string {
	var parts []string
	for _, s := range PublicStates {
		if n := m[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", p.Painter.State(s), n))
		}
	}
	for s, n := range m {
		if !ValidState(s) {
			parts = append(parts, fmt.Sprintf("%s %d", s, n))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func (p Printer) flowsText(l *FlowList) error {
	if len(l.Flows) == 0 {
		p.printf("no flows\n")
		return nil
	}
	var rows [][]string
	for _, f := range l.Flows {
		rows = append(rows, []string{f.ID, p.Painter.State(f.PublicFlowState), itoa(f.GraphRevision), itoa(f.Members), itoa(f.Edges),
			p.stateSummary(f.MemberStates), p.ts(f.CreatedAtMS)})
	}
	if err := render.Table(p.W, []string{"flow", "state", "revision", "members", "edges", "member states", "created"}, rows); err != nil {
		return err
	}
	if l.Truncated {
		p.printf("showing the newest %d; --limit N shows more (0 = all)\n", l.Limit)
	}
	return nil
}

func (p Printer) flowText(d *FlowDetail) error {
	pairs := []string{
		"flow", d.ID,
		"kind", dash(d.FlowKind),
		"namespace", dash(d.Namespace),
		"state", p.Painter.State(d.PublicFlowState),
	}
	if d.CancellationPolicy != nil {
		pairs = append(pairs, "cancelled", *d.CancellationPolicy+" ("+dash(d.CancelReason)+")")
	}
	pairs = append(pairs,
		"revision", itoa(d.GraphRevision),
		"members", fmt.Sprintf("%d (%s)", d.FlowRow.Members, p.stateSummary(d.MemberStates)),
		"edges", fmt.Sprintf("%d (%s)", d.FlowRow.Edges, p.edgeSummary(d.EdgeStates)),
		"created", p.ts(d.CreatedAtMS),
		"terminal", p.tsp(d.TerminalAtMS),
	)
	p.kv(pairs...)
	p.section("graph")
	if len(d.Members) == 0 {
		p.printf("no members\n")
		return nil
	}
	members := map[string]FlowMember{}
	for _, m := range d.Members {
		members[m.ID] = m
	}
	groups := map[string]FlowEdgeGroup{}
	for _, g := range d.EdgeGroups {
		groups[g.Downstream] = g
	}
	for _, line := range d.TreeLines(func(id string, e *FlowEdge) string {
		text := id
		if m, ok := members[id]; ok {
			text += "  " + p.Painter.State(m.PublicState) + "  " + m.Lane
		} else {
			text += "  (not a member)"
		}
		if e != nil {
			edge := dash(e.DependencyKind) + ", " + p.Painter.State(dash(e.EdgeState))
			if e.DataPassingRef != nil {
				edge += ", data " + *e.DataPassingRef
			}
			text += "  [" + edge + "]"
		}
		if g, ok := groups[id]; ok {
			text += "  (" + g.Summary() + ")"
		}
		return text
	}) {
		p.printf("%s\n", line)
	}
	return nil
}

// edgeStateOrder is the order edge states are summarised in.
var edgeStateOrder = []string{"pending", "unsatisfied", "satisfied", "impossible"}

// edgeSummary counts edges by state: "pending 1, satisfied 3".
func (p Printer) edgeSummary(m map[string]int64) string {
	var parts []string
	for _, s := range edgeStateOrder {
		if n := m[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", p.Painter.State(s), n))
		}
	}
	var other []string
	for s := range m {
		if !slices.Contains(edgeStateOrder, s) {
			other = append(other, s)
		}
	}
	slices.Sort(other)
	for _, s := range other {
		parts = append(parts, fmt.Sprintf("%s %d", s, m[s]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func limitText(usage int64, hard, soft map[string]int64, dim string) string {
	s := fmt.Sprintf("%s %d", dim, usage)
	if h := hard[dim]; h > 0 {
		s += fmt.Sprintf("/%d", h)
	}
	if sl := soft[dim]; sl > 0 {
		s += fmt.Sprintf(" (soft %d)", sl)
	}
	return s
}

func (p Printer) budgetsText(l *BudgetList) error {
	if len(l.Budgets) == 0 {
		p.printf("no budgets\n")
		return nil
	}
	var rows [][]string
	for _, b := range l.Budgets {
		var dims []string
		for d := range b.Usage {
			dims = append(dims, d)
		}
		slices.Sort(dims)
		var usage []string
		for _, d := range dims {
			usage = append(usage, limitText(b.Usage[d], b.HardLimits, b.SoftLimits, d))
		}
		scope := strings.Trim(b.ScopeType+" "+b.ScopeID, " ")
		if scope == "" {
			scope = "-"
		}
		next := p.tsp(b.NextResetAtMS)
		if b.ResetDue {
			next += " due"
		}
		rows = append(rows, []string{b.ID, scope, orDash(b.EnforcementMode), orDash(strings.Join(usage, ", ")),
			p.Painter.State(b.Status), fmt.Sprintf("%d hard, %d soft", b.BreachCount, b.SoftBreachCount), next})
	}
	return render.Table(p.W, []string{"budget", "scope", "mode", "usage", "status", "breaches", "next reset"}, rows)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// bar draws usage against limit as 20 cells.
func bar(usage, limit int64) string {
	const cells = 20
	if limit <= 0 {
		return "unlimited"
	}
	filled := int(min(usage, limit) * cells / limit)
	pct := float64(usage) * 100 / float64(limit)
	return fmt.Sprintf("[%s%s] %3.0f%%", strings.Repeat("█", filled), strings.Repeat("░", cells-filled), pct)
}

func (p Printer) budgetText(d *BudgetDetail) error {
	reset := "-"
	if d.ResetIntervalMS != nil && *d.ResetIntervalMS > 0 {
		reset = fmt.Sprintf("every %d ms", *d.ResetIntervalMS)
	}
	next := p.tsp(d.NextResetAtMS)
	if d.ResetDue {
		next += " (due)"
	}
	p.kv(
		"budget", d.ID,
		"status", p.Painter.State(d.Status),
		"scope", orDash(strings.Trim(d.ScopeType+" "+d.ScopeID, " ")),
		"enforcement", orDash(d.EnforcementMode),
		"reset", reset,
		"next reset", next,
		"breaches", fmt.Sprintf("%d hard, %d soft", d.BreachCount, d.SoftBreachCount),
		"last breach", strings.TrimSuffix(p.tsp(d.LastBreachAtMS)+" on "+dash(d.LastBreachDim), " on -"),
	)
	p.section("dimensions")
	if len(d.Dimensions) == 0 {
		p.printf("no limits and no usage\n")
	} else {
		var rows [][]string
		for _, dim := range d.Dimensions {
			limit, hard, soft := int64(0), "-", "-"
			if dim.Soft != nil {
				soft, limit = itoa(*dim.Soft), *dim.Soft
			}
			if dim.Hard != nil {
				hard, limit = itoa(*dim.Hard), *dim.Hard
			}
			rows = append(rows, []string{dim.Name, itoa(dim.Usage), hard, soft, bar(dim.Usage, limit), p.Painter.State(dim.Status)})
		}
		if err := render.Table(p.W, []string{"dimension", "usage", "hard", "soft", "of limit", "status"}, rows); err != nil {
			return err
		}
	}
	if len(d.TopExecutions) > 0 {
		p.section("top spenders")
		var rows [][]string
		for _, s := range d.TopExecutions {
			rows = append(rows, []string{s.ExecutionID, s.Dimension, itoa(s.Total)})
		}
		return render.Table(p.W, []string{"execution", "dimension", "spent"}, rows)
	}
	return nil
}

func (p Printer) quotasText(l *QuotaList) error {
	if len(l.Quotas) == 0 {
		p.printf("no quota policies\n")
		return nil
	}
	var rows [][]string
	for _, q := range l.Quotas {
		rate := fmt.Sprintf("%d in %ds", q.AdmittedInWindow, q.RequestsPerWindowSeconds)
		if q.MaxRequestsPerWindow > 0 {
			rate = fmt.Sprintf("%d/%d in %ds", q.AdmittedInWindow, q.MaxRequestsPerWindow, q.RequestsPerWindowSeconds)
		}
		conc := itoa(q.SlotsInUse)
		if q.ActiveConcurrencyCap > 0 {
			conc += "/" + itoa(q.ActiveConcurrencyCap)
		}
		status := p.Painter.State(q.Status)
		if q.RetryAfterMS != nil {
			status += fmt.Sprintf(" (next in %dms)", *q.RetryAfterMS)
		}
		rows = append(rows, []string{q.ID, rate, conc, itoa(q.Blocked), itoa(q.AdmittedLive), status})
	}
	return render.Table(p.W, []string{"quota", "window", "concurrency", "blocked", "admitted", "status"}, rows)
}

func (p Printer) workersText(l *WorkerList) error {
	if len(l.Workers) == 0 {
		p.printf("no workers registered\n")
		return nil
	}
	var rows [][]string
	for _, w := range l.Workers {
		rows = append(rows, []string{w.Namespace, w.WorkerInstanceID, w.WorkerID, orDash(strings.Join(w.Lanes, ",")),
			orDash(strings.Join(w.Capabilities, ",")), p.ts(w.LastHeartbeatMS), fmt.Sprintf("%dms", w.LivenessTTLMS),
			itoa(w.ActiveLeases), p.Painter.State(w.Status)})
	}
	return render.Table(p.W, []string{"namespace", "instance", "worker", "lanes", "capabilities", "last heartbeat", "ttl", "leases", "status"}, rows)
}

func (p Printer) eventsText(page *EventPage) error {
	if len(page.Events) == 0 {
		p.printf("no events\n")
	} else {
		var rows [][]string
		for _, e := range page.Events {
			rows = append(rows, []string{e.Outbox, itoa(e.EventID), p.Painter.State(e.Type), e.ExecutionID, p.ts(e.AtMS)})
		}
		if err := render.Table(p.W, []string{"outbox", "event", "type", "execution", "at"}, rows); err != nil {
			return err
		}
	}
	p.printf("cursor %s\n", page.Cursor)
	return nil
}

func (p Printer) schemaText(f *schemafacts.Facts) error {
	for i, t := range f.Tables {
		if i > 0 {
			p.printf("\n")
		}
		var flags []string
		for _, fl := range []struct {
			on   bool
			name string
		}{{t.WithoutRowid, "WITHOUT ROWID"}, {t.Strict, "STRICT"}, {t.Autoincrement, "AUTOINCREMENT"}} {
			if fl.on {
				flags = append(flags, fl.name)
			}
		}
		head := fmt.Sprintf("%s (%d columns", t.Name, len(t.Columns))
		if len(flags) > 0 {
			head += ", " + strings.Join(flags, ", ")
		}
		p.printf("%s\n", p.Painter.Bold(head+")"))
		byName := map[string]schemafacts.Column{}
		for _, c := range t.Columns {
			byName[c.Name] = c
		}
		var rows [][]string
		for _, name := range t.ColumnOrder {
			c := byName[name]
			def, pk, nn := "-", "", ""
			if c.Default != nil {
				def = *c.Default
			}
			if c.Pk > 0 {
				pk = itoa(int64(c.Pk))
			}
			if c.Notnull != 0 {
				nn = "NOT NULL"
			}
			rows = append(rows, []string{name, c.Type, nn, def, pk})
		}
		if err := render.Table(p.W, []string{"column", "type", "null", "default", "pk"}, rows); err != nil {
			return err
		}
		for _, ix := range t.Indexes {
			var cols []string
			for _, c := range ix.Columns {
				col := c.Column
				if c.Desc != 0 {
					col += " DESC"
				}
				cols = append(cols, col)
			}
			line := fmt.Sprintf("  index %s (%s)", ix.Name, strings.Join(cols, ", "))
			if ix.Unique != 0 {
				line = fmt.Sprintf("  unique index %s (%s)", ix.Name, strings.Join(cols, ", "))
			}
			if ix.Where != nil {
				line += " WHERE " + *ix.Where
			}
			p.printf("%s\n", line)
		}
		for _, ck := range t.Checks {
			p.printf("  check %s\n", ck.Expr)
		}
		for _, fk := range t.ForeignKeys {
			p.printf("  foreign key (%s) references %s\n", strings.Join(fk.From, ", "), fk.Table)
		}
	}
	if len(f.Triggers)+len(f.Views) > 0 {
		p.printf("\n")
		for _, t := range f.Triggers {
			p.printf("trigger %s on %s\n", t.Name, t.Table)
		}
		for _, vw := range f.Views {
			p.printf("view %s\n", vw.Name)
		}
	}
	return nil
}
