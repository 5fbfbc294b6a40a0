// Package migrations holds the goose SQL migrations that create the
// FlowFabric SQLite schema. They are hand-ported 1:1 from upstream
// FlowFabric's SQLite migrations (versions 1–14, 16, 17, 18, 20, 21, 22;
// 15 was never shipped and 19 is Postgres-only, see .sqlite-skip), so that
// after all Up migrations the schema matches upstream's exactly.
//
// Run them with goose's Provider:
//
//	p, err := goose.NewProvider(goose.DialectSQLite3, db, migrations.FS())
//	...
//	_, err = p.Up(ctx)
package migrations

import (
	"embed"
	"io/fs"
	"slices"
)

//go:embed *.sql
var files embed.FS

// LatestVersion is the highest migration version in this package.
const LatestVersion = 22

// versions lists every migration version in ascending order.
var versions = []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 20, 21, 22}

// FS returns the embedded migration files with the *.sql files at its root,
// ready to be passed to goose.NewProvider.
func FS() fs.FS { return files }

// Versions returns the migration versions in ascending order (a fresh copy
// on every call).
func Versions() []int64 { return slices.Clone(versions) }

// AnnotatedVersions returns, in ascending order, the versions whose Up
// migration inserts a row into ff_migration_annotation (all except 18, 21
// and 22).
func AnnotatedVersions() []int64 {
	return []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 20}
}
