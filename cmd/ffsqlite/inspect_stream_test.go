package main

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// inspStreamDB writes the stream of inspect's stream golden files (the
// same execution, frames and clock as inspect/stream_test.go) into a
// database file, completes it and closes the file.
func inspStreamDB(t *testing.T) (path, id string, t0 int64) {
	t.Helper()
	ctx := context.Background()
	t0, id = 1_800_000_000_000, "{fp:3}:6f0d2c1e-7b7a-4c2e-9d8e-5a1b2c3d4e5f"
	path = filepath.Join(t.TempDir(), "stream.db")
	clock := testdb.NewClock(t0)
	b := testdb.OpenPath(t, path, testdb.WithClock(clock.Now))
	eid, err := backend.ParseExecutionID(id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{ExecutionID: eid, Namespace: "ns", LaneID: "default",
		ExecutionKind: "task", InputPayload: []byte(`{}`), CreatorIdentity: "t"}); err != nil {
		t.Fatal(err)
	}
	l, err := b.Claim(ctx, backend.ClaimArgs{WorkerID: "w", WorkerInstanceID: "w-1", LaneID: "default", LeaseTTLMS: 60_000})
	if err != nil || l == nil {
		t.Fatalf("claim: %v, %v", l, err)
	}
	for _, a := range []backend.AppendFrameArgs{
		{FrameType: "stdout", Payload: []byte("step 1\nok")},
		{FrameType: "event", Payload: []byte(`{"k":1}`), CorrelationID: "req-7"},
		{FrameType: "summary", Mode: backend.ModeSummary, Payload: []byte(`{"done":1,"total":3}`)},
		{FrameType: "live", Mode: backend.ModeBestEffort, Payload: []byte("tick")},
	} {
		clock.Advance(2 * time.Millisecond)
		if _, err := b.AppendFrame(ctx, l.Handle, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Complete(ctx, l.Handle, nil); err != nil {
		t.Fatal(err)
	}
	b.Close(ctx)
	return path, id, t0
}

func TestInspectStream(t *testing.T) {
	path, id, t0 := inspStreamDB(t)
	now := strconv.FormatInt(t0, 10)
	for _, asJSON := range []bool{false, true} {
		args := []string{"inspect", "stream", "--db", path, "--now-ms", now, "--limit", "0", id}
		name := "stream"
		if asJSON {
			args = append(args, "--json")
			name += ".json"
		}
		out, errs, code := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		inspGolden(t, name, out)
	}
	// --follow on a closed stream prints its frames and how it closed, then ends.
	out, errs, code := runCLI(t, "inspect", "stream", "--db", path, "--now-ms", now, "--follow", id)
	if code != 0 || strings.Count(out, "\n") != 5 || !strings.HasSuffix(out, "stream closed attempt_success at 2027-01-15 08:00:00 (in 8ms)\n") {
		t.Fatalf("--follow: exit %d %q %s", code, out, errs)
	}
	out, errs, code = runCLI(t, "inspect", "stream", "--db", path, "--follow", "--json", id)
	if code != 0 || !strings.HasSuffix(out, `{"closed_at_ms":1800000000008,"closed_reason":"attempt_success"}`+"\n") {
		t.Fatalf("--follow --json: exit %d %q %s", code, out, errs)
	}
	// Another attempt: empty and open.
	if out, _, code := runCLI(t, "inspect", "stream", "--db", path, "--attempt", "3", id); code != 0 || !strings.Contains(out, "stream     open") {
		t.Fatalf("--attempt 3: exit %d %q", code, out)
	}
	for _, bad := range [][]string{{"--attempt", "-2", id}, {"not-an-id"}, {}} {
		if _, errs, code := runCLI(t, append([]string{"inspect", "stream", "--db", path}, bad...)...); code == 0 {
			t.Errorf("%v: exit 0 (%s)", bad, errs)
		}
	}
}
