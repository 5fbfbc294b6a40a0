package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"

	"github.com/pressly/goose/v3"

	"github.com/ffsqlite/ffsqlite/migrations"
	"github.com/ffsqlite/ffsqlite/schemafacts"
)

// ExpectedFacts replays every embedded migration into a private in-memory
// database and returns its schema facts: what a fully migrated file must
// look like. inspect drift and adopt compare against it.
func ExpectedFacts(ctx context.Context) (*schemafacts.Facts, error) {
	return ExpectedFactsAt(ctx, migrations.LatestVersion)
}

// ExpectedFactsAt is ExpectedFacts for a file at version v: the embedded
// migrations up to and including v replayed into memory (v = 0: none).
func ExpectedFactsAt(ctx context.Context, v int64) (*schemafacts.Facts, error) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // a private :memory: database lives on one connection
	p, err := goose.NewProvider(goose.DialectSQLite3, db, migrations.FS(),
		goose.WithDisableGlobalRegistry(true), goose.WithSlog(slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, err
	}
	if v > 0 {
		if _, err := p.UpTo(ctx, v); err != nil {
			return nil, fmt.Errorf("replay migrations up to %d in memory: %w", v, err)
		}
	}
	return schemafacts.Collect(ctx, db)
}
