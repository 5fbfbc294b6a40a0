package backend_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// streamAppend appends a durable frame and fails the test on error.
func streamAppend(t testing.TB, b *backend.Backend, l *backend.Lease, payload string) *backend.AppendResult {
	t.Helper()
	r, err := b.AppendFrame(engCtx, l.Handle, backend.AppendFrameArgs{FrameType: "stdout", Payload: []byte(payload)})
	if err != nil {
		t.Fatalf("AppendFrame(%q): %v", payload, err)
	}
	return r
}

// streamRead reads attempt idx's whole stream.
func streamRead(t testing.TB, b *backend.Backend, id backend.ExecutionID, idx uint32) *backend.StreamFrames {
	t.Helper()
	s, err := b.ReadStream(engCtx, id, idx, backend.StreamStart, backend.StreamEnd, backend.MaxStreamReadLimit)
	if err != nil {
		t.Fatalf("ReadStream: %v", err)
	}
	return s
}

// streamIDs renders frame ids and payloads as "id=payload,…".
func streamIDs(s *backend.StreamFrames) string {
	var out []string
	for _, f := range s.Frames {
		var fields struct{ Payload string }
		json.Unmarshal(f.Fields, &fields)
		out = append(out, f.ID+"="+fields.Payload)
	}
	return strings.Join(out, ",")
}

func TestStreamAppendOrderAndFields(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		id := engCreate(t, b)
		l := engClaim(t, b)
		for i, p := range []string{"a", "b", "c"} {
			r := streamAppend(t, b, l, p)
			if want := fmt.Sprintf("%d-%d", engT0, i); r.StreamID != want || r.FrameCount != int64(i+1) || r.SummaryVersion != nil {
				t.Fatalf("append %d = %+v; want id %s count %d", i, r, want, i+1)
			}
		}
		clock.Advance(5 * time.Millisecond)
		r, err := b.AppendFrame(engCtx, l.Handle, backend.AppendFrameArgs{FrameType: "event", Payload: []byte("<d>&\xff"),
			CorrelationID: "c-1"})
		if err != nil || r.StreamID != fmt.Sprintf("%d-0", engT0+5) || r.FrameCount != 4 {
			t.Fatalf("append = %+v, %v", r, err)
		}
		s := streamRead(t, b, id, 0)
		want := fmt.Sprintf("%[1]d-0=a,%[1]d-1=b,%[1]d-2=c,%[2]d-0=<d>&\uFFFD", engT0, engT0+5)
		if got := streamIDs(s); got != want || s.Count != 4 || s.Closed() {
			t.Fatalf("stream = %s (count %d, closed %v); want %s", got, s.Count, s.Closed(), want)
		}
		wantFields := fmt.Sprintf(`{"frame_type":"event","ts":"%d","payload":"<d>&%s","encoding":"utf8","source":"worker","mode":"durable","correlation_id":"c-1"}`, engT0+5, "\uFFFD")
		if got := string(s.Frames[3].Fields); got != wantFields {
			t.Fatalf("fields = %s\nwant     %s", got, wantFields)
		}
		// A clock that goes back never reorders ids.
		clock.Advance(-time.Second)
		if r := streamAppend(t, b, l, "e"); r.StreamID != fmt.Sprintf("%d-1", engT0+5) {
			t.Fatalf("after a clock step back: id %s", r.StreamID)
		}
	})
}

