package suspension

import (
	"bytes"
	"testing"
)

// The five HMAC vectors of upstream's cross-language corpus
// (server-api.md §3.3): kid:hex(HMAC-SHA256(secret, kid ":" message)).
func TestSignCorpusVectors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		secret  []byte
		kid     string
		message []byte
		want    string
	}{
		{[]byte("secret-1"), "kid-a", []byte("hello"),
			"kid-a:d0a1581fa55bac26afe8c11b8e5653a6ad2e10c6e09fa44e3c770eeb72d83d4b"},
		{[]byte("super-secret-rotating-key-v1"), "vllm-demo-2026-05", []byte("exec=abc:waitpoint=wp-42"),
			"vllm-demo-2026-05:dd0d4d13715ffab543c1ea9ba0a711311f13a36a740c14d08f7ab4983d3111ef"},
		{[]byte("k"), "k0", nil,
			"k0:b6063576168fc22293d5724cebbbd78beb2ca5cd4d7e34b21e61a132042a5266"},
		{bytes.Repeat([]byte{0xAA}, 64), "block-sized-secret", []byte("message"),
			"block-sized-secret:fe800115905f7369d1c2c18fe85c6ae10decd1b0392e4a238ed89e17f84c5fdc"},
		{[]byte("k"), "binary", []byte{0x00, 0x01, 0xfe, 0xff},
			"binary:f98fd661ff642ba9895b6b9297fbc29cb95ceb8782267955cc647576e9bb022a"},
	}
	for _, c := range cases {
		if got := Sign(c.secret, c.kid, c.message); got != c.want {
			t.Errorf("Sign(%q, %q) = %s, want %s", c.kid, c.message, got, c.want)
		}
		if !VerifyToken(c.secret, c.kid, c.message, c.want) {
			t.Errorf("VerifyToken refuses the corpus token %s", c.want)
		}
	}
}

// The SQLite-style illustrative value of engine-canonical.md §3: secret
// 32 zero bytes, kid k1, message "<execution_id>:<waitpoint_id>".
func TestMintWaitpointToken(t *testing.T) {
	t.Parallel()
	got := MintWaitpointToken(make([]byte, 32), "k1", "{fp:0}:00000000-0000-4000-8000-000000000000",
		"11111111-2222-4333-8444-555555555555")
	const want = "k1:2a39b456d4ec9ed6256c93b594738a8bd394369f7b857502b5e126518bdcd2d1"
	if got != want {
		t.Fatalf("MintWaitpointToken = %s, want %s", got, want)
	}
}

func TestVerifyTokenRefusesTampering(t *testing.T) {
	t.Parallel()
	secret, msg := []byte("s"), []byte("e:w")
	tok := Sign(secret, "k1", msg)
	flipped := tok[:len(tok)-1] + string("0123456789abcdef"[(int(tok[len(tok)-1])+1)%16])
	for name, bad := range map[string]string{
		"last hex char flipped": flipped,
		"other kid prefix":      "k2" + tok[2:],
		"truncated":             tok[:len(tok)-2],
		"upper-case digest":     "k1:" + string(bytes.ToUpper([]byte(tok[3:]))),
		"empty":                 "",
	} {
		if VerifyToken(secret, "k1", msg, bad) {
			t.Errorf("%s: VerifyToken accepted %q", name, bad)
		}
	}
	if VerifyToken([]byte("other"), "k1", msg, tok) {
		t.Error("VerifyToken accepted a token signed with another secret")
	}
}

func TestSplitAndFingerprint(t *testing.T) {
	t.Parallel()
	cases := []struct {
		token, kid, fp string
	}{
		{"k1:0123456789abcdef0123", "k1", "0123456789abcdef"},
		{"k1:abc", "k1", "abc"},
		{"k1:a:b", "k1", "a:b"},
		{":abc", "", ""},
		{"k1:", "", ""},
		{"nocolon", "", ""},
		{"", "", ""},
	}
	for _, c := range cases {
		kid, fp := Fingerprint(c.token)
		if kid != c.kid || fp != c.fp {
			t.Errorf("Fingerprint(%q) = (%q, %q), want (%q, %q)", c.token, kid, fp, c.kid, c.fp)
		}
	}
}
