package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ffsqlite/ffsqlite/inspect"
	"github.com/ffsqlite/ffsqlite/render"
	"github.com/ffsqlite/ffsqlite/schemafacts"
)

// kv prints aligned "key  value" lines.
func (v *inspectView) kv(pairs ...string) {
	width := 0
	for i := 0; i < len(pairs); i += 2 {
		width = max(width, len(pairs[i]))
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		fprintf(v.w, "%-*s  %s\n", width, pairs[i], pairs[i+1])
	}
}

func (v *inspectView) section(title string) { fprintf(v.w, "\n%s\n", v.p.Bold(title)) }

func inspHumanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func (v *inspectView) overview(r *inspect.OverviewReport) error {
	schema := fmt.Sprintf("version %d of %d (ledger %s)", r.Schema.Version, r.Schema.LatestVersion, r.Schema.Ledger)
	if n := len(r.Schema.Pending); n > 0 {
		var ps []string
		for _, p := range r.Schema.Pending {
			ps = append(ps, inspItoa(p))
		}
		schema += fmt.Sprintf(", %d pending: %s", n, strings.Join(ps, ", "))
	} else {
		schema += ", up to date"
	}
	pairs := []string{
		"file", r.File,
		"size", fmt.Sprintf("%d bytes (%s), WAL %d bytes", r.SizeBytes, inspHumanBytes(r.SizeBytes), r.WALSizeBytes),
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
		"now", time.UnixMilli(r.NowMS).In(inspectZone()).Format("2006-01-02 15:04:05"),
		"executions", fmt.Sprintf("%d (%d delayed and due)", r.Executions.Total, r.Executions.DelayedDue),
		"leases", fmt.Sprintf("%d active, %d expired", r.Leases.Active, r.Leases.Expired),
		"budgets", fmt.Sprintf("%d, %d due for reset, %d in breach", r.Budgets.Total, r.Budgets.ResetDue, r.Budgets.InBreach),
		"workers", fmt.Sprintf("%d, %d alive, %d expired", r.Workers.Total, r.Workers.Alive, r.Workers.Expired),
	)
	var heads []string
	for _, o := range r.Outboxes {
		id := "-"
		if o.NewestEventID != nil {
			id = "#" + inspItoa(*o.NewestEventID)
		}
		heads = append(heads, o.Outbox+" "+id)
	}
	pairs = append(pairs, "newest events", strings.Join(heads, ", "))
	v.kv(pairs...)

	v.section("executions by state")
	var rows [][]string
	for _, s := range inspect.PublicStates {
		rows = append(rows, []string{v.p.State(s), inspItoa(r.Executions.ByState[s])})
	}
	var extra []string
	for s := range r.Executions.ByState {
		if !inspect.ValidState(s) {
			extra = append(extra, s)
		}
	}
	slices.Sort(extra)
	for _, s := range extra {
		rows = append(rows, []string{s + " (unknown)", inspItoa(r.Executions.ByState[s])})
	}
	if err := render.Table(v.w, []string{"state", "executions"}, rows); err != nil {
		return err
	}
	v.section("executions by lane")
	if len(r.Executions.ByLane) == 0 {
		fprintf(v.w, "no lanes\n")
		return nil
	}
	rows = nil
	for _, l := range r.Executions.ByLane {
		row := []string{l.Lane, inspItoa(l.Total)}
		for _, p := range inspect.LifecyclePhases {
			row = append(row, inspItoa(l.ByPhase[p]))
		}
		reg := "yes"
		if !l.Registered {
			reg = "no"
		}
		rows = append(rows, append(row, reg))
	}
	return render.Table(v.w, append(append([]string{"lane", "total"}, inspect.LifecyclePhases...), "registered"), rows)
}

func (v *inspectView) executions(l *inspect.ExecutionList) error {
	if len(l.Executions) == 0 {
		fprintf(v.w, "no executions\n")
		return nil
	}
	var rows [][]string
	for _, e := range l.Executions {
		rows = append(rows, []string{e.ID, e.Lane, v.p.State(e.PublicState), inspItoa(e.AttemptIndex), inspItoa(e.Priority), v.ts(e.CreatedAtMS)})
	}
	if err := render.Table(v.w, []string{"id", "lane", "state", "attempt", "priority", "created"}, rows); err != nil {
		return err
	}
	if l.Truncated {
		fprintf(v.w, "showing the newest %d; --limit N shows more (0 = all)\n", l.Limit)
	}
	return nil
}

func inspCompact(raw json.RawMessage) string {
	if raw == nil {
		return "-"
	}
	return string(raw)
}

