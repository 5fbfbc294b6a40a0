package backend_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
)

func wrkRegister(t testing.TB, b *backend.Backend, ns, inst string, ttl uint64) backend.RegisterWorkerOutcome {
	t.Helper()
	out, err := b.RegisterWorker(context.Background(), backend.RegisterWorkerArgs{
		Namespace: ns, WorkerID: "w-" + inst, WorkerInstanceID: inst,
		Lanes: []string{"default", "bulk", "default"}, Capabilities: []string{"gpu", "arm64"}, LivenessTTLMS: ttl,
	})
	if err != nil {
		t.Fatalf("RegisterWorker(%s/%s): %v", ns, inst, err)
	}
	return out
}

// wrkEvents lists an instance's audit events as "kind@at[:reason]".
func wrkEvents(t testing.TB, b *backend.Backend, ns, inst string) []string {
	t.Helper()
	rows, err := b.ReaderDB().Query(`SELECT event_kind, event_at_ms, coalesce(reason, '') FROM ff_worker_registry_event
		WHERE namespace = ? AND worker_instance_id = ? ORDER BY event_at_ms, event_kind`, ns, inst)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var kind, reason string
		var at int64
		if err := rows.Scan(&kind, &at, &reason); err != nil {
			t.Fatal(err)
		}
		s := fmt.Sprintf("%s@%d", kind, at-budT0)
		if reason != "" {
			s += ":" + reason
		}
		out = append(out, s)
	}
	return out
}

func TestWorkerRegisterRefresh(t *testing.T) {
	t.Parallel()
	b, clock := budEnv(t, nil)
	ctx := context.Background()
	if out := wrkRegister(t, b, "ns", "i1", 1000); out != backend.WorkerRegistered {
		t.Fatalf("first register = %s", out)
	}
	clock.Advance(10 * time.Millisecond)
	if out := wrkRegister(t, b, "ns", "i1", 2000); out != backend.WorkerRefreshed {
		t.Fatalf("second register = %s", out)
	}
	list, err := b.ListWorkers(ctx, backend.ListWorkersArgs{Namespace: "ns"})
	if err != nil || len(list.Workers) != 1 {
		t.Fatalf("list = %+v, %v", list, err)
	}
	w := list.Workers[0]
	if !slices.Equal(w.Lanes, []string{"bulk", "default"}) || !slices.Equal(w.Capabilities, []string{"arm64", "gpu"}) ||
		w.LivenessTTLMS != 2000 || w.RegisteredAtMS != budT0 || w.LastHeartbeatMS != budT0+10 || w.ExpiresAtMS != budT0+2010 {
		t.Fatalf("worker = %+v", w)
	}
	var lanes, caps string
	b.ReaderDB().QueryRow(`SELECT lanes, capabilities_csv FROM ff_worker_registry`).Scan(&lanes, &caps)
	if lanes != "bulk,default" || caps != "arm64,gpu" {
		t.Fatalf("stored CSV = %q %q", lanes, caps)
	}
	if ev := wrkEvents(t, b, "ns", "i1"); !slices.Equal(ev, []string{"registered@0", "registered@10"}) {
		t.Fatalf("events = %v", ev)
	}
	// The same instance id under another worker id is refused.
	_, err = b.RegisterWorker(ctx, backend.RegisterWorkerArgs{Namespace: "ns", WorkerID: "other", WorkerInstanceID: "i1", LivenessTTLMS: 5})
	if !errors.Is(err, &backend.Error{Kind: backend.KindValidation, Code: "instance_id_reassigned"}) {
		t.Fatalf("reassign: %v", err)
	}
	// Another namespace is another registration.
	if out := wrkRegister(t, b, "ns2", "i1", 1000); out != backend.WorkerRegistered {
		t.Fatalf("other namespace = %s", out)
	}
}

