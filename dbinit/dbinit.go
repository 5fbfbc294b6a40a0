// Package dbinit brings a database to a ready dev state: migrated to the
// latest schema and with a waitpoint signing key. init and serve share it.
package dbinit

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/migrate"
)

// Summary says what Run found and did.
type Summary struct {
	Path               string `json:"path"`
	SQLiteVersion      string `json:"sqlite_version"`
	SchemaVersion      int64  `json:"schema_version"`
	JournalMode        string `json:"journal_mode"`
	Applied            int    `json:"migrations_applied"`
	HMACKey            string `json:"waitpoint_key"` // "seeded from FF_WAITPOINT_HMAC_SECRET", "generated" or "present"
	AlreadyInitialized bool   `json:"already_initialized"`
}

// Run migrates b to the latest version and seeds the waitpoint HMAC key
// when the keystore has none. A database already in that state is left
// unchanged and reported as AlreadyInitialized.
func Run(ctx context.Context, b *backend.Backend, log *slog.Logger) (*Summary, error) {
	applied, err := migrate.UpLatest(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", b.Path(), err)
	}
	for _, r := range applied {
		log.Debug("migration applied", "version", r.Version, "name", r.Name, "took", r.Duration)
	}
	secret, generated, err := backend.SecretFromEnv()
	if err != nil {
		return nil, err
	}
	seeded, err := b.SeedWaitpointSecret(ctx, backend.DefaultKid, secret)
	if err != nil {
		return nil, fmt.Errorf("seed waitpoint key: %w", err)
	}
	s := &Summary{Path: b.Path(), SQLiteVersion: b.SQLiteVersion(), Applied: len(applied), HMACKey: "present"}
	switch {
	case seeded && generated:
		s.HMACKey = "generated"
	case seeded:
		s.HMACKey = "seeded from " + backend.HMACSecretEnv
	}
	s.AlreadyInitialized = len(applied) == 0 && !seeded
	m, err := migrate.New(ctx, b)
	if err != nil {
		return nil, err
	}
	if s.SchemaVersion, err = m.Version(ctx); err != nil {
		return nil, err
	}
	if s.JournalMode, err = b.JournalMode(ctx); err != nil {
		return nil, err
	}
	return s, nil
}