func TestStreamCursorPagination(t *testing.T) {
	t.Parallel()
	b, clock := engOpen(t, true)
	id := engCreate(t, b)
	l := engClaim(t, b)
	for i := range 5 {
		streamAppend(t, b, l, fmt.Sprint(i))
		if i%2 == 1 {
			clock.Advance(time.Millisecond)
		}
	}
	// ids: T-0 T-1 (T+1)-0 (T+1)-1 (T+2)-0
	T := engT0
	c := func(ms, seq int64) backend.StreamCursor { return backend.StreamCursor{MS: ms, Seq: seq} }
	cases := []struct {
		name     string
		from, to backend.StreamCursor
		limit    int
		want     string
	}{
		{"first page", backend.StreamStart, backend.StreamEnd, 2, fmt.Sprintf("%d-0=0,%d-1=1", T, T)},
		{"inclusive from", c(T, 1), backend.StreamEnd, 2, fmt.Sprintf("%d-1=1,%d-0=2", T, T+1)},
		{"inclusive to", c(T+1, 0), c(T+1, 1), 10, fmt.Sprintf("%d-0=2,%d-1=3", T+1, T+1)},
		{"one ms", c(T+1, 0), c(T+1, 1<<62), 10, fmt.Sprintf("%d-0=2,%d-1=3", T+1, T+1)},
		{"empty span", c(T+3, 0), backend.StreamEnd, 10, ""},
	}
	for _, tc := range cases {
		s, err := b.ReadStream(engCtx, id, 0, tc.from, tc.to, tc.limit)
		if err != nil || streamIDs(s) != tc.want {
			t.Errorf("%s: %s, %v; want %s", tc.name, streamIDs(s), err, tc.want)
		}
	}
	// A tail pages after its cursor, exclusive.
	s, err := b.TailStream(engCtx, id, 0, c(T+1, 0), 2)
	if err != nil || streamIDs(s) != fmt.Sprintf("%d-1=3,%d-0=4", T+1, T+2) {
		t.Fatalf("tail = %s, %v", streamIDs(s), err)
	}
	s, err = b.TailStream(engCtx, id, 0, c(T+2, 0), 50)
	if err != nil || s.Count != 0 || s.Frames == nil || s.Closed() {
		t.Fatalf("tail at the end = %+v, %v", s, err)
	}
	for _, limit := range []int{0, -1, 1001} {
		_, err := b.ReadStream(engCtx, id, 0, backend.StreamStart, backend.StreamEnd, limit)
		engWantCode(t, err, backend.KindValidation, "invalid_input")
	}
	if _, err := b.ReadStream(engCtx, backend.NewExecutionID(7), 0, backend.StreamStart, backend.StreamEnd, 10); backend.KindOf(err) != backend.KindNotFound {
		t.Fatalf("unknown execution: %v", err)
	}
}

func TestStreamCursorParse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in    string
		upper bool
		want  string
		bad   bool
	}{
		{"start", false, "0-0", false},
		{"end", true, "9223372036854775807-9223372036854775807", false},
		{"12", false, "12-0", false},
		{"12", true, "12-9223372036854775807", false},
		{"12-3", false, "12-3", false},
		{"-", false, "", true},
		{"+", true, "", true},
		{"12-", false, "", true},
		{"-3", false, "", true},
		{"a-1", false, "", true},
		{"1-2-3", false, "", true},
		{"", false, "", true},
		{"99999999999999999999", false, "", true},
	}
	for _, tc := range cases {
		c, err := backend.ParseStreamCursor("from", tc.in, tc.upper)
		if tc.bad {
			var ce *backend.CursorError
			if !errors.As(err, &ce) || ce.Field != "from" {
				t.Errorf("%q: err %v; want a CursorError", tc.in, err)
			}
			continue
		}
		if err != nil || c.String() != tc.want {
			t.Errorf("%q: %s, %v; want %s", tc.in, c, err, tc.want)
		}
	}
	for _, in := range []string{"start", "end"} {
		if _, err := backend.ParseTailCursor(in); err != backend.ErrTailCursorNotConcrete {
			t.Errorf("tail %q: %v", in, err)
		}
	}
	if c, err := backend.ParseTailCursor("0-0"); err != nil || c != backend.StreamStart {
		t.Errorf("tail 0-0: %v, %v", c, err)
	}
	if err := backend.CheckTailBlock(30001); err == nil || !strings.Contains(err.Error(), "block_ms exceeds 30000ms ceiling") {
		t.Errorf("block 30001: %v", err)
	}
	if err := backend.CheckTailBlock(30000); err != nil {
		t.Errorf("block 30000: %v", err)
	}
}