func TestWorkerRegisterValidation(t *testing.T) {
	t.Parallel()
	b, _ := budEnv(t, nil)
	ok := backend.RegisterWorkerArgs{Namespace: "ns", WorkerID: "w", WorkerInstanceID: "i", LivenessTTLMS: 10}
	for name, mut := range map[string]func(*backend.RegisterWorkerArgs){
		"empty worker id":     func(a *backend.RegisterWorkerArgs) { a.WorkerID = "" },
		"space in instance":   func(a *backend.RegisterWorkerArgs) { a.WorkerInstanceID = "a b" },
		"long worker id":      func(a *backend.RegisterWorkerArgs) { a.WorkerID = strings.Repeat("x", 257) },
		"zero ttl":            func(a *backend.RegisterWorkerArgs) { a.LivenessTTLMS = 0 },
		"comma in lane":       func(a *backend.RegisterWorkerArgs) { a.Lanes = []string{"a,b"} },
		"long lane":           func(a *backend.RegisterWorkerArgs) { a.Lanes = []string{strings.Repeat("l", 65)} },
		"space in capability": func(a *backend.RegisterWorkerArgs) { a.Capabilities = []string{"has space"} },
		"empty capability":    func(a *backend.RegisterWorkerArgs) { a.Capabilities = []string{""} },
		"empty namespace":     func(a *backend.RegisterWorkerArgs) { a.Namespace = "" },
	} {
		a := ok
		mut(&a)
		if _, err := b.RegisterWorker(context.Background(), a); !errors.Is(err, backend.ErrValidation) {
			t.Errorf("%s: err = %v, want validation", name, err)
		}
	}
	if _, err := b.RegisterWorker(context.Background(), ok); err != nil {
		t.Fatalf("valid args: %v", err)
	}
}

