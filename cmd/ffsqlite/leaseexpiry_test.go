package main

import (
	"context"
	"strings"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
)

// seedExpiredLease creates and claims one execution whose lease expired
// long ago.
func seedExpiredLease(t *testing.T) func(*backend.Backend) {
	return func(b *backend.Backend) {
		ctx := context.Background()
		id := backend.NewExecutionID(0)
		if _, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{ExecutionID: id, Namespace: "ns", LaneID: "default",
			ExecutionKind: "task", InputPayload: []byte(`{}`), CreatorIdentity: "t"}); err != nil {
			t.Fatal(err)
		}
		if l, err := b.Claim(ctx, backend.ClaimArgs{WorkerID: "w", WorkerInstanceID: "w-1", LaneID: "default"}); err != nil || l == nil {
			t.Fatalf("claim: %v", err)
		}
		scanExec(t, b, `UPDATE ff_attempt SET lease_expires_at_ms = 1`)
	}
}

// leaseState reads the execution's lifecycle and ownership from the file.
func leaseState(t *testing.T, path string) string {
	t.Helper()
	ctx := context.Background()
	b, err := backend.Open(ctx, path, backend.Options{Logger: quietLogger(), ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	var s string
	if err := b.ReaderDB().QueryRow(`SELECT lifecycle_phase || '/' || ownership_state FROM ff_exec_core`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// Not parallel: it sets environment variables. Flag > env > default
// (requeue), and a bad value is a usage error.
func TestScanLeaseExpiryMode(t *testing.T) {
	for _, c := range []struct {
		name, env string
		args      []string
		want      string
	}{
		{"default requeues", "", nil, "runnable/unowned"},
		{"flag marks", "", []string{"--lease-expiry-mode", "reclaimable"}, "active/lease_expired_reclaimable"},
		{"env marks", "reclaimable", nil, "active/lease_expired_reclaimable"},
		{"flag beats env", "reclaimable", []string{"--lease-expiry-mode", "requeue"}, "runnable/unowned"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(backend.LeaseExpiryModeEnv, c.env)
			path := scanDB(t, seedExpiredLease(t))
			_, errOut, code := runCLI(t, append([]string{"scan", "--db", path, "--once", "--only", "lease-expiry"}, c.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if got := leaseState(t, path); got != c.want {
				t.Fatalf("state %s, want %s", got, c.want)
			}
		})
	}
	path := scanDB(t, nil)
	t.Setenv(backend.LeaseExpiryModeEnv, "sometimes")
	if _, errOut, code := runCLI(t, "scan", "--db", path, "--once"); code != exitUsage ||
		!strings.Contains(errOut, `invalid lease expiry mode "sometimes"`) || !strings.Contains(errOut, backend.LeaseExpiryModeEnv) {
		t.Fatalf("bad env: exit %d, %s", code, errOut)
	}
	t.Setenv(backend.LeaseExpiryModeEnv, "")
	if _, errOut, code := runCLI(t, "scan", "--db", path, "--once", "--lease-expiry-mode", "x"); code != exitUsage ||
		!strings.Contains(errOut, "--lease-expiry-mode requeue|reclaimable") {
		t.Fatalf("bad flag: exit %d, %s", code, errOut)
	}
	if out, _, _ := runCLI(t, "serve", "--help"); !strings.Contains(out, "--lease-expiry-mode") {
		t.Fatal("serve --help does not document --lease-expiry-mode")
	}
}