func (v *inspectView) execution(d *inspect.ExecutionDetail) error {
	result := "-"
	if d.ResultSize != nil {
		result = fmt.Sprintf("%d bytes", *d.ResultSize)
	}
	caps := "-"
	if len(d.Capabilities) > 0 {
		caps = strings.Join(d.Capabilities, ", ")
	}
	v.kv(
		"execution", d.ID,
		"state", v.p.State(d.State.PublicState),
		"lane", d.Lane,
		"flow", inspDash(d.FlowID),
		"namespace", inspDash(d.Namespace),
		"kind", inspDash(d.ExecutionKind),
		"creator", inspDash(d.CreatorIdentity),
		"idempotency key", inspDash(d.IdempotencyKey),
		"priority", inspItoa(d.Priority),
		"attempt index", inspItoa(d.AttemptIndex),
		"counters", fmt.Sprintf("retries %d, replays %d, lease reclaims %d", d.RetryCount, d.ReplayCount, d.LeaseReclaimCount),
		"created", v.ts(d.CreatedAtMS),
		"started", v.tsp(d.StartedAtMS),
		"terminal", v.tsp(d.TerminalAtMS),
		"deadline", v.tsp(d.DeadlineAtMS),
		"delay until", v.tsp(d.DelayUntilMS),
		"cancelled", strings.TrimSuffix(inspDash(d.CancellationReason)+" by "+inspDash(d.CancelledBy), " by -"),
		"failure", strings.TrimSuffix(inspDash(d.FailureClass)+": "+inspDash(d.FailureReason), ": -"),
		"capabilities", caps,
		"tags", inspCompact(d.Tags),
		"policy", inspCompact(d.Policy),
		"payload", fmt.Sprintf("%d bytes", d.PayloadSize),
		"result", result,
	)
	v.section("state vector")
	v.kv(
		"lifecycle_phase", d.State.LifecyclePhase,
		"ownership_state", d.State.OwnershipState,
		"eligibility_state", d.State.EligibilityState,
		"blocking_reason", inspDash(d.State.BlockingReason),
		"blocking_detail", inspDash(d.State.BlockingDetail),
		"terminal_outcome", inspDash(d.State.TerminalOutcome),
		"attempt_state", d.State.AttemptState,
		"public_state", v.p.State(d.State.PublicState),
	)
	v.section("attempts")
	if len(d.Attempts) == 0 {
		fprintf(v.w, "none (never claimed)\n")
	} else {
		var rows [][]string
		for _, a := range d.Attempts {
			worker := inspDash(a.WorkerID)
			if a.WorkerInstanceID != nil {
				worker += " (" + *a.WorkerInstanceID + ")"
			}
			lease := a.Lease
			if a.LeaseExpiresAtMS != nil {
				at := " until "
				if a.Lease == "expired" {
					at = " at "
				}
				lease = v.p.State(a.Lease) + at + v.ts(*a.LeaseExpiresAtMS)
			}
			outcome := inspDash(a.Outcome)
			if a.FailureReason != nil {
				outcome += ": " + *a.FailureReason
			}
			rows = append(rows, []string{inspItoa(a.AttemptIndex), inspDash(a.AttemptType), worker, inspItoa(a.LeaseEpoch),
				lease, v.tsp(a.StartedAtMS), v.tsp(a.TerminalAtMS), outcome})
		}
		if err := render.Table(v.w, []string{"#", "type", "worker", "epoch", "lease", "started", "ended", "outcome"}, rows); err != nil {
			return err
		}
	}
	if err := v.waits(d); err != nil {
		return err
	}
	v.section("recent events")
	if len(d.Events) == 0 {
		fprintf(v.w, "none\n")
		return nil
	}
	var rows [][]string
	for _, e := range d.Events {
		rows = append(rows, []string{e.Outbox, inspItoa(e.EventID), v.p.State(e.Type), v.ts(e.AtMS)})
	}
	return render.Table(v.w, []string{"outbox", "event", "type", "at"}, rows)
}

