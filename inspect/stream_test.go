package inspect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/inspect"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/render"
)

const streamT0 = int64(1_800_000_000_000)

// streamExec is the fixed execution of the stream goldens.
var streamExec = "{fp:3}:6f0d2c1e-7b7a-4c2e-9d8e-5a1b2c3d4e5f"

// streamDB is a database with one claimed execution that wrote a few
// frames, a summary and a progress report, on a fixed clock.
func streamDB(t *testing.T) (*backend.Backend, *testdb.Clock, *backend.Lease) {
	t.Helper()
	ctx := context.Background()
	clock := testdb.NewClock(streamT0)
	b := testdb.OpenMemory(t, testdb.WithClock(clock.Now))
	id, err := backend.ParseExecutionID(streamExec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{ExecutionID: id, Namespace: "ns", LaneID: "default",
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
	if err := b.UpdateProgress(ctx, l.Handle, 33, "one of three"); err != nil {
		t.Fatal(err)
	}
	return b, clock, l
}

func TestStreamGolden(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _, l := streamDB(t)
	if err := b.Complete(ctx, l.Handle, nil); err != nil {
		t.Fatal(err)
	}
	for _, asJSON := range []bool{false, true} {
		var out bytes.Buffer
		p := inspect.Printer{W: &out, JSON: asJSON, Painter: render.Painter{}, NowMS: streamT0, Zone: time.UTC}
		r, err := inspect.Stream(ctx, b.ReaderDB(), streamExec, -1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Stream(r); err != nil {
			t.Fatal(err)
		}
		name := "stream"
		if asJSON {
			name += ".json"
		}
		golden(t, name, out.String())
	}
	// Another attempt reads empty and open; an unknown execution is an error.
	r, err := inspect.Stream(ctx, b.ReaderDB(), streamExec, 4, 0)
	if err != nil || len(r.Frames) != 0 || r.Closed() {
		t.Fatalf("attempt 4 = %+v, %v", r, err)
	}
	if _, err := inspect.Stream(ctx, b.ReaderDB(), "{fp:3}:00000000-0000-4000-8000-000000000000", -1, 0); err == nil {
		t.Fatal("unknown execution: no error")
	}
}

// TestStreamFollow: the follow hands over frames appended after the first
// read and ends once the stream closes; a cancelled follow ends too.
func TestStreamFollow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _, l := streamDB(t)
	r, err := inspect.Stream(ctx, b.ReaderDB(), streamExec, -1, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 16)
	done := make(chan error, 1)
	go func() {
		done <- inspect.FollowStream(ctx, b.ReaderDB(), r, time.Millisecond, func(fs []inspect.StreamFrame) error {
			for _, f := range fs {
				got <- f.Payload
			}
			return nil
		})
	}()
	if _, err := b.AppendFrame(ctx, l.Handle, backend.AppendFrameArgs{FrameType: "stdout", Payload: []byte("late")}); err != nil {
		t.Fatal(err)
	}
	if p := <-got; p != "late" {
		t.Fatalf("followed %q", p)
	}
	if err := b.Complete(ctx, l.Handle, nil); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil || !r.Closed() || *r.ClosedReason != backend.StreamClosedSuccess {
		t.Fatalf("follow ended with %v, closed %v", err, r.ClosedReason)
	}
	var out bytes.Buffer
	if err := (inspect.Printer{W: &out, Zone: time.UTC}).StreamEnd(r); err != nil || !strings.HasPrefix(out.String(), "stream closed attempt_success at ") {
		t.Fatalf("end line %q, %v", out.String(), err)
	}

	cctx, cancel := context.WithCancel(ctx)
	open, err := inspect.Stream(ctx, b.ReaderDB(), streamExec, 9, 0)
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() {
		ended <- inspect.FollowStream(cctx, b.ReaderDB(), open, time.Millisecond, func([]inspect.StreamFrame) error { return nil })
	}()
	cancel()
	if err := <-ended; err != nil {
		t.Fatal(err)
	}
}

// TestExecutionProgress: inspect execution shows the worker's progress.
func TestExecutionProgress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _, _ := streamDB(t)
	d, err := inspect.Execution(ctx, b.ReaderDB(), streamExec, streamT0)
	if err != nil {
		t.Fatal(err)
	}
	if d.Progress == nil || *d.Progress != (inspect.Progress{Pct: 33, Message: "one of three", UpdatedAtMS: streamT0 + 8}) {
		t.Fatalf("progress = %+v", d.Progress)
	}
	var text, js bytes.Buffer
	inspect.Printer{W: &text, Zone: time.UTC}.Execution(d)
	if !strings.Contains(text.String(), "progress  33% one of three (at ") {
		t.Fatalf("text lacks progress:\n%s", text.String())
	}
	inspect.Printer{W: &js, JSON: true, Zone: time.UTC}.Execution(d)
	var m struct{ Progress map[string]any }
	if json.Unmarshal(js.Bytes(), &m); m.Progress["pct"] != float64(33) {
		t.Fatalf("json progress = %v", m.Progress)
	}
}
