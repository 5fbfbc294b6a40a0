package backend_test

import (
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// Streams against engine-canonical.md §2.3 / C4, as upstream's Lua
// behaves (found by a review; each names the canonical behaviour).

// TestStreamReclaimOverwritesLeaseExpired: canonical mark_expired
// closes the stream "lease_expired" only if it is open, and the later
// ff_reclaim_execution HSETs closed_reason="reclaimed" unconditionally
// (lua/helpers.lua 432-445: "A later ff_reclaim_execution that overwrites
// closed_reason to "reclaimed" still wins"; lua/execution.lua 1508-1511).
func TestStreamReclaimOverwritesLeaseExpired(t *testing.T) {
	b, clock := engOpen(t, true)
	id := engCreate(t, b)
	old := engClaim(t, b)
	streamAppend(t, b, old, "out")
	clock.Advance(10 * time.Second)
	g := mustReclaimGrant(t, b, id) // marks the expired lease: stream closed lease_expired
	if r := streamReason(t, b, id, old.AttemptIndex); r != backend.StreamClosedLeaseExpired {
		t.Fatalf("marked: %s", r)
	}
	clock.Advance(5 * time.Millisecond)
	if _, err := b.ReclaimExecution(engCtx, reclaimArgs(id, g)); err != nil {
		t.Fatal(err)
	}
	s := streamRead(t, b, id, old.AttemptIndex)
	if s.ClosedReason != backend.StreamClosedReclaimed || s.ClosedAt == nil || *s.ClosedAt != clock.MS() {
		t.Fatalf("after reclaim: closed_reason %q at %v; canonical: reclaimed at %d", s.ClosedReason, s.ClosedAt, clock.MS())
	}
}

// TestStreamCancelAfterMarkOverwrites: canonical cancel of an
// active execution HSETs closed_reason="attempt_cancelled" whether or
// not mark_expired closed the stream first (lua/execution.lua 797-801).
func TestStreamCancelAfterMarkOverwrites(t *testing.T) {
	clock := testdb.NewClock(engT0)
	b := testdb.Open(t, testdb.WithClock(clock.Now), func(o *backend.Options) { o.LeaseExpiry = backend.LeaseExpiryReclaimable })
	id := engCreate(t, b)
	l := engClaim(t, b)
	streamAppend(t, b, l, "out")
	clock.Advance(11 * time.Second)
	if _, err := b.ExpireLeases(engCtx, clock.MS(), 10); err != nil {
		t.Fatal(err)
	}
	if r := streamReason(t, b, id, l.AttemptIndex); r != backend.StreamClosedLeaseExpired {
		t.Fatalf("marked: %s", r)
	}
	if _, err := b.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: id, Reason: "stop"}); err != nil {
		t.Fatal(err)
	}
	if r := streamReason(t, b, id, l.AttemptIndex); r != backend.StreamClosedCancelled {
		t.Fatalf("after cancel: %s; canonical attempt_cancelled", r)
	}
}

// TestStreamResumeKeepsAppending: C4 — a suspend leaves the
// stream open and the resumed claim continues the same attempt, so the
// worker keeps appending to the same stream (frame_count goes on).
func TestStreamResumeKeepsAppending(t *testing.T) {
	b, clock := waitOpen(t, true)
	id, l, out := waitSuspend(t, b, waitArgs("go"))
	_ = l
	waitDeliver(t, b, waitSignal(id, out.Details.WaitpointID, out.Details.WaitpointToken, "go"))
	clock.Advance(time.Millisecond)
	l2 := engClaim(t, b)
	if l2.ExecutionID != id || l2.AttemptIndex != 0 {
		t.Fatalf("resumed claim = %+v", l2)
	}
	r := streamAppend(t, b, l2, "after")
	if r.FrameCount != 1 {
		t.Fatalf("count %d", r.FrameCount)
	}
	if err := b.Complete(engCtx, l2.Handle, nil); err != nil {
		t.Fatal(err)
	}
	s := streamRead(t, b, id, 0)
	if s.Count != 1 || s.ClosedReason != backend.StreamClosedSuccess {
		t.Fatalf("stream = %+v", s)
	}
}

// TestStreamDelayKeepsAppending: a worker delay leaves the attempt
// (and its stream) open; after the promotion the claim resumes it.
func TestStreamDelayKeepsAppending(t *testing.T) {
	b, clock := engOpen(t, true)
	id := engCreate(t, b)
	l := engClaim(t, b)
	streamAppend(t, b, l, "one")
	if _, err := b.Delay(engCtx, l.Handle, clock.MS()+10); err != nil {
		t.Fatal(err)
	}
	if s := streamRead(t, b, id, 0); s.Closed() {
		t.Fatalf("delay closed the stream: %+v", s)
	}
	clock.Advance(20 * time.Millisecond)
	if _, err := b.PromoteDelayed(engCtx, clock.MS(), 10); err != nil {
		t.Fatal(err)
	}
	l2 := engClaim(t, b)
	if l2.AttemptIndex != 0 {
		t.Fatalf("attempt %d", l2.AttemptIndex)
	}
	if r := streamAppend(t, b, l2, "two"); r.FrameCount != 2 {
		t.Fatalf("count %d, want 2", r.FrameCount)
	}
}

