package backend

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
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

// TestLossyUTF8 replaces each maximal ill-formed subsequence with one
// U+FFFD, as Rust's String::from_utf8_lossy does (the vectors include
// Unicode's own example, Table 3-8; Python's "replace" decoding agrees).
func TestLossyUTF8(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"plain é 𐀀", "plain é 𐀀"},
		{"a\xff\xfeb\xe2\x82c", "a\uFFFD\uFFFDb\uFFFDc"},
		{"\xf0\x90\x80", "\uFFFD"},
		{"\xf0\x90\x80\xf0\x90\x80\x80", "\uFFFD\U00010000"},
		{"\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD"},
		{"\xe0\x80\x80", "\uFFFD\uFFFD\uFFFD"},
		{"\xc0\xaf", "\uFFFD\uFFFD"},
		{"\xf4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"},
		{"\xf5", "\uFFFD"},
		{"\xe1\x80", "\uFFFD"},
		{"\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", "a\uFFFD\uFFFD\uFFFDb\uFFFDc\uFFFD\uFFFDd"},
	} {
		if got := string(lossyUTF8([]byte(c.in))); got != c.want {
			t.Errorf("lossyUTF8(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzLossyUTF8: the result is valid UTF-8, valid input is kept, and
// each replaced subsequence is one U+FFFD for at most the bytes of one
// sequence (so the result is never more than three times the input).
func FuzzLossyUTF8(f *testing.F) {
	for _, s := range []string{"", "a", "\xff", "\xe2\x82", "\xf0\x90\x80\x80", "\xed\xbf\xbf"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := lossyUTF8(b)
		if !utf8.Valid(got) {
			t.Fatalf("lossyUTF8(%q) = %q, not valid UTF-8", b, got)
		}
		if utf8.Valid(b) && string(got) != string(b) {
			t.Fatalf("lossyUTF8 changed valid %q into %q", b, got)
		}
		if len(got) > 3*len(b) {
			t.Fatalf("lossyUTF8(%q) grew to %d bytes", b, len(got))
		}
	})
}