// TestStreamPerAttempt: a retry's new attempt gets a stream of its own;
// the failed attempt's stream is closed attempt_failure.
func TestStreamPerAttempt(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, clock *testdb.Clock) {
		id := engCreate(t, b, engPolicy(`{"retry_policy":{"max_retries":1,"backoff":{"type":"fixed","delay_ms":0}}}`))
		l0 := engClaim(t, b)
		streamAppend(t, b, l0, "first")
		if _, err := b.Fail(engCtx, l0.Handle, backend.FailArgs{Class: backend.FailTransient, Reason: "x"}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Millisecond)
		l1 := engClaim(t, b)
		if l1.AttemptIndex != 1 {
			t.Fatalf("attempt %d", l1.AttemptIndex)
		}
		if r := streamAppend(t, b, l1, "second"); r.FrameCount != 1 {
			t.Fatalf("new attempt's count %d", r.FrameCount)
		}
		s0, s1 := streamRead(t, b, id, 0), streamRead(t, b, id, 1)
		if streamIDs(s0) != fmt.Sprintf("%d-0=first", engT0) || s0.ClosedReason != backend.StreamClosedFailure || *s0.ClosedAt != engT0 {
			t.Fatalf("attempt 0 = %s %+v", streamIDs(s0), s0)
		}
		if streamIDs(s1) != fmt.Sprintf("%d-0=second", engT0+1) || s1.Closed() {
			t.Fatalf("attempt 1 = %s %+v", streamIDs(s1), s1)
		}
		// The old handle cannot append to any stream.
		_, err := b.AppendFrame(engCtx, l0.Handle, backend.AppendFrameArgs{FrameType: "x"})
		engWantCode(t, err, backend.KindState, backend.CodeStaleOwnerCannotAppend)
	})
}

// TestStreamCloseReasons: each way an attempt ends closes its stream with
// C4's reason; a suspend leaves it open.
func TestStreamCloseReasons(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		end    func(t *testing.T, b *backend.Backend, clock *testdb.Clock, l *backend.Lease)
		reason string
	}{
		{"complete", func(t *testing.T, b *backend.Backend, _ *testdb.Clock, l *backend.Lease) {
			if err := b.Complete(engCtx, l.Handle, nil); err != nil {
				t.Fatal(err)
			}
		}, backend.StreamClosedSuccess},
		{"terminal fail", func(t *testing.T, b *backend.Backend, _ *testdb.Clock, l *backend.Lease) {
			if _, err := b.Fail(engCtx, l.Handle, backend.FailArgs{Class: backend.FailPermanent, Reason: "x"}); err != nil {
				t.Fatal(err)
			}
		}, backend.StreamClosedFailure},
		{"cancel", func(t *testing.T, b *backend.Backend, _ *testdb.Clock, l *backend.Lease) {
			if _, err := b.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: l.ExecutionID, Reason: "stop"}); err != nil {
				t.Fatal(err)
			}
		}, backend.StreamClosedCancelled},
		{"lease expiry", func(t *testing.T, b *backend.Backend, clock *testdb.Clock, _ *backend.Lease) {
			clock.Advance(11 * time.Second)
			if _, err := b.ExpireLeases(engCtx, clock.MS(), 10); err != nil {
				t.Fatal(err)
			}
		}, backend.StreamClosedLeaseExpired},
		{"deadline", func(t *testing.T, b *backend.Backend, clock *testdb.Clock, l *backend.Lease) {
			engExec(t, b, `UPDATE ff_exec_core SET deadline_at_ms = ?`, clock.MS()+1)
			clock.Advance(2 * time.Millisecond)
			if _, err := b.ExpireDeadlines(engCtx, clock.MS(), 10); err != nil {
				t.Fatal(err)
			}
		}, backend.StreamClosedExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, clock := engOpen(t, true)
			id := engCreate(t, b)
			l := engClaim(t, b)
			streamAppend(t, b, l, "out")
			changed, release := b.StreamChanged(id, 0)
			defer release()
			tc.end(t, b, clock, l)
			<-changed // the close wakes tails
			s := streamRead(t, b, id, 0)
			if s.ClosedReason != tc.reason || s.ClosedAt == nil || s.Count != 1 {
				t.Fatalf("stream = %+v; want closed %s", s, tc.reason)
			}
		})
	}
}