func summaryAfter(t *testing.T, patches ...string) (string, error) {
	t.Helper()
	b, _ := engOpen(t, true)
	id := engCreate(t, b)
	l := engClaim(t, b)
	for _, p := range patches {
		if _, err := b.AppendFrame(engCtx, l.Handle, backend.AppendFrameArgs{FrameType: "summary", Mode: "summary", Payload: []byte(p)}); err != nil {
			return "", err
		}
	}
	s, err := b.GetStreamSummary(engCtx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	return string(s.Document), nil
}

// TestSummaryNullSentinelInsideArrayObject: canonical
// rewrite_null_sentinel walks every table of the merged document, objects
// inside arrays included (lua/stream.lua rewrite_null_sentinel), so a
// "__ff_null__" leaf of an object inside an array becomes null.
func TestSummaryNullSentinelInsideArrayObject(t *testing.T) {
	doc, err := summaryAfter(t, `{"items":[{"a":"__ff_null__","b":1}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"items":[{"a":null,"b":1}]}`; doc != want {
		t.Fatalf("document %s; canonical %s", doc, want)
	}
}

// TestSummaryDepthIsCanonicals: canonical apply_merge_patch fails only when
// its object recursion depth (root = 0) exceeds 16, i.e. a patch of 18
// nested objects; 17 nested objects are accepted, and arrays are leaves
// (they do not count).
func TestSummaryDepthIsCanonicals(t *testing.T) {
	nest := func(n int, leaf string) string {
		s := leaf
		for i := 0; i < n; i++ {
			s = `{"k":` + s + `}`
		}
		return s
	}
	if _, err := summaryAfter(t, nest(17, "1")); err != nil {
		t.Errorf("17 nested objects: %v; canonical accepts", err)
	}
	arrays := `{"a":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}`
	if _, err := summaryAfter(t, arrays); err != nil {
		t.Errorf("deep array leaf: %v; canonical accepts (arrays are replaced whole)", err)
	}
	if _, err := summaryAfter(t, nest(18, "1")); err == nil {
		t.Errorf("18 nested objects accepted; canonical refuses")
	}
}

// TestBestEffortEMASeed: canonical seeds the best-effort rate EMA
// on the first append with floor / (ttl_s × 2) (so the first K is the
// floor) and blends later rates into that seed (lua/stream.lua §8:
// rate_hz = α·inst + (1-α)·prev). ttl 30 s, second append 100 ms later:
// seed 64/60 Hz, rate 0.2·10 + 0.8·64/60 = 2.8533 Hz,
// K = ceil(2.8533·30·2) = 172.
func TestBestEffortEMASeed(t *testing.T) {
	b, clock := engOpen(t, true)
	id := engCreate(t, b)
	l := engClaim(t, b)
	be := backend.AppendFrameArgs{FrameType: "live", Mode: "best_effort", TTLMS: 30000}
	if _, err := b.AppendFrame(engCtx, l.Handle, be); err != nil {
		t.Fatal(err)
	}
	meta := func() (float64, int64) {
		var ema float64
		var k int64
		if err := b.ReaderDB().QueryRowContext(engCtx, `SELECT ema_rate_hz, maxlen_applied_last FROM ff_stream_meta
WHERE partition_key = ? AND execution_id = ? AND attempt_index = 0`, int64(id.Partition), id.UUID[:]).Scan(&ema, &k); err != nil {
			t.Fatal(err)
		}
		return ema, k
	}
	if ema, k := meta(); k != 64 || ema < 1.066 || ema > 1.067 {
		t.Errorf("after the first append: ema %v K %d; canonical ema 1.0667 (64/60) K 64", ema, k)
	}
	clock.Advance(100 * time.Millisecond)
	if _, err := b.AppendFrame(engCtx, l.Handle, be); err != nil {
		t.Fatal(err)
	}
	if ema, k := meta(); k != 172 {
		t.Errorf("after the second append: ema %v K %d; canonical ema 2.8533 K 172", ema, k)
	}
}

// TestAppendLossyUTF8: canonical converts the payload with Rust's
// String::from_utf8_lossy (ff-backend-valkey lib.rs append_frame_impl),
// which replaces each maximal invalid subpart with one U+FFFD ("\xff\xfe"
// → two, "\xe2\x82" → one), and ff_append_frame checks the 65536-byte
// limit on that converted string (#A.payload).
func TestAppendLossyUTF8(t *testing.T) {
	b, _ := engOpen(t, true)
	id := engCreate(t, b)
	l := engClaim(t, b)
	if _, err := b.AppendFrame(engCtx, l.Handle, backend.AppendFrameArgs{FrameType: "x", Payload: []byte("a\xff\xfeb\xe2\x82c")}); err != nil {
		t.Fatal(err)
	}
	if got, want := streamIDs(streamRead(t, b, id, 0)), "-0=a\uFFFD\uFFFDb\uFFFDc"; len(got) < len(want) || got[len(got)-len(want):] != want {
		t.Errorf("stored %q; canonical payload %q", got, "a\uFFFD\uFFFDb\uFFFDc")
	}
	// 30,000 invalid bytes become 90,000 bytes of U+FFFD: over the limit.
	big := make([]byte, 30000)
	for i := range big {
		big[i] = 0xff
	}
	_, err := b.AppendFrame(engCtx, l.Handle, backend.AppendFrameArgs{FrameType: "x", Payload: big})
	if err == nil {
		t.Errorf("30,000 0xff bytes appended; canonical 400 retention_limit_exceeded (lossy payload 90,000 bytes)")
	}
}
