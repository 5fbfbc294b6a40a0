package inspect

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Event is one outbox row. Every key is always present; keys that do not
// apply to the event's outbox are null.
type Event struct {
	// Outbox is completion, lease, signal or operator.
	Outbox string `json:"outbox"`
	// EventID is the row's id in its own outbox (ids of different outboxes
	// are unrelated).
	EventID     int64  `json:"event_id"`
	ExecutionID string `json:"execution_id"`
	// Type is the completion outcome, the lease or operator event_type, or
	// "delivered" for a signal.
	Type string `json:"type"`
	// AtMS is occurred_at_ms (delivered_at_ms for signals).
	AtMS           int64           `json:"at_ms"`
	Namespace      *string         `json:"namespace"`
	InstanceTag    *string         `json:"instance_tag"`
	FlowID         *string         `json:"flow_id"`          // completion
	CommittedAtMS  *int64          `json:"committed_at_ms"`  // completion
	DispatchedAtMS *int64          `json:"dispatched_at_ms"` // completion; null until the cascade consumed it
	LeaseID        *string         `json:"lease_id"`         // lease
	SignalID       *string         `json:"signal_id"`        // signal
	WaitpointID    *string         `json:"waitpoint_id"`     // signal
	SourceIdentity *string         `json:"source_identity"`  // signal
	Details        json.RawMessage `json:"details"`          // operator
}

func outboxIndex(name string) int {
	return slices.IndexFunc(Outboxes, func(o struct{ Name, Table string }) bool { return o.Name == name })
}

// compareEvents orders events by time, then outbox, then id.
func compareEvents(a, b Event) int {
	return cmp.Or(cmp.Compare(a.AtMS, b.AtMS), cmp.Compare(outboxIndex(a.Outbox), outboxIndex(b.Outbox)), cmp.Compare(a.EventID, b.EventID))
}

// eventSelect is the per-outbox projection onto Event's columns.
func eventSelect(cat *catalog, outbox string) string {
	t := Outboxes[outboxIndex(outbox)].Table
	c := func(col string) string { return cat.col(t, col) }
	switch outbox {
	case "completion":
		return fmt.Sprintf(`SELECT event_id, partition_key, execution_id, outcome, occurred_at_ms, namespace, instance_tag, flow_id,
			committed_at_ms, %s, NULL, NULL, NULL, NULL, NULL FROM %s`, c("dispatched_at_ms"), t)
	case "lease":
		return fmt.Sprintf(`SELECT event_id, partition_key, execution_id, event_type, occurred_at_ms, %s, %s, NULL,
			NULL, NULL, lease_id, NULL, NULL, NULL, NULL FROM %s`, c("namespace"), c("instance_tag"), t)
	case "signal":
		return fmt.Sprintf(`SELECT event_id, partition_key, execution_id, 'delivered', delivered_at_ms, %s, %s, NULL,
			NULL, NULL, NULL, signal_id, waitpoint_id, source_identity, NULL FROM %s`, c("namespace"), c("instance_tag"), t)
	}
	return fmt.Sprintf(`SELECT event_id, partition_key, execution_id, event_type, occurred_at_ms, namespace, instance_tag, NULL,
		NULL, NULL, NULL, NULL, NULL, NULL, details FROM %s`, t)
}