func TestStreamSuspendKeepsItOpen(t *testing.T) {
	t.Parallel()
	b, _ := waitOpen(t, true)
	id := engCreate(t, b)
	l := engClaim(t, b)
	streamAppend(t, b, l, "before")
	if _, err := b.Suspend(engCtx, l.Handle, waitArgs("go")); err != nil {
		t.Fatal(err)
	}
	if s := streamRead(t, b, id, 0); s.Closed() || s.Count != 1 {
		t.Fatalf("suspended stream = %+v", s)
	}
	// Appends need the active execution: suspended refuses them.
	_, err := b.AppendFrame(engCtx, l.Handle, backend.AppendFrameArgs{FrameType: "x"})
	engWantCode(t, err, backend.KindState, backend.CodeStreamClosed)
}

func TestStreamAppendFencing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		setup func(t *testing.T, b *backend.Backend, clock *testdb.Clock, l *backend.Lease) backend.Handle
		code  string
	}{
		{"wrong epoch", func(_ *testing.T, _ *backend.Backend, _ *testdb.Clock, l *backend.Lease) backend.Handle {
			return engRehandle(l, func(p *backend.HandlePayload) { p.LeaseEpoch++ })
		}, backend.CodeStaleOwnerCannotAppend},
		{"wrong lease id", func(_ *testing.T, _ *backend.Backend, _ *testdb.Clock, l *backend.Lease) backend.Handle {
			return engRehandle(l, func(p *backend.HandlePayload) { p.LeaseID = "00000000-0000-4000-8000-000000000000" })
		}, backend.CodeStaleOwnerCannotAppend},
		{"wrong attempt", func(_ *testing.T, _ *backend.Backend, _ *testdb.Clock, l *backend.Lease) backend.Handle {
			return engRehandle(l, func(p *backend.HandlePayload) { p.AttemptIndex++ })
		}, backend.CodeStaleOwnerCannotAppend},
		{"expired", func(_ *testing.T, _ *backend.Backend, clock *testdb.Clock, l *backend.Lease) backend.Handle {
			clock.Advance(10 * time.Second)
			return l.Handle
		}, backend.CodeStaleOwnerCannotAppend},
		{"revoked", func(t *testing.T, b *backend.Backend, _ *testdb.Clock, l *backend.Lease) backend.Handle {
			if _, err := b.RevokeLease(engCtx, backend.RevokeLeaseArgs{ExecutionID: l.ExecutionID}); err != nil {
				t.Fatal(err)
			}
			return l.Handle
		}, backend.CodeStaleOwnerCannotAppend},
		{"completed", func(t *testing.T, b *backend.Backend, _ *testdb.Clock, l *backend.Lease) backend.Handle {
			if err := b.Complete(engCtx, l.Handle, nil); err != nil {
				t.Fatal(err)
			}
			return l.Handle
		}, backend.CodeStreamClosed},
		{"closed, still active", func(t *testing.T, b *backend.Backend, _ *testdb.Clock, l *backend.Lease) backend.Handle {
			engExec(t, b, `UPDATE ff_attempt SET raw_fields = json_set(raw_fields, '$.stream_closed_at_ms', 1, '$.stream_closed_reason', 'lease_expired')`)
			return l.Handle
		}, backend.CodeStreamClosed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, clock := engOpen(t, true)
			id := engCreate(t, b)
			l := engClaim(t, b)
			h := tc.setup(t, b, clock, l)
			before := sqlFrames(t, b)
			_, err := b.AppendFrame(engCtx, h, backend.AppendFrameArgs{FrameType: "x", Payload: []byte("p")})
			engWantCode(t, err, backend.KindState, tc.code)
			if after := sqlFrames(t, b); after != before {
				t.Fatalf("frames %d → %d", before, after)
			}
			_ = id
		})
	}
}