// stateSummary renders "completed 2, waiting 1" in public-state order.
func (v *inspectView) stateSummary(m map[string]int64) string {
	var parts []string
	for _, s := range inspect.PublicStates {
		if n := m[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", v.p.State(s), n))
		}
	}
	for s, n := range m {
		if !inspect.ValidState(s) {
			parts = append(parts, fmt.Sprintf("%s %d", s, n))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func (v *inspectView) flows(l *inspect.FlowList) error {
	if len(l.Flows) == 0 {
		fprintf(v.w, "no flows\n")
		return nil
	}
	var rows [][]string
	for _, f := range l.Flows {
		rows = append(rows, []string{f.ID, v.p.State(f.PublicFlowState), inspItoa(f.GraphRevision), inspItoa(f.Members), inspItoa(f.Edges),
			v.stateSummary(f.MemberStates), v.ts(f.CreatedAtMS)})
	}
	if err := render.Table(v.w, []string{"flow", "state", "revision", "members", "edges", "member states", "created"}, rows); err != nil {
		return err
	}
	if l.Truncated {
		fprintf(v.w, "showing the newest %d; --limit N shows more (0 = all)\n", l.Limit)
	}
	return nil
}

func (v *inspectView) flow(d *inspect.FlowDetail) error {
	v.kv(
		"flow", d.ID,
		"state", v.p.State(d.PublicFlowState),
		"revision", inspItoa(d.GraphRevision),
		"members", fmt.Sprintf("%d (%s)", d.FlowRow.Members, v.stateSummary(d.MemberStates)),
		"edges", inspItoa(d.FlowRow.Edges),
		"created", v.ts(d.CreatedAtMS),
		"terminal", v.tsp(d.TerminalAtMS),
	)
	v.section("graph")
	if len(d.Members) == 0 {
		fprintf(v.w, "no members\n")
		return nil
	}
	members := map[string]inspect.FlowMember{}
	for _, m := range d.Members {
		members[m.ID] = m
	}
	for _, line := range d.TreeLines(func(id string, e *inspect.FlowEdge) string {
		text := id
		if m, ok := members[id]; ok {
			text += "  " + v.p.State(m.PublicState) + "  " + m.Lane
		} else {
			text += "  (not a member)"
		}
		if e != nil {
			text += "  [" + inspDash(e.DependencyKind) + ", " + inspDash(e.EdgeState) + "]"
		}
		return text
	}) {
		fprintf(v.w, "%s\n", line)
	}
	return nil
}

func inspLimitText(usage int64, hard, soft map[string]int64, dim string) string {
	s := fmt.Sprintf("%s %d", dim, usage)
	if h := hard[dim]; h > 0 {
		s += fmt.Sprintf("/%d", h)
	}
	if sl := soft[dim]; sl > 0 {
		s += fmt.Sprintf(" (soft %d)", sl)
	}
	return s
}

func (v *inspectView) budgets(l *inspect.BudgetList) error {
	if len(l.Budgets) == 0 {
		fprintf(v.w, "no budgets\n")
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
			usage = append(usage, inspLimitText(b.Usage[d], b.HardLimits, b.SoftLimits, d))
		}
		scope := strings.Trim(b.ScopeType+" "+b.ScopeID, " ")
		if scope == "" {
			scope = "-"
		}
		next := v.tsp(b.NextResetAtMS)
		if b.ResetDue {
			next += " due"
		}
		rows = append(rows, []string{b.ID, scope, inspOrDash(b.EnforcementMode), inspOrDash(strings.Join(usage, ", ")),
			v.p.State(b.Status), fmt.Sprintf("%d hard, %d soft", b.BreachCount, b.SoftBreachCount), next})
	}
	return render.Table(v.w, []string{"budget", "scope", "mode", "usage", "status", "breaches", "next reset"}, rows)
}

func inspOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// bar draws usage against limit as 20 cells.
func inspBar(usage, limit int64) string {
	const cells = 20
	if limit <= 0 {
		return "unlimited"
	}
	filled := int(min(usage, limit) * cells / limit)
	pct := float64(usage) * 100 / float64(limit)
	return fmt.Sprintf("[%s%s] %3.0f%%", strings.Repeat("█", filled), strings.Repeat("░", cells-filled), pct)
}

func (v *inspectView) budget(d *inspect.BudgetDetail) error {
	reset := "-"
	if d.ResetIntervalMS != nil && *d.ResetIntervalMS > 0 {
		reset = fmt.Sprintf("every %d ms", *d.ResetIntervalMS)
	}
	next := v.tsp(d.NextResetAtMS)
	if d.ResetDue {
		next += " (due)"
	}
	v.kv(
		"budget", d.ID,
		"status", v.p.State(d.Status),
		"scope", inspOrDash(strings.Trim(d.ScopeType+" "+d.ScopeID, " ")),
		"enforcement", inspOrDash(d.EnforcementMode),
		"reset", reset,
		"next reset", next,
		"breaches", fmt.Sprintf("%d hard, %d soft", d.BreachCount, d.SoftBreachCount),
		"last breach", strings.TrimSuffix(v.tsp(d.LastBreachAtMS)+" on "+inspDash(d.LastBreachDim), " on -"),
	)
	v.section("dimensions")
	if len(d.Dimensions) == 0 {
		fprintf(v.w, "no limits and no usage\n")
	} else {
		var rows [][]string
		for _, dim := range d.Dimensions {
			limit, hard, soft := int64(0), "-", "-"
			if dim.Soft != nil {
				soft, limit = inspItoa(*dim.Soft), *dim.Soft
			}
			if dim.Hard != nil {
				hard, limit = inspItoa(*dim.Hard), *dim.Hard
			}
			rows = append(rows, []string{dim.Name, inspItoa(dim.Usage), hard, soft, inspBar(dim.Usage, limit), v.p.State(dim.Status)})
		}
		if err := render.Table(v.w, []string{"dimension", "usage", "hard", "soft", "of limit", "status"}, rows); err != nil {
			return err
		}
	}
	if len(d.TopExecutions) > 0 {
		v.section("top spenders")
		var rows [][]string
		for _, s := range d.TopExecutions {
			rows = append(rows, []string{s.ExecutionID, s.Dimension, inspItoa(s.Total)})
		}
		return render.Table(v.w, []string{"execution", "dimension", "spent"}, rows)
	}
	return nil
}

func (v *inspectView) quotas(l *inspect.QuotaList) error {
	if len(l.Quotas) == 0 {
		fprintf(v.w, "no quota policies\n")
		return nil
	}
	var rows [][]string
	for _, q := range l.Quotas {
		rate := fmt.Sprintf("%d in %ds", q.AdmittedInWindow, q.RequestsPerWindowSeconds)
		if q.MaxRequestsPerWindow > 0 {
			rate = fmt.Sprintf("%d/%d in %ds", q.AdmittedInWindow, q.MaxRequestsPerWindow, q.RequestsPerWindowSeconds)
		}
		conc := inspItoa(q.ActiveConcurrency)
		if q.ActiveConcurrencyCap > 0 {
			conc += "/" + inspItoa(q.ActiveConcurrencyCap)
		}
		rows = append(rows, []string{q.ID, rate, conc, inspItoa(q.AdmittedLive), v.p.State(q.Status)})
	}
	return render.Table(v.w, []string{"quota", "window", "concurrency", "admitted", "status"}, rows)
}

func (v *inspectView) workers(l *inspect.WorkerList) error {
	if len(l.Workers) == 0 {
		fprintf(v.w, "no workers registered\n")
		return nil
	}
	var rows [][]string
	for _, w := range l.Workers {
		rows = append(rows, []string{w.Namespace, w.WorkerInstanceID, w.WorkerID, inspOrDash(strings.Join(w.Lanes, ",")),
			inspOrDash(strings.Join(w.Capabilities, ",")), v.ts(w.LastHeartbeatMS), fmt.Sprintf("%dms", w.LivenessTTLMS),
			inspItoa(w.ActiveLeases), v.p.State(w.Status)})
	}
	return render.Table(v.w, []string{"namespace", "instance", "worker", "lanes", "capabilities", "last heartbeat", "ttl", "leases", "status"}, rows)
}

func (v *inspectView) events(p *inspect.EventPage) error {
	if len(p.Events) == 0 {
		fprintf(v.w, "no events\n")
	} else {
		var rows [][]string
		for _, e := range p.Events {
			rows = append(rows, []string{e.Outbox, inspItoa(e.EventID), v.p.State(e.Type), e.ExecutionID, v.ts(e.AtMS)})
		}
		if err := render.Table(v.w, []string{"outbox", "event", "type", "execution", "at"}, rows); err != nil {
			return err
		}
	}
	fprintf(v.w, "cursor %s\n", p.Cursor)
	return nil
}

func (v *inspectView) schema(f *schemafacts.Facts) error {
	for i, t := range f.Tables {
		if i > 0 {
			fprintf(v.w, "\n")
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
		fprintf(v.w, "%s\n", v.p.Bold(head+")"))
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
				pk = inspItoa(int64(c.Pk))
			}
			if c.Notnull != 0 {
				nn = "NOT NULL"
			}
			rows = append(rows, []string{name, c.Type, nn, def, pk})
		}
		if err := render.Table(v.w, []string{"column", "type", "null", "default", "pk"}, rows); err != nil {
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
			fprintf(v.w, "%s\n", line)
		}
		for _, ck := range t.Checks {
			fprintf(v.w, "  check %s\n", ck.Expr)
		}
		for _, fk := range t.ForeignKeys {
			fprintf(v.w, "  foreign key (%s) references %s\n", strings.Join(fk.From, ", "), fk.Table)
		}
	}
	if len(f.Triggers)+len(f.Views) > 0 {
		fprintf(v.w, "\n")
		for _, t := range f.Triggers {
			fprintf(v.w, "trigger %s on %s\n", t.Name, t.Table)
		}
		for _, vw := range f.Views {
			fprintf(v.w, "view %s\n", vw.Name)
		}
	}
	return nil
}
