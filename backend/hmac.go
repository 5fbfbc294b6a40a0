package backend

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// HMACSecretEnv seeds the waitpoint HMAC keystore on init and serve.
const HMACSecretEnv = "FF_WAITPOINT_HMAC_SECRET"

// DefaultKid is the key id given to the first waitpoint signing key.
const DefaultKid = "k1"

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
	if kid == "" || strings.Contains(kid, ":") {
		return false, validation(op, "invalid_kid", "new_kid must be non-empty and must not contain ':'")
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

// RotateWaitpointSecret makes kid/secret the active waitpoint signing key:
// every other key is deactivated (and stays verifiable, as upstream's
// SQLite ignores the grace window). Rotating to the active kid with the
// same secret again is a no-op; reusing a kid with a different secret is a
// rotation_conflict.
func (b *Backend) RotateWaitpointSecret(ctx context.Context, kid string, secret []byte) error {
	const op = "rotate_waitpoint_hmac_secret"
	if kid == "" || strings.Contains(kid, ":") {
		return validation(op, "invalid_kid", "new_kid must be non-empty and must not contain ':'")
	}
	if len(secret) == 0 {
		return validation(op, "invalid_secret_hex", "new_secret_hex must be a non-empty even-length hex string")
	}
	return b.write(ctx, op, func(tx *wtx) error {
		var cur []byte
		err := tx.QueryRowContext(ctx, "SELECT secret FROM ff_waitpoint_hmac WHERE kid = ?", kid).Scan(&cur)
		switch {
		case err == nil && string(cur) != string(secret):
			return &Error{Kind: KindConflict, Op: op, Code: "rotation_conflict",
				Msg: fmt.Sprintf("kid %q already exists with a different secret", kid)}
		case err == nil:
			_, err = tx.ExecContext(ctx, "UPDATE ff_waitpoint_hmac SET active = CASE WHEN kid = ? THEN 1 ELSE 0 END", kid)
			return err
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE ff_waitpoint_hmac SET active = 0 WHERE active = 1"); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			"INSERT INTO ff_waitpoint_hmac (kid, secret, rotated_at_ms, active) VALUES (?, ?, ?, 1)", kid, secret, b.Now())
		return err
	})
}