func sqlFrames(t testing.TB, b *backend.Backend) int64 {
	t.Helper()
	var n int64
	if err := b.ReaderDB().QueryRowContext(engCtx, `SELECT count(*) FROM ff_stream_frame`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStreamAppendValidation(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, true)
	engCreate(t, b)
	l := engClaim(t, b)
	cases := []struct {
		name string
		args backend.AppendFrameArgs
		code string
	}{
		{"payload over the limit", backend.AppendFrameArgs{FrameType: "x", Payload: make([]byte, 65537)}, "retention_limit_exceeded"},
		{"empty frame type", backend.AppendFrameArgs{Payload: []byte("x")}, "invalid_frame_type"},
		{"control in frame type", backend.AppendFrameArgs{FrameType: "a\nb"}, "invalid_frame_type"},
		{"unknown mode", backend.AppendFrameArgs{FrameType: "x", Mode: "fast"}, "invalid_input"},
		{"summary not JSON", backend.AppendFrameArgs{FrameType: "x", Mode: "summary", Payload: []byte("not json")}, "invalid_input"},
		{"summary an array", backend.AppendFrameArgs{FrameType: "x", Mode: "summary", Payload: []byte("[1]")}, "invalid_input"},
		{"summary too deep (18 objects; 17 are canonical's limit)", backend.AppendFrameArgs{FrameType: "x", Mode: "summary",
			Payload: []byte(strings.Repeat(`{"a":`, 18) + "1" + strings.Repeat("}", 18))}, "invalid_input"},
		{"ttl on durable", backend.AppendFrameArgs{FrameType: "x", TTLMS: 5}, "invalid_input"},
	}
	for _, tc := range cases {
		_, err := b.AppendFrame(engCtx, l.Handle, tc.args)
		engWantCode(t, err, backend.KindValidation, tc.code)
	}
	if n := sqlFrames(t, b); n != 0 {
		t.Fatalf("%d frames written by refused appends", n)
	}
	// Exactly the limit is accepted; 16 levels are.
	if _, err := b.AppendFrame(engCtx, l.Handle, backend.AppendFrameArgs{FrameType: "x", Payload: make([]byte, 65536)}); err != nil {
		t.Fatal(err)
	}
	deep := strings.Repeat(`{"a":`, 16) + "1" + strings.Repeat("}", 16)
	if _, err := b.AppendFrame(engCtx, l.Handle, backend.AppendFrameArgs{FrameType: "x", Mode: "summary", Payload: []byte(deep)}); err != nil {
		t.Fatal(err)
	}
}

func TestStreamSummary(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, true)
	id := engCreate(t, b)
	l := engClaim(t, b)
	patches := []string{
		`{"status":"running","counts":{"ok":1,"bad":0},"tags":["a"]}`,
		`{"counts":{"ok":2,"bad":null},"note":"__ff_null__","big":12345678901234567890}`,
		`{"tags":"__ff_null__","status":{"phase":"x"}}`,
	}
	for i, p := range patches {
		r, err := b.AppendFrame(engCtx, l.Handle, backend.AppendFrameArgs{FrameType: "summary", Mode: "summary", Payload: []byte(p)})
		if err != nil || r.SummaryVersion == nil || *r.SummaryVersion != int64(i+1) || r.FrameCount != int64(i+1) {
			t.Fatalf("patch %d = %+v, %v", i, r, err)
		}
	}
	s, err := b.GetStreamSummary(engCtx, id, 0)
	want := `{"big":12345678901234567890,"counts":{"ok":2},"note":null,"status":{"phase":"x"},"tags":null}`
	if err != nil || string(s.Document) != want || s.Version != 3 {
		t.Fatalf("summary = %s v%d, %v; want %s", s.Document, s.Version, err, want)
	}
	fr := streamRead(t, b, id, 0)
	if !strings.Contains(string(fr.Frames[2].Fields), `"mode":"summary","summary_version":"3"`) {
		t.Fatalf("summary frame fields %s", fr.Frames[2].Fields)
	}
}

