package backend

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// Outbox names one of the engine's durable event tables.
type Outbox int

// The outboxes a subscriber can follow.
const (
	// OutboxCompletion is ff_completion_event: outcome success / failed /
	// cancelled / expired.
	OutboxCompletion Outbox = iota + 1
	// OutboxLease is ff_lease_event: acquired / renewed / expired /
	// reclaimed / revoked / released.
	OutboxLease
	// OutboxOperator is ff_operator_event: priority_changed / replayed.
	OutboxOperator
	// OutboxSignal is ff_signal_event: one "delivered" row per accepted
	// signal; Details is {"signal_id","waitpoint_id","source_identity"}.
	OutboxSignal
	outboxCount
)

// String returns the outbox's table name.
func (o Outbox) String() string {
	switch o {
	case OutboxCompletion:
		return "ff_completion_event"
	case OutboxLease:
		return "ff_lease_event"
	case OutboxOperator:
		return "ff_operator_event"
	case OutboxSignal:
		return "ff_signal_event"
	}
	return fmt.Sprintf("outbox(%d)", int(o))
}

// Event is one outbox row. Type is the completion outcome or the lease /
// operator event type.
type Event struct {
	Outbox       Outbox `json:"-"`
	EventID      int64  `json:"event_id"`
	ExecutionID  string `json:"execution_id"`
	Type         string `json:"type"`
	LeaseID      string `json:"lease_id,omitempty"`
	Details      string `json:"details,omitempty"`
	Namespace    string `json:"namespace,omitempty"`
	InstanceTag  string `json:"instance_tag,omitempty"`
	OccurredAtMS int64  `json:"occurred_at_ms"`
}

// The outbox rows copy the namespace and the cairn.instance_id tag from
// the execution row, in the same statement.
var (
	qInsertLeaseEvent = hotStmt(`INSERT INTO ff_lease_event
  (execution_id, lease_id, event_type, occurred_at_ms, partition_key, namespace, instance_tag)
SELECT ?1, ?2, ?3, ?4, e.partition_key, json_extract(e.raw_fields, '$.namespace'),
       json_extract(e.raw_fields, '$.tags."cairn.instance_id"')
FROM ff_exec_core e WHERE e.partition_key = ?5 AND e.execution_id = ?6`)

	qInsertCompletionEvent = hotStmt(`INSERT INTO ff_completion_event
  (partition_key, execution_id, flow_id, outcome, namespace, instance_tag, occurred_at_ms)
SELECT e.partition_key, e.execution_id, e.flow_id, ?1, json_extract(e.raw_fields, '$.namespace'),
       json_extract(e.raw_fields, '$.tags."cairn.instance_id"'), ?2
FROM ff_exec_core e WHERE e.partition_key = ?3 AND e.execution_id = ?4`)

	// The hot paths (claim, complete) read the copied columns back from
	// the statement that changes the execution row (RETURNING
	// evTagsReturning) and insert their events with these, which saves
	// looking the row up again.
	qInsertLeaseEventTagged = hotStmt(`INSERT INTO ff_lease_event
  (execution_id, lease_id, event_type, occurred_at_ms, partition_key, namespace, instance_tag)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)`)

	qInsertCompletionEventTagged = hotStmt(`INSERT INTO ff_completion_event
  (partition_key, execution_id, flow_id, outcome, namespace, instance_tag, occurred_at_ms)
VALUES (?3, ?4, ?5, ?1, ?6, ?7, ?2)`)

	qInsertOperatorEvent = `INSERT INTO ff_operator_event
  (execution_id, event_type, details, occurred_at_ms, partition_key, namespace, instance_tag)
SELECT ?1, ?2, ?3, ?4, e.partition_key, json_extract(e.raw_fields, '$.namespace'),
       json_extract(e.raw_fields, '$.tags."cairn.instance_id"')
FROM ff_exec_core e WHERE e.partition_key = ?5 AND e.execution_id = ?6`
)

// leaseEvent records a lease lifecycle event for id in this transaction.
func (w *wtx) leaseEvent(id ExecutionID, leaseID, eventType string) error {
	part, key := id.key()
	var lid any
	if leaseID != "" {
		lid = leaseID
	}
	if _, err := w.exec(qInsertLeaseEvent, id.String(), lid, eventType, w.now, part, key); err != nil {
		return err
	}
	w.wake(OutboxLease)
	return nil
}

// evTagsReturning is the RETURNING list that reads an execution row's
// columns the outbox rows copy, in evTags' order.
// The driver reads a zero-length BLOB as nil, so a flag tells it from NULL.
const evTagsReturning = `flow_id, typeof(flow_id) = 'blob' AND length(flow_id) = 0,
  json_extract(raw_fields, '$.namespace'), json_extract(raw_fields, '$.tags."cairn.instance_id"')`

