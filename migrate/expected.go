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
	if _, err := p.Up(ctx); err != nil {
		return nil, fmt.Errorf("replay migrations in memory: %w", err)
	}
	return schemafacts.Collect(ctx, db)
}