// TestStreamRetention: a durable append trims to the newest 10,000; a
// best-effort append trims only best-effort frames, to the floor of 64
// at a slow rate.
func TestStreamRetention(t *testing.T) {
	t.Parallel()
	b, clock := engOpen(t, true)
	id := engCreate(t, b)
	l := engClaim(t, b)
	// 10,000 stored frames, seeded directly.
	engExec(t, b, `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 9999)
INSERT INTO ff_stream_frame SELECT e.partition_key, e.execution_id, 0, 1000, i, '{}', 'durable', 0 FROM n, ff_exec_core e`)
	engExec(t, b, `UPDATE ff_attempt SET raw_fields = json_set(raw_fields, '$.stream_frame_count', 10000)`)
	if r := streamAppend(t, b, l, "new"); r.FrameCount != 10001 {
		t.Fatalf("count %d", r.FrameCount)
	}
	var n, oldest int64
	b.ReaderDB().QueryRowContext(engCtx, `SELECT count(*), min(seq) FROM ff_stream_frame WHERE ts_ms = 1000`).Scan(&n, &oldest)
	if total := sqlFrames(t, b); total != 10000 || oldest != 1 {
		t.Fatalf("after trim: %d frames, oldest seq %d", total, oldest)
	}
	engExec(t, b, `DELETE FROM ff_stream_frame WHERE mode = 'durable' AND ts_ms = 1000`)
	for range 70 {
		clock.Advance(time.Second)
		if _, err := b.Renew(engCtx, l.Handle, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := b.AppendFrame(engCtx, l.Handle, backend.AppendFrameArgs{FrameType: "live", Mode: "best_effort", TTLMS: 1000}); err != nil {
			t.Fatal(err)
		}
	}
	var be, durable int64
	b.ReaderDB().QueryRowContext(engCtx, `SELECT count(*) FILTER (WHERE mode = 'best_effort'), count(*) FILTER (WHERE mode = 'durable') FROM ff_stream_frame`).Scan(&be, &durable)
	if be != 64 || durable != 1 {
		t.Fatalf("best-effort %d, durable %d; want 64 and 1", be, durable)
	}
	_ = id
}

func TestStreamChangedWakesOnAppend(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, true)
	id := engCreate(t, b)
	l := engClaim(t, b)
	changed, release := b.StreamChanged(id, 0)
	defer release()
	other, releaseOther := b.StreamChanged(id, 1)
	defer releaseOther()
	done := make(chan *backend.AppendResult)
	go func() {
		r, _ := b.AppendFrame(engCtx, l.Handle, backend.AppendFrameArgs{FrameType: "x"})
		done <- r
	}()
	<-changed
	if r := <-done; r == nil || r.FrameCount != 1 {
		t.Fatalf("append = %+v", r)
	}
	select {
	case <-other:
		t.Fatal("another attempt's waiters woke")
	default:
	}
}

func TestProgress(t *testing.T) {
	t.Parallel()
	b, clock := engOpen(t, true)
	id := engCreate(t, b)
	if p, err := b.GetProgress(engCtx, id); p != nil || err != nil {
		t.Fatalf("before any report: %+v, %v", p, err)
	}
	l := engClaim(t, b)
	clock.Advance(3 * time.Millisecond)
	if err := b.UpdateProgress(engCtx, l.Handle, 40, "halfway"); err != nil {
		t.Fatal(err)
	}
	p, err := b.GetProgress(engCtx, id)
	if err != nil || *p != (backend.Progress{Pct: 40, Message: "halfway", UpdatedAt: engT0 + 3}) {
		t.Fatalf("progress = %+v, %v", p, err)
	}
	for _, pct := range []int{-1, 101} {
		engWantCode(t, b.UpdateProgress(engCtx, l.Handle, pct, ""), backend.KindValidation, "invalid_input")
	}
	engWantCode(t, b.UpdateProgress(engCtx, engRehandle(l, func(p *backend.HandlePayload) { p.LeaseEpoch++ }), 1, ""),
		backend.KindContention, backend.CodeStaleLease)
	if err := b.Complete(engCtx, l.Handle, nil); err != nil {
		t.Fatal(err)
	}
	engWantCode(t, b.UpdateProgress(engCtx, l.Handle, 50, ""), backend.KindState, "execution_not_active")
	if p, _ := b.GetProgress(engCtx, id); p.Pct != 40 {
		t.Fatalf("refused reports changed progress: %+v", p)
	}
}

