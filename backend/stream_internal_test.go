package backend

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestFieldsJSON: the hand-built frame fields are what encoding/json
// (without HTML escaping) writes for every kind of character.
func TestFieldsJSON(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", `q"b\s`, "nl\nrt\rtab\t", "\x00\x01\x1f\x7f", "<a>&b", "é ü 漢 🎉", "\u2028\u2029", "\uFFFD"} {
		f := frameFields{FrameType: s, TS: "1", Payload: s, Encoding: "utf8", Source: "worker", Mode: "durable", CorrelationID: s, TTLMS: s}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
		if got, want := fieldsJSON(f), string(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))); got != want {
			t.Errorf("%q:\n got %s\nwant %s", s, got, want)
		}
	}
}

// TestStreamHub: waiters share one channel per stream; the entry goes at
// the notify, or when its last waiter leaves, so the hub holds nothing for
// streams nobody waits on.
func TestStreamHub(t *testing.T) {
	t.Parallel()
	var h streamHub
	a, b := streamKey{part: 1, key: "x", idx: 0}, streamKey{part: 1, key: "x", idx: 1}
	ch1, rel1 := h.wait(a)
	ch2, rel2 := h.wait(a)
	chB, relB := h.wait(b)
	if ch1 != ch2 || len(h.m) != 2 {
		t.Fatalf("waiters of one stream: %v %v, %d entries", ch1, ch2, len(h.m))
	}
	h.notify(a)
	<-ch1
	select {
	case <-chB:
		t.Fatal("another stream's waiters woke")
	default:
	}
	rel1()
	rel2()
	rel2() // twice is harmless
	if _, ok := h.m[a]; ok {
		t.Fatal("a notified stream keeps its entry")
	}
	ch3, rel3 := h.wait(a)
	if ch3 == ch1 {
		t.Fatal("a notified channel is handed out again")
	}
	rel3()
	relB()
	if len(h.m) != 0 {
		t.Fatalf("%d entries left after every waiter left", len(h.m))
	}
}

func TestStreamCloseReason(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ outcome, patch, want string }{
		{"success", "{}", StreamClosedSuccess},
		{"failed", `{"failure_reason":"boom"}`, StreamClosedFailure},
		{"cancelled", `{"failure_reason":"cancelled: stop"}`, StreamClosedCancelled},
		{"cancelled", `{"failure_reason":"dependency_impossible"}`, StreamClosedDependency},
		{"failed", `{"failure_reason":"suspension_timeout:fail","paused":null}`, StreamClosedSuspensionTimeout},
		{"expired", "{}", StreamClosedExpired},
		{"interrupted", "{}", StreamClosedLeaseExpired},
		{"interrupted_reclaimed", `{"failure_reason":"lease_revoked"}`, StreamClosedReclaimed},
		{"interrupted", `{"stream_closed_reason":"reclaimed"}`, StreamClosedReclaimed},
		{"something_else", "{}", StreamClosedAttemptInterrupted},
	} {
		if got := streamCloseReason(c.outcome, c.patch); got != c.want {
			t.Errorf("%s %s: %s, want %s", c.outcome, c.patch, got, c.want)
		}
	}
}
