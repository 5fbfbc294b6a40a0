package codec_test

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/internal/codec"
)

func TestExecIDRoundTrip(t *testing.T) {
	t.Parallel()
	u := uuid.MustParse("0f8fad5b-d9cb-469f-a165-70867728950e")
	for _, c := range []struct {
		in, want, errHas string
	}{
		{in: "{fp:7}:" + u.String(), want: "{fp:7}:" + u.String()},
		{in: "{fp:007}:" + strings.ToUpper(u.String()), want: "{fp:7}:" + u.String()},
		{in: "{fp:65535}:" + u.String(), want: "{fp:65535}:" + u.String()},
		{in: u.String(), errHas: "missing the `{fp:N}:` hash-tag prefix"},
		{in: "{fp:65536}:" + u.String(), errHas: "partition index is not a valid u16: 65536"},
		{in: "{fp:-1}:" + u.String(), errHas: "partition index is not a valid u16: -1"},
		{in: "{fp:7}:nope", errHas: "UUID suffix is not a valid UUID: nope"},
	} {
		p, id, err := codec.ParseExecID(c.in)
		if c.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), c.errHas) {
				t.Errorf("ParseExecID(%q) = %v; want an error with %q", c.in, err, c.errHas)
			}
			continue
		}
		if err != nil || codec.FormatExecID(p, id) != c.want {
			t.Errorf("ParseExecID(%q) = %d %s %v; want %s", c.in, p, id, err, c.want)
		}
	}
	p, id, err := codec.ExecIDFromRow(3, u[:])
	if err != nil || p != 3 || id != u {
		t.Fatalf("ExecIDFromRow = %d %s %v", p, id, err)
	}
	for _, bad := range []struct {
		part int64
		raw  []byte
	}{{-1, u[:]}, {1 << 16, u[:]}, {0, u[:15]}} {
		if _, _, err := codec.ExecIDFromRow(bad.part, bad.raw); !errors.Is(err, codec.ErrCorruptExecKey) {
			t.Errorf("ExecIDFromRow(%d, %x) = %v", bad.part, bad.raw, err)
		}
	}
}

// The policy document is read entry by entry, as upstream's serde_json
// reads it (as_u64 for limits, as_i64 for the interval).
func TestDecodeBudgetPolicy(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name       string
		text       string
		hard, soft map[string]uint64
		interval   int64
		has        bool
		onHard     string
	}{
		{name: "as create writes it",
			text: `{"hard_limits":{"tokens":100,"usd":0},"soft_limits":{"tokens":80,"usd":0},"reset_interval_ms":60000,"on_hard_limit":"deny","on_soft_limit":"warn"}`,
			hard: map[string]uint64{"tokens": 100, "usd": 0}, soft: map[string]uint64{"tokens": 80, "usd": 0}, interval: 60000, has: true, onHard: "deny"},
		{name: "bad entries skipped one by one",
			text: `{"hard_limits":{"ok":5,"neg":-1,"frac":1.5,"exp":1e3,"str":"7","null":null,"big":18446744073709551615},"soft_limits":[1]}`,
			hard: map[string]uint64{"ok": 5, "big": 18446744073709551615}, soft: map[string]uint64{}},
		{name: "interval not an integer", text: `{"reset_interval_ms":"60000"}`, hard: map[string]uint64{}, soft: map[string]uint64{}},
		{name: "negative interval", text: `{"reset_interval_ms":-5}`, hard: map[string]uint64{}, soft: map[string]uint64{}, interval: -5, has: true},
		{name: "breach action not a string", text: `{"on_hard_limit":3}`, hard: map[string]uint64{}, soft: map[string]uint64{}},
	} {
		p, err := codec.DecodeBudgetPolicy(c.text)
		if err != nil || !maps.Equal(p.HardLimits, c.hard) || !maps.Equal(p.SoftLimits, c.soft) ||
			p.ResetIntervalMS != c.interval || p.HasResetInterval != c.has || p.OnHardLimit != c.onHard {
			t.Errorf("%s: %+v, %v", c.name, p, err)
		}
	}
	for _, bad := range []string{"{not json", "[1]", "null", `"x"`, ""} {
		if _, err := codec.DecodeBudgetPolicy(bad); !errors.Is(err, codec.ErrBudgetPolicyNotObject) || strings.Contains(err.Error(), "\n") {
			t.Errorf("DecodeBudgetPolicy(%q) = %v; want one line wrapping ErrBudgetPolicyNotObject", bad, err)
		}
	}
	in := codec.BudgetPolicy{HardLimits: map[string]uint64{"b": 2, "a": 1}, SoftLimits: map[string]uint64{"a": 0}, ResetIntervalMS: 10,
		OnHardLimit: "deny", OnSoftLimit: "warn"}
	text, err := codec.EncodeBudgetPolicy(in)
	if want := `{"hard_limits":{"a":1,"b":2},"soft_limits":{"a":0},"reset_interval_ms":10,"on_hard_limit":"deny","on_soft_limit":"warn"}`; err != nil || text != want {
		t.Fatalf("EncodeBudgetPolicy = %s, %v", text, err)
	}
	back, err := codec.DecodeBudgetPolicy(text)
	in.HasResetInterval = true
	if err != nil || !maps.Equal(back.HardLimits, in.HardLimits) || !maps.Equal(back.SoftLimits, in.SoftLimits) ||
		back.ResetIntervalMS != 10 || !back.HasResetInterval || back.OnSoftLimit != "warn" {
		t.Fatalf("round trip = %+v, %v", back, err)
	}
}

func TestSets(t *testing.T) {
	t.Parallel()
	if got := codec.JoinSet([]string{"gpu", "arm64", "gpu"}); got != "arm64,gpu" {
		t.Errorf("JoinSet = %q", got)
	}
	if got := codec.JoinSet(nil); got != "" {
		t.Errorf("JoinSet(nil) = %q", got)
	}
	for in, want := range map[string][]string{
		"":            {},
		"arm64,gpu":   {"arm64", "gpu"},
		"gpu,,arm64,": {"arm64", "gpu"},
		"b,a,b":       {"a", "b"},
		" a,b":        {" a", "b"},
	} {
		if got := codec.SplitSet(in); got == nil || !slices.Equal(got, want) {
			t.Errorf("SplitSet(%q) = %#v, want %v", in, got, want)
		}
	}
}