func TestWorkerHeartbeat(t *testing.T) {
	t.Parallel()
	b, clock := budEnv(t, nil)
	ctx := context.Background()
	hb := func() backend.HeartbeatWorkerResult {
		t.Helper()
		r, err := b.HeartbeatWorker(ctx, backend.HeartbeatWorkerArgs{Namespace: "ns", WorkerInstanceID: "i1"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := hb(); r.Outcome != backend.HeartbeatNotRegistered {
		t.Fatalf("unknown worker heartbeat = %+v", r)
	}
	wrkRegister(t, b, "ns", "i1", 1000)
	clock.Advance(999 * time.Millisecond)
	if r := hb(); r.Outcome != backend.HeartbeatRefreshed || r.NextExpiryMS != clock.MS()+1000 {
		t.Fatalf("live heartbeat = %+v", r)
	}
	clock.Advance(1000 * time.Millisecond) // exactly at expiry: expired
	if r := hb(); r.Outcome != backend.HeartbeatNotRegistered {
		t.Fatalf("heartbeat at expiry = %+v", r)
	}
	var last int64
	b.ReaderDB().QueryRow(`SELECT last_heartbeat_ms FROM ff_worker_registry`).Scan(&last)
	if last != budT0+999 {
		t.Fatalf("expired heartbeat moved last_heartbeat to %d", last-budT0)
	}
	if ev := wrkEvents(t, b, "ns", "i1"); !slices.Equal(ev, []string{"registered@0", "heartbeat@999"}) {
		t.Fatalf("events = %v", ev)
	}
}

func TestWorkerMarkDead(t *testing.T) {
	t.Parallel()
	b, _ := budEnv(t, nil)
	ctx := context.Background()
	wrkRegister(t, b, "ns", "i1", 1000)
	for name, reason := range map[string]string{
		"too long": strings.Repeat("r", backend.MarkWorkerDeadReasonMaxBytes+1),
		"newline":  "crashed\nhard",
		"nul":      "a\x00b",
	} {
		if _, err := b.MarkWorkerDead(ctx, backend.MarkWorkerDeadArgs{Namespace: "ns", WorkerInstanceID: "i1", Reason: reason}); !errors.Is(err, backend.ErrValidation) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	reason := strings.Repeat("é", backend.MarkWorkerDeadReasonMaxBytes/2) // exactly 256 bytes
	out, err := b.MarkWorkerDead(ctx, backend.MarkWorkerDeadArgs{Namespace: "ns", WorkerInstanceID: "i1", Reason: reason})
	if err != nil || out != backend.WorkerMarked {
		t.Fatalf("mark = %s, %v", out, err)
	}
	out, err = b.MarkWorkerDead(ctx, backend.MarkWorkerDeadArgs{Namespace: "ns", WorkerInstanceID: "i1", Reason: "again"})
	if err != nil || out != backend.WorkerNotRegistered {
		t.Fatalf("second mark = %s, %v", out, err)
	}
	if ev := wrkEvents(t, b, "ns", "i1"); !slices.Equal(ev, []string{"marked_dead@0:" + reason, "registered@0"}) {
		t.Fatalf("events = %v", ev)
	}
}

func TestWorkerList(t *testing.T) {
	t.Parallel()
	b, _ := budEnv(t, nil)
	ctx := context.Background()
	for _, ns := range []string{"b", "a"} {
		for i := range 3 {
			wrkRegister(t, b, ns, fmt.Sprintf("i%d", i), 1000)
		}
	}
	var got []string
	var after *backend.WorkerCursor
	for pages := 0; ; pages++ {
		res, err := b.ListWorkers(ctx, backend.ListWorkersArgs{After: after, Limit: 4})
		if err != nil || pages > 3 {
			t.Fatalf("page %d: %v", pages, err)
		}
		for _, w := range res.Workers {
			got = append(got, w.Namespace+"/"+w.WorkerInstanceID)
		}
		if res.Next == nil {
			break
		}
		after = res.Next
	}
	if want := []string{"a/i0", "a/i1", "a/i2", "b/i0", "b/i1", "b/i2"}; !slices.Equal(got, want) {
		t.Fatalf("all namespaces = %v", got)
	}
	res, err := b.ListWorkers(ctx, backend.ListWorkersArgs{Namespace: "b", After: &backend.WorkerCursor{Namespace: "b", WorkerInstanceID: "i0"}})
	if err != nil || len(res.Workers) != 2 || res.Workers[0].WorkerInstanceID != "i1" || res.Next != nil {
		t.Fatalf("namespace page = %+v, %v", res, err)
	}
}

func TestWorkerSweep(t *testing.T) {
	t.Parallel()
	b, clock := budEnv(t, nil)
	ctx := context.Background()
	now := clock.MS()
	wrkRegister(t, b, "ns", "short", 100) // expires at +100
	wrkRegister(t, b, "ns", "mid", 200)   // expires at +200
	wrkRegister(t, b, "ns", "long", 500)  // expires at +500
	wrkRegister(t, b, "ns", "later", 300) // expires at +300

	// Boundary: exactly at expiry is not swept.
	if rep, err := b.SweepExpiredWorkers(ctx, now+100, 0); err != nil || rep != (backend.SweepReport{}) {
		t.Fatalf("sweep at expiry = %+v, %v", rep, err)
	}
	// Limit: the longest-expired go first.
	if rep, err := b.SweepExpiredWorkers(ctx, now+301, 1); err != nil || rep.Processed != 1 {
		t.Fatalf("limited sweep = %+v, %v", rep, err)
	}
	if ev := wrkEvents(t, b, "ns", "short"); !slices.Equal(ev, []string{"registered@0", "ttl_swept@301"}) {
		t.Fatalf("short events = %v", ev)
	}
	if rep, err := b.SweepExpiredWorkers(ctx, now+301, 0); err != nil || rep.Processed != 2 {
		t.Fatalf("sweep = %+v, %v", rep, err)
	}
	// Idempotent.
	if rep, err := b.SweepExpiredWorkers(ctx, now+301, 0); err != nil || rep != (backend.SweepReport{}) {
		t.Fatalf("repeat sweep = %+v, %v", rep, err)
	}
	res, _ := b.ListWorkers(ctx, backend.ListWorkersArgs{Namespace: "ns"})
	if len(res.Workers) != 1 || res.Workers[0].WorkerInstanceID != "long" {
		t.Fatalf("survivors = %+v", res.Workers)
	}
	// A swept worker's heartbeat is refused; it must register again.
	r, _ := b.HeartbeatWorker(ctx, backend.HeartbeatWorkerArgs{Namespace: "ns", WorkerInstanceID: "mid"})
	if r.Outcome != backend.HeartbeatNotRegistered {
		t.Fatalf("heartbeat after sweep = %+v", r)
	}
}