// readEvents runs eventSelect(outbox) + " WHERE " + tail.
func readEvents(ctx context.Context, q queryer, cat *catalog, outbox, tail string, args []any) ([]Event, error) {
	rows, err := q.QueryContext(ctx, eventSelect(cat, outbox)+" WHERE "+tail, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s events: %w", outbox, err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		e := Event{Outbox: outbox}
		var part int64
		var exec any
		var flow []byte
		var ns, tag, lease, sig, wp, src, details sql.NullString
		var committed, dispatched sql.NullInt64
		if err := rows.Scan(&e.EventID, &part, &exec, &e.Type, &e.AtMS, &ns, &tag, &flow, &committed, &dispatched,
			&lease, &sig, &wp, &src, &details); err != nil {
			return nil, err
		}
		switch v := exec.(type) {
		case []byte:
			e.ExecutionID = ExecID(part, v)
		case string:
			e.ExecutionID = v
		default:
			e.ExecutionID = fmt.Sprint(v)
		}
		if flow != nil {
			s := UUIDString(flow)
			e.FlowID = &s
		}
		e.Namespace, e.InstanceTag = nullStr(ns), nullStr(tag)
		e.CommittedAtMS, e.DispatchedAtMS = nullInt(committed), nullInt(dispatched)
		e.LeaseID, e.SignalID, e.WaitpointID, e.SourceIdentity = nullStr(lease), nullStr(sig), nullStr(wp), nullStr(src)
		e.Details = rawJSON(details)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Cursor is a position in the outboxes: for each outbox, the last event id
// already seen. Its text form is "completion:12,lease:40,signal:0,operator:3".
type Cursor map[string]int64

// String renders the cursor in Outboxes order.
func (c Cursor) String() string {
	var parts []string
	for _, ob := range Outboxes {
		if v, ok := c[ob.Name]; ok {
			parts = append(parts, ob.Name+":"+strconv.FormatInt(v, 10))
		}
	}
	return strings.Join(parts, ",")
}

// ParseCursor reads --after: a bare event id N applies to every selected
// outbox; "outbox:N[,outbox:N…]" sets them one by one.
func ParseCursor(s string, outboxes []string) (Cursor, error) {
	c := Cursor{}
	s = strings.TrimSpace(s)
	if s == "" {
		return c, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return nil, fmt.Errorf("invalid cursor %q: negative", s)
		}
		for _, ob := range outboxes {
			c[ob] = n
		}
		return c, nil
	}
	for _, part := range strings.Split(s, ",") {
		name, num, ok := strings.Cut(strings.TrimSpace(part), ":")
		n, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || n < 0 || outboxIndex(name) < 0 {
			return nil, fmt.Errorf("invalid cursor %q: want N or outbox:N[,outbox:N…] (outboxes: completion, lease, signal, operator)", s)
		}
		c[name] = n
	}
	return c, nil
}

// EventQuery selects events for Events.
type EventQuery struct {
	// Outboxes to read (nil = all four).
	Outboxes []string
	// After, when set, returns the events after it, oldest first; without
	// it Events returns the newest Limit events.
	After Cursor
	// Limit caps the events returned (DefaultLimit when 0).
	Limit int
}

// EventPage is `inspect events`.
type EventPage struct {
	// Events in time order (at_ms, then outbox, then event_id).
	Events []Event `json:"events"`
	// Cursor is where this page ends in every selected outbox; pass it to
	// --after to continue (it is the outboxes' heads when the page holds
	// the newest events).
	Cursor string `json:"cursor"`
}

// ValidateOutboxes checks outbox names; nil or empty means all.
func ValidateOutboxes(names []string) ([]string, error) {
	if len(names) == 0 {
		var all []string
		for _, ob := range Outboxes {
			all = append(all, ob.Name)
		}
		return all, nil
	}
	for _, n := range names {
		if outboxIndex(n) < 0 {
			return nil, fmt.Errorf("unknown outbox %q (one of completion, lease, signal, operator)", n)
		}
	}
	return names, nil
}

// Events reads a page of outbox events.
func Events(ctx context.Context, db *sql.DB, q EventQuery) (*EventPage, error) {
	names, err := ValidateOutboxes(q.Outboxes)
	if err != nil {
		return nil, err
	}
	cat, err := loadCatalog(ctx, db)
	if err != nil {
		return nil, err
	}
	if len(q.Outboxes) > 0 {
		for _, n := range names {
			if err := cat.need(Outboxes[outboxIndex(n)].Table); err != nil {
				return nil, err
			}
		}
	} else if err := cat.need("ff_completion_event"); err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	// One read transaction: heads and events come from one snapshot.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if q.After == nil {
		return newestEvents(ctx, tx, cat, names, limit)
	}
	return eventsAfter(ctx, tx, cat, names, q.After, limit)
}

