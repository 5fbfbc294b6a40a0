package backend

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ffsqlite/ffsqlite/suspension"
)

// HMACSecretEnv seeds the waitpoint HMAC keystore on init and serve.
const HMACSecretEnv = "FF_WAITPOINT_HMAC_SECRET"

// DefaultKid is the key id given to the first waitpoint signing key.
const DefaultKid = "k1"

// HMACGraceEnv sets Options.WaitpointHMACGrace in milliseconds (serve).
const HMACGraceEnv = "FF_WAITPOINT_HMAC_GRACE_MS"

// qRetireKeys retires the active keys other than ?2 at time ?1: a
// retired key's rotated_at_ms is when it was rotated out, the start of
// its grace window.
const qRetireKeys = "UPDATE ff_waitpoint_hmac SET active = 0, rotated_at_ms = ?1 WHERE active = 1 AND kid <> ?2"

// ParseHMACGraceMS parses FF_WAITPOINT_HMAC_GRACE_MS: an unsigned count
// of milliseconds (any u64, as upstream parses it; one longer than a
// Duration holds, about 292 years, is the longest Duration); 0 means no
// grace (a negative Options value).
func ParseHMACGraceMS(v string) (time.Duration, error) {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid value for %s: expected u64, got '%s'", HMACGraceEnv, v)
	}
	switch {
	case n == 0:
		return -1, nil
	case n > uint64(math.MaxInt64/int64(time.Millisecond)):
		return time.Duration(math.MaxInt64), nil
	}
	return time.Duration(n) * time.Millisecond, nil
}

// ValidateKid checks a waitpoint key id: non-empty, without ':' (the
// token's separator). Rotation and seeding check with it; route 27 calls
// it first, as ff-server checks the kid before the secret.
func ValidateKid(kid string) error { return checkKid("rotate_waitpoint_hmac_secret", kid) }

// checkKid is ValidateKid for operation op.
func checkKid(op, kid string) error {
	if kid == "" || strings.Contains(kid, ":") {
		return validation(op, "invalid_kid", "new_kid must be non-empty and must not contain ':'")
	}
	return nil
}

// ParseSecretHex decodes a waitpoint secret: non-empty, even-length hex.
func ParseSecretHex(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if s == "" || err != nil {
		return nil, validation("seed_waitpoint_hmac_secret", "invalid_secret_hex",
			"new_secret_hex must be a non-empty even-length hex string")
	}
	return b, nil
}

// SecretFromEnv returns the secret in FF_WAITPOINT_HMAC_SECRET, or 32
// fresh random bytes (generated=true) when it is unset.
func SecretFromEnv() (secret []byte, generated bool, err error) {
	if v := os.Getenv(HMACSecretEnv); v != "" {
		b, err := ParseSecretHex(v)
		if err != nil {
			return nil, false, fmt.Errorf("invalid value for %s: must be a non-empty even-length hex string", HMACSecretEnv)
		}
		return b, false, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// SeedWaitpointSecret installs kid/secret as the active waitpoint signing
// key when the keystore has no active key, and reports whether it did.
// Upstream never seeds on SQLite, so suspend fails until an operator
// rotates; ffsqlite seeds on init and serve. With a key already active it
// changes nothing: replacing a key is what rotation is for.
func (b *Backend) SeedWaitpointSecret(ctx context.Context, kid string, secret []byte) (bool, error) {
	const op = "seed_waitpoint_hmac_secret"
	if err := checkKid(op, kid); err != nil {
		return false, err
	}
	if len(secret) == 0 {
		return false, validation(op, "invalid_secret_hex", "new_secret_hex must be a non-empty even-length hex string")
	}
	seeded := false
	err := b.write(ctx, op, func(tx *wtx) error {
		seeded = false
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM ff_waitpoint_hmac WHERE active = 1").Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil // a key is active: seeding never replaces it (rotate does)
		}
		_, err := tx.ExecContext(ctx,
			"INSERT INTO ff_waitpoint_hmac (kid, secret, rotated_at_ms, active) VALUES (?, ?, ?, 1)",
			kid, secret, b.Now())
		seeded = err == nil
		return err
	})
	return seeded, err
}

// RotateWaitpointSecret makes kid/secret the active waitpoint signing key.
// The key it replaces is retired: its rotated_at_ms becomes the rotation
// time and it keeps verifying the tokens it signed until rotated_at_ms +
// Options.WaitpointHMACGrace (FF_WAITPOINT_HMAC_GRACE_MS), then they are
// token_expired (upstream's SQLite ignores the grace; canonical honours
// it). New tokens are minted with kid. Rotating to the active kid with the
// same secret again is a no-op; reusing a kid with a different secret is a
// rotation_conflict; rotating back to a retired kid with its secret
// reactivates it.
func (b *Backend) RotateWaitpointSecret(ctx context.Context, kid string, secret []byte) error {
	const op = "rotate_waitpoint_hmac_secret"
	if err := checkKid(op, kid); err != nil {
		return err
	}
	if len(secret) == 0 {
		return validation(op, "invalid_secret_hex", "new_secret_hex must be a non-empty even-length hex string")
	}
	return b.write(ctx, op, func(tx *wtx) error {
		now := tx.now
		var cur []byte
		err := tx.QueryRowContext(ctx, "SELECT secret FROM ff_waitpoint_hmac WHERE kid = ?", kid).Scan(&cur)
		switch {
		case err == nil && string(cur) != string(secret):
			return &Error{Kind: KindConflict, Op: op, Code: "rotation_conflict",
				Msg: fmt.Sprintf("kid %q already exists with a different secret", kid)}
		case err == nil:
			// Known kid, same secret: a no-op when active, else reactivate it.
			if _, err := tx.ExecContext(ctx, qRetireKeys, now, kid); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, "UPDATE ff_waitpoint_hmac SET active = 1, rotated_at_ms = ? WHERE kid = ? AND active = 0", now, kid)
			return err
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := tx.ExecContext(ctx, qRetireKeys, now, kid); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			"INSERT INTO ff_waitpoint_hmac (kid, secret, rotated_at_ms, active) VALUES (?, ?, ?, 1)", kid, secret, now)
		return err
	})
}

