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
	var (
		lanesCSV, capsCSV      string
		ttl, registered, beat  int64
		expires, registrations int64
	)
	if err := b.ReaderDB().QueryRow(`SELECT lanes, capabilities_csv, liveness_ttl_ms, registered_at_ms, last_heartbeat_ms,
		last_heartbeat_ms + liveness_ttl_ms, (SELECT count(*) FROM ff_worker_registry) FROM ff_worker_registry WHERE namespace = 'ns'`).
		Scan(&lanesCSV, &capsCSV, &ttl, &registered, &beat, &expires, &registrations); err != nil || registrations != 1 {
		t.Fatalf("registrations = %d, %v", registrations, err)
	}
	if lanesCSV != "bulk,default" || capsCSV != "arm64,gpu" || ttl != 2000 || registered != budT0 || beat != budT0+10 || expires != budT0+2010 {
		t.Fatalf("worker row = %q %q ttl %d registered %d heartbeat %d expires %d", lanesCSV, capsCSV, ttl, registered, beat, expires)
	}
	if ev := wrkEvents(t, b, "ns", "i1"); !slices.Equal(ev, []string{"registered@0", "registered@10"}) {
		t.Fatalf("events = %v", ev)
	}
	// The same instance id under another worker id is refused.
	_, err := b.RegisterWorker(ctx, backend.RegisterWorkerArgs{Namespace: "ns", WorkerID: "other", WorkerInstanceID: "i1", LivenessTTLMS: 5})
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
	var survivors []string
	rows, err := b.ReaderDB().Query(`SELECT worker_instance_id FROM ff_worker_registry WHERE namespace = 'ns'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var inst string
		if err := rows.Scan(&inst); err != nil {
			t.Fatal(err)
		}
		survivors = append(survivors, inst)
	}
	if !slices.Equal(survivors, []string{"long"}) {
		t.Fatalf("survivors = %v", survivors)
	}
}