func newestEvents(ctx context.Context, q queryer, cat *catalog, names []string, limit int) (*EventPage, error) {
	cur := Cursor{}
	var all []Event
	for _, n := range names {
		t := Outboxes[outboxIndex(n)].Table
		if !cat.has(t) {
			continue
		}
		var head sql.NullInt64
		if err := q.QueryRowContext(ctx, "SELECT max(event_id) FROM "+t).Scan(&head); err != nil {
			return nil, err
		}
		cur[n] = head.Int64
		evs, err := readEvents(ctx, q, cat, n, fmt.Sprintf("1 ORDER BY event_id DESC LIMIT %d", limit), nil)
		if err != nil {
			return nil, err
		}
		all = append(all, evs...)
	}
	slices.SortStableFunc(all, compareEvents)
	if len(all) > limit {
		all = all[len(all)-limit:]
	}
	if all == nil {
		all = []Event{}
	}
	return &EventPage{Events: all, Cursor: cur.String()}, nil
}

func eventsAfter(ctx context.Context, q queryer, cat *catalog, names []string, after Cursor, limit int) (*EventPage, error) {
	cur := Cursor{}
	per := map[string][]Event{}
	var all []Event
	for _, n := range names {
		if !cat.has(Outboxes[outboxIndex(n)].Table) {
			continue
		}
		cur[n] = after[n]
		evs, err := readEvents(ctx, q, cat, n, fmt.Sprintf("event_id > ? ORDER BY event_id LIMIT %d", limit), []any{after[n]})
		if err != nil {
			return nil, err
		}
		per[n] = evs
		all = append(all, evs...)
	}
	slices.SortStableFunc(all, compareEvents)
	if len(all) > limit {
		all = all[:limit]
	}
	// Per outbox, keep only the prefix (in id order) that made the page, so
	// the cursor never skips an event that sorted after the cut.
	shown := map[string]map[int64]bool{}
	for _, e := range all {
		if shown[e.Outbox] == nil {
			shown[e.Outbox] = map[int64]bool{}
		}
		shown[e.Outbox][e.EventID] = true
	}
	keep := map[string]map[int64]bool{}
	for n, evs := range per {
		keep[n] = map[int64]bool{}
		for _, e := range evs {
			if !shown[n][e.EventID] {
				break
			}
			keep[n][e.EventID] = true
			cur[n] = e.EventID
		}
	}
	out := []Event{}
	for _, e := range all {
		if keep[e.Outbox][e.EventID] {
			out = append(out, e)
		}
	}
	return &EventPage{Events: out, Cursor: cur.String()}, nil
}

// FollowInterval is how often Follow polls.
const FollowInterval = 250 * time.Millisecond

// Follow polls the outboxes every interval for events after from and hands
// each non-empty batch, in time order, to emit, until ctx is cancelled
// (then it returns nil) or emit or a query fails.
func Follow(ctx context.Context, db *sql.DB, outboxes []string, from Cursor, interval time.Duration, emit func([]Event) error) error {
	if interval <= 0 {
		interval = FollowInterval
	}
	cur := Cursor{}
	for k, v := range from {
		cur[k] = v
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for {
			page, err := Events(ctx, db, EventQuery{Outboxes: outboxes, After: cur, Limit: 1000})
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				return err
			}
			if len(page.Events) == 0 {
				break
			}
			if err := emit(page.Events); err != nil {
				return err
			}
			if cur, err = ParseCursor(page.Cursor, nil); err != nil {
				return err
			}
			if len(page.Events) < 1000 {
				break
			}
		}
	}
}
