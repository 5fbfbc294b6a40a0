package backend_test

import (
	"math"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/suspension"
)

// Rotation keeps the previous key verifying until rotation time + grace
// (inclusive), then its tokens are token_expired; new tokens use the new
// key (the readiness test waitpoint_hmac_roundtrip's scenario).
func TestRotationGrace(t *testing.T) {
	t.Parallel()
	grace := 10 * time.Minute
	b, clock := waitOpen(t, true, func(o *backend.Options) { o.WaitpointHMACGrace = grace })
	id, _, old := waitSuspend(t, b, waitArgs("review"))
	if kid, _, _ := suspension.SplitToken(old.Details.WaitpointToken); kid != "k1" {
		t.Fatalf("first token kid = %s", kid)
	}
	clock.Advance(time.Second)
	rotatedAt := clock.MS()
	secret2 := []byte("another-secret-of-thirty-two-byt")
	if err := b.RotateWaitpointSecret(engCtx, "k2", secret2); err != nil {
		t.Fatal(err)
	}
	// Same kid and secret again: a no-op; same kid, other secret: conflict.
	if err := b.RotateWaitpointSecret(engCtx, "k2", secret2); err != nil {
		t.Fatalf("replayed rotation: %v", err)
	}
	engWantCode(t, b.RotateWaitpointSecret(engCtx, "k2", []byte("x")), backend.KindConflict, "rotation_conflict")
	// New suspends mint with k2.
	id2, _, fresh := waitSuspend(t, b, waitArgs("review"))
	if fresh.Details.WaitpointToken != suspension.MintWaitpointToken(secret2, "k2", id2.String(), fresh.Details.WaitpointID) {
		t.Fatalf("token after rotation = %s", fresh.Details.WaitpointToken)
	}
	// The k1 token verifies through the grace, its last millisecond included.
	clock.Set(rotatedAt + grace.Milliseconds())
	if r := waitDeliver(t, b, waitSignal(id, old.Details.WaitpointID, old.Details.WaitpointToken, "noise")); r.Effect != suspension.EffectNoOp {
		t.Fatalf("in grace = %+v", r)
	}
	clock.Advance(time.Millisecond)
	before := waitSnapshot(t, b)
	_, err := b.DeliverSignal(engCtx, waitSignal(id, old.Details.WaitpointID, old.Details.WaitpointToken, "review"))
	engWantCode(t, err, backend.KindValidation, "token_expired")
	if waitSnapshot(t, b) != before {
		t.Fatal("an expired token changed the database")
	}
	// A kid the keystore never had is invalid_token, not token_expired.
	_, err = b.DeliverSignal(engCtx, waitSignal(id, old.Details.WaitpointID, "k9"+old.Details.WaitpointToken[2:], "review"))
	engWantCode(t, err, backend.KindValidation, "invalid_token")
	// k2 tokens keep working.
	if r := waitDeliver(t, b, waitSignal(id2, fresh.Details.WaitpointID, fresh.Details.WaitpointToken, "review")); r.Effect != suspension.EffectResumed {
		t.Fatalf("k2 token = %+v", r)
	}
	// Rotating back to k1 with its secret reactivates it: its tokens verify
	// again and new ones use it.
	if err := b.RotateWaitpointSecret(engCtx, "k1", waitSecret); err != nil {
		t.Fatal(err)
	}
	if r := waitDeliver(t, b, waitSignal(id, old.Details.WaitpointID, old.Details.WaitpointToken, "review")); r.Effect != suspension.EffectResumed {
		t.Fatalf("after reactivating k1 = %+v", r)
	}
	waitCheckInvariants(t, b)
}

// A rapid rotation k1 → k2 → k3 keeps k1 verifying for its own grace
// window, which started when k1 was rotated out.
func TestRapidRotationKeepsEachGrace(t *testing.T) {
	t.Parallel()
	b, clock := waitOpen(t, true, func(o *backend.Options) { o.WaitpointHMACGrace = time.Minute })
	id, _, old := waitSuspend(t, b, waitArgs("x"))
	if err := b.RotateWaitpointSecret(engCtx, "k2", []byte("s2")); err != nil {
		t.Fatal(err)
	}
	clock.Advance(30 * time.Second)
	if err := b.RotateWaitpointSecret(engCtx, "k3", []byte("s3")); err != nil {
		t.Fatal(err)
	}
	if r := waitDeliver(t, b, waitSignal(id, old.Details.WaitpointID, old.Details.WaitpointToken, "y")); r.Effect != suspension.EffectNoOp {
		t.Fatalf("k1 within its grace = %+v", r)
	}
	clock.Advance(31 * time.Second)
	_, err := b.DeliverSignal(engCtx, waitSignal(id, old.Details.WaitpointID, old.Details.WaitpointToken, "y"))
	engWantCode(t, err, backend.KindValidation, "token_expired")
}

// FF_WAITPOINT_HMAC_GRACE_MS parsing; 0 means no grace at all.
func TestHMACGraceOption(t *testing.T) {
	t.Parallel()
	if d, err := backend.ParseHMACGraceMS("600000"); err != nil || d != 10*time.Minute {
		t.Fatalf("ParseHMACGraceMS = %s, %v", d, err)
	}
	for _, bad := range []string{"", "-1", "1.5", "ten", "99999999999999999999"} {
		if _, err := backend.ParseHMACGraceMS(bad); err == nil || err.Error() != "invalid value for FF_WAITPOINT_HMAC_GRACE_MS: expected u64, got '"+bad+"'" {
			t.Errorf("ParseHMACGraceMS(%q) = %v", bad, err)
		}
	}
	// Every u64 is valid, as upstream parses it; one past what a Duration
	// holds is the longest grace (a key that never expires in practice).
	for _, big := range []string{"9223372036854775807", "18446744073709551615", "10000000000000"} {
		if d, err := backend.ParseHMACGraceMS(big); err != nil || d != time.Duration(math.MaxInt64) {
			t.Errorf("ParseHMACGraceMS(%q) = %s, %v", big, d, err)
		}
	}
	none, err := backend.ParseHMACGraceMS("0")
	if err != nil || none >= 0 {
		t.Fatalf("ParseHMACGraceMS(0) = %s, %v", none, err)
	}
	b, _ := waitOpen(t, true, func(o *backend.Options) { o.WaitpointHMACGrace = none })
	id, _, old := waitSuspend(t, b, waitArgs("x"))
	if err := b.RotateWaitpointSecret(engCtx, "k2", []byte("s2")); err != nil {
		t.Fatal(err)
	}
	_, err = b.DeliverSignal(engCtx, waitSignal(id, old.Details.WaitpointID, old.Details.WaitpointToken, "x"))
	engWantCode(t, err, backend.KindValidation, "token_expired")
}