// evTags are the execution row's flow_id, namespace and cairn.instance_id
// tag as evTagsReturning reads them, kept as SQLite returned them so the
// event rows store exactly what INSERT ... SELECT would.
type evTags struct {
	flowID, namespace, instanceTag any
	emptyFlow                      bool
}

// dest returns the scan destinations for evTagsReturning.
func (t *evTags) dest() []any {
	return []any{&t.flowID, &t.emptyFlow, &t.namespace, &t.instanceTag}
}

// flow returns flow_id as it must be bound.
func (t *evTags) flow() any {
	if t.emptyFlow {
		return []byte{}
	}
	return t.flowID
}

// leaseEventTagged is leaseEvent with the execution's columns already read.
func (w *wtx) leaseEventTagged(id ExecutionID, tags *evTags, leaseID, eventType string) error {
	part, _ := id.key()
	var lid any
	if leaseID != "" {
		lid = leaseID
	}
	if _, err := w.exec(qInsertLeaseEventTagged, id.String(), lid, eventType, w.now, part, tags.namespace, tags.instanceTag); err != nil {
		return err
	}
	w.wake(OutboxLease)
	return nil
}

// completionEventTagged is completionEvent with the execution's columns
// already read.
func (w *wtx) completionEventTagged(id ExecutionID, tags *evTags, outcome string) error {
	part, key := id.key()
	if _, err := w.exec(qInsertCompletionEventTagged, outcome, w.now, part, key, tags.flow(), tags.namespace, tags.instanceTag); err != nil {
		return err
	}
	w.wake(OutboxCompletion)
	return nil
}

// completionEvent records a completion outcome for id.
func (w *wtx) completionEvent(id ExecutionID, outcome string) error {
	part, key := id.key()
	if _, err := w.exec(qInsertCompletionEvent, outcome, w.now, part, key); err != nil {
		return err
	}
	w.wake(OutboxCompletion)
	return nil
}

// operatorEvent records an operator action for id.
func (w *wtx) operatorEvent(id ExecutionID, eventType, details string) error {
	part, key := id.key()
	if _, err := w.exec(qInsertOperatorEvent, id.String(), eventType, details, w.now, part, key); err != nil {
		return err
	}
	w.wake(OutboxOperator)
	return nil
}

// wake schedules one post-commit wake-up of the outbox's subscribers.
func (w *wtx) wake(o Outbox) {
	if w.wakeup[o] {
		return
	}
	w.wakeup[o] = true
	h := w.b.hub()
	w.AfterCommit(func() { h.notify(o) })
}

// eventHub wakes the subscribers of one shared backend after commits.
// Wake-ups carry no data: subscribers re-read the outbox from their
// cursor, so a missed or merged wake-up loses nothing.
type eventHub struct {
	mu     sync.Mutex
	wake   [outboxCount]chan struct{}
	done   chan struct{}
	closed bool
	wg     sync.WaitGroup
}

func newEventHub() *eventHub {
	h := &eventHub{done: make(chan struct{})}
	for i := range h.wake {
		h.wake[i] = make(chan struct{})
	}
	return h
}

// hub returns the shared hub, creating it on first use; the last Close of
// the backend stops every subscription. A hub first asked for after that
// Close is born closed, so Subscribe refuses instead of starting a
// subscription nothing would stop.
func (b *Backend) hub() *eventHub {
	in := b.in
	in.hubOnce.Do(func() {
		in.hub = newEventHub()
		if !in.onClose(func(context.Context) { in.hub.close() }) {
			in.hub.close()
		}
	})
	return in.hub
}

// waitChan returns a channel closed by the next notify of o.
func (h *eventHub) waitChan(o Outbox) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.wake[o]
}

func (h *eventHub) notify(o Outbox) {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.wake[o])
	h.wake[o] = make(chan struct{})
}

