package suspension

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
)

// FingerprintLen is how many hex characters of a token's digest route 5
// shows as token_fingerprint.
const FingerprintLen = 16

// Sign returns upstream's HMAC token of message under kid:
// "<kid>:" + hex(HMAC-SHA256(secret, kid + ":" + message)). The secret is
// raw bytes (the hex-decoded keystore secret).
func Sign(secret []byte, kid string, message []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(kid))
	mac.Write([]byte{':'})
	mac.Write(message)
	return kid + ":" + hex.EncodeToString(mac.Sum(nil))
}

// WaitpointMessage is the message a waitpoint token signs:
// "<execution_id>:<waitpoint_id>" with the execution id in its wire form.
func WaitpointMessage(executionID, waitpointID string) []byte {
	return []byte(executionID + ":" + waitpointID)
}

// MintWaitpointToken signs the waitpoint's message with kid.
func MintWaitpointToken(secret []byte, kid, executionID, waitpointID string) string {
	return Sign(secret, kid, WaitpointMessage(executionID, waitpointID))
}

// SplitToken splits a token at its first ':' into kid and digest; ok is
// false when either part is empty or there is no ':'.
func SplitToken(token string) (kid, digest string, ok bool) {
	kid, digest, found := strings.Cut(token, ":")
	if !found || kid == "" || digest == "" {
		return "", "", false
	}
	return kid, digest, true
}

// VerifyToken reports whether token is the token of message under kid
// and secret, comparing in constant time. A token whose kid is not kid is
// refused.
func VerifyToken(secret []byte, kid string, message []byte, token string) bool {
	want := Sign(secret, kid, message)
	return subtle.ConstantTimeCompare([]byte(want), []byte(token)) == 1
}

// Fingerprint returns a token's kid and the first FingerprintLen hex
// characters of its digest (upstream's parse_waitpoint_token_kid_fp);
// both are empty for a malformed token. The fingerprint identifies a
// token in listings without revealing it.
func Fingerprint(token string) (kid, fingerprint string) {
	kid, digest, ok := SplitToken(token)
	if !ok {
		return "", ""
	}
	return kid, digest[:min(len(digest), FingerprintLen)]
}