// signingKey is a keystore row as the engine uses it.
type signingKey struct {
	kid       string
	secret    []byte
	active    bool
	rotatedAt int64
}

var (
	qActiveKey = hotStmt(`SELECT kid, secret FROM ff_waitpoint_hmac WHERE active = 1
ORDER BY rotated_at_ms DESC, kid LIMIT 1`)
)

// activeKey returns the key new tokens are minted with. An empty keystore
// is upstream's hmac_secret_not_initialized (ffsqlite seeds one on init
// and serve, so only a hand-made database meets it).
func (w *wtx) activeKey(op string) (signingKey, error) {
	k := signingKey{active: true}
	err := w.queryRow(qActiveKey).Scan(&k.kid, &k.secret)
	if errors.Is(err, sql.ErrNoRows) {
		return k, validation(op, "invalid_input",
			"hmac_secret_not_initialized: no active waitpoint key; run `ffsqlite init` or rotate one in (route 27)")
	}
	return k, err
}

// mint signs the waitpoint's token with the active key.
func (k signingKey) mint(id ExecutionID, waitpointID string) string {
	return suspension.MintWaitpointToken(k.secret, k.kid, id.String(), waitpointID)
}

// checkToken checks a presented token in canonical order: empty →
// missing_token; not "kid:digest", another kid than the stored one, a kid
// the keystore does not know (key nil), or a digest that is not the HMAC
// → invalid_token; a retired kid past its grace (rotated_at_ms +
// Options.WaitpointHMACGrace < now) → token_expired. key is the stored
// kid's keystore row. Comparisons are constant-time.
func (w *wtx) checkToken(op string, id ExecutionID, waitpointID, storedKid, storedToken, presented string, key *signingKey) error {
	bad := func() error { return validation(op, "invalid_token", "") }
	if presented == "" {
		return validation(op, "missing_token", "")
	}
	kid, _, ok := suspension.SplitToken(presented)
	if !ok || subtle.ConstantTimeCompare([]byte(kid), []byte(storedKid)) != 1 || key == nil {
		return bad()
	}
	if !key.active {
		grace := w.b.in.opts.WaitpointHMACGrace
		if grace < 0 || key.rotatedAt+grace.Milliseconds() < w.now {
			return validation(op, "token_expired", "")
		}
	}
	msg := suspension.WaitpointMessage(id.String(), waitpointID)
	if !suspension.VerifyToken(key.secret, kid, msg, presented) ||
		subtle.ConstantTimeCompare([]byte(presented), []byte(storedToken)) != 1 {
		return bad()
	}
	return nil
}