// TestStreamClosedBySkipAndSuspensionTimeout: a running flow child
// skipped by its upstream's failure closes dependency_impossible; a
// suspension timeout that fails the execution closes suspension_timeout.
func TestStreamClosedBySkipAndSuspensionTimeout(t *testing.T) {
	t.Parallel()
	t.Run("skip", func(t *testing.T) {
		t.Parallel()
		b, _ := engOpen(t, true)
		flow := flowNew(t, b)
		up, child := flowMember(t, b, flow), flowMember(t, b, flow)
		l := flowClaimID(t, b, child)
		streamAppend(t, b, l, "child output")
		flowEdge(t, b, flow, up, child)
		flowFail(t, b, up)
		if st := engState(t, b, child); st != "skipped" {
			t.Fatalf("child %s", st)
		}
		if s := streamRead(t, b, child, 0); s.ClosedReason != backend.StreamClosedDependency || s.Count != 1 {
			t.Fatalf("child stream = %+v", s)
		}
	})
	t.Run("suspension timeout", func(t *testing.T) {
		t.Parallel()
		b, clock := waitOpen(t, true)
		id := engCreate(t, b)
		l := engClaim(t, b)
		streamAppend(t, b, l, "before the wait")
		if _, err := b.Suspend(engCtx, l.Handle, waitArgs("go", waitTimeout(clock.MS()+5, "fail"))); err != nil {
			t.Fatal(err)
		}
		clock.Advance(10 * time.Millisecond)
		if _, err := b.ExpireSuspensions(engCtx, clock.MS(), 10); err != nil {
			t.Fatal(err)
		}
		if s := streamRead(t, b, id, 0); s.ClosedReason != backend.StreamClosedSuspensionTimeout || *s.ClosedAt != clock.MS() {
			t.Fatalf("stream = %+v (state %s)", s, engState(t, b, id))
		}
	})
}

// TestStreamClosedByAttemptTimeout: an attempt that hits its
// timeout_policy.attempt_timeout_ms closes its stream "expired"
// (engine-canonical.md C4: expired is the deadline's and the attempt
// timeout's reason), whether the execution retries or fails; before the
// fix the timeout ended the attempt as a plain fail, "attempt_failure".
func TestStreamClosedByAttemptTimeout(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{
		`{"timeout_policy":{"attempt_timeout_ms":100}}`,
		`{"timeout_policy":{"attempt_timeout_ms":100},"retry_policy":{"max_retries":1,"backoff":{"type":"fixed","delay_ms":0}}}`,
	} {
		b, clock := engOpen(t, true)
		id := engCreate(t, b, engPolicy(policy))
		l := engClaim(t, b)
		streamAppend(t, b, l, "out")
		clock.Advance(100 * time.Millisecond)
		if rep, err := b.TimeoutAttempts(engCtx, clock.MS(), 10); err != nil || rep.Processed != 1 {
			t.Fatalf("TimeoutAttempts = %+v, %v", rep, err)
		}
		if s := streamRead(t, b, id, 0); s.ClosedReason != backend.StreamClosedExpired || s.ClosedAt == nil || *s.ClosedAt != clock.MS() {
			t.Fatalf("%s: stream = %+v; want closed %s", policy, s, backend.StreamClosedExpired)
		}
	}
}

// TestStreamFailReasonIsNotACloseReason: a worker's fail reason is free
// text; one that happens to read like a skip's or a suspension timeout's
// failure reason must not become the stream's close reason. Every fail
// closes attempt_failure (C4); before the fix the close reason was sniffed
// from the failure reason, so these closed "dependency_impossible" and
// "suspension_timeout".
func TestStreamFailReasonIsNotACloseReason(t *testing.T) {
	t.Parallel()
	for _, reason := range []string{"dependency_impossible", "suspension_timeout: upstream too slow"} {
		for _, class := range []backend.FailureClass{backend.FailPermanent, backend.FailTransient} {
			b, _ := engOpen(t, true)
			id := engCreate(t, b, engPolicy(`{"retry_policy":{"max_retries":1,"backoff":{"type":"fixed","delay_ms":0}}}`))
			l := engClaim(t, b)
			streamAppend(t, b, l, "out")
			if _, err := b.Fail(engCtx, l.Handle, backend.FailArgs{Class: class, Reason: reason}); err != nil {
				t.Fatal(err)
			}
			if s := streamRead(t, b, id, 0); s.ClosedReason != backend.StreamClosedFailure {
				t.Fatalf("fail(%s, %q): stream closed %q, want %s", class, reason, s.ClosedReason, backend.StreamClosedFailure)
			}
		}
	}
}