func (h *eventHub) close() {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// SubscribeOption tunes Subscribe.
type SubscribeOption func(*subscribeConfig)

type subscribeConfig struct {
	poll   time.Duration
	buffer int
	batch  int
}

// DefaultEventPollInterval is how often a subscription re-reads its outbox
// without a wake-up, to see rows committed by other processes.
const DefaultEventPollInterval = 250 * time.Millisecond

// WithPollInterval sets the subscription's poll interval (default
// DefaultEventPollInterval).
func WithPollInterval(d time.Duration) SubscribeOption {
	return func(c *subscribeConfig) {
		if d > 0 {
			c.poll = d
		}
	}
}

// WithBuffer sets the capacity of the returned channel (default 64).
func WithBuffer(n int) SubscribeOption {
	return func(c *subscribeConfig) {
		if n >= 0 {
			c.buffer = n
		}
	}
}

// Subscribe follows an outbox: it first delivers every row with event_id >
// afterEventID, then new rows as they commit, in event_id order, each
// exactly once. Commits through any handle of this backend in this process
// wake it at once; rows written by other processes are picked up by a
// periodic poll. The channel closes when ctx ends or the backend's last
// handle closes; after that Close, Subscribe returns a KindUnavailable
// error (code "closed") and starts nothing.
func (b *Backend) Subscribe(ctx context.Context, o Outbox, afterEventID int64, opts ...SubscribeOption) (<-chan Event, error) {
	if o <= 0 || o >= outboxCount {
		return nil, validation("subscribe", "invalid_input", "unknown outbox %d", int(o))
	}
	cfg := subscribeConfig{poll: DefaultEventPollInterval, buffer: 64, batch: 256}
	for _, f := range opts {
		f(&cfg)
	}
	h := b.hub()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, &Error{Kind: KindUnavailable, Op: "subscribe", Code: "closed", Msg: "backend is closed"}
	}
	h.wg.Add(1)
	h.mu.Unlock()
	out := make(chan Event, cfg.buffer)
	go b.runSubscription(ctx, h, o, afterEventID, cfg, out)
	return out, nil
}

func (b *Backend) runSubscription(ctx context.Context, h *eventHub, o Outbox, cursor int64, cfg subscribeConfig, out chan<- Event) {
	defer h.wg.Done()
	defer close(out)
	ticker := time.NewTicker(cfg.poll)
	defer ticker.Stop()
	for {
		// Take the wake channel before reading, so a commit that lands
		// after the read still wakes the next wait.
		wake := h.waitChan(o)
		evs, err := b.readOutbox(ctx, o, cursor, cfg.batch)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			b.in.opts.Logger.Debug("subscription read failed", "outbox", o.String(), "err", err)
		}
		for _, ev := range evs {
			select {
			case out <- ev:
				cursor = ev.EventID
			case <-ctx.Done():
				return
			case <-h.done:
				return
			}
		}
		if err == nil && len(evs) == cfg.batch {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-h.done:
			return
		case <-wake:
		case <-ticker.C:
		}
	}
}

// readOutbox reads up to limit rows after cursor, in event_id order.
func (b *Backend) readOutbox(ctx context.Context, o Outbox, cursor int64, limit int) ([]Event, error) {
	var q string
	switch o {
	case OutboxCompletion:
		q = `SELECT event_id, partition_key, execution_id, outcome, NULL, NULL, namespace, instance_tag, occurred_at_ms
FROM ff_completion_event WHERE event_id > ? ORDER BY event_id LIMIT ?`
	case OutboxLease:
		q = `SELECT event_id, partition_key, execution_id, event_type, lease_id, NULL, namespace, instance_tag, occurred_at_ms
FROM ff_lease_event WHERE event_id > ? ORDER BY event_id LIMIT ?`
	case OutboxSignal:
		q = `SELECT event_id, partition_key, execution_id, 'delivered', NULL,
  json_object('signal_id', signal_id, 'waitpoint_id', waitpoint_id, 'source_identity', source_identity),
  namespace, instance_tag, delivered_at_ms
FROM ff_signal_event WHERE event_id > ? ORDER BY event_id LIMIT ?`
	default:
		q = `SELECT event_id, partition_key, execution_id, event_type, NULL, details, namespace, instance_tag, occurred_at_ms
FROM ff_operator_event WHERE event_id > ? ORDER BY event_id LIMIT ?`
	}
	rows, err := b.in.reader.QueryContext(ctx, q, cursor, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var evs []Event
	for rows.Next() {
		var (
			ev                      Event
			part                    int64
			eid                     any
			lease, details, ns, tag sql.NullString
		)
		if err := rows.Scan(&ev.EventID, &part, &eid, &ev.Type, &lease, &details, &ns, &tag, &ev.OccurredAtMS); err != nil {
			return nil, err
		}
		switch v := eid.(type) {
		case []byte:
			if o == OutboxCompletion {
				id, err := execIDFromRow(part, v)
				if err != nil {
					return nil, err
				}
				ev.ExecutionID = id.String()
			} else {
				ev.ExecutionID = string(v)
			}
		case string:
			ev.ExecutionID = v
		}
		ev.Outbox = o
		ev.LeaseID, ev.Details, ev.Namespace, ev.InstanceTag = lease.String, details.String, ns.String, tag.String
		evs = append(evs, ev)
	}
	return evs, rows.Err()
}
