#!/usr/bin/env bash
# lint-migrations.sh [PG_MANIFEST] [SQLITE_DIR] [SKIP_FILE]
#
# Parity-drift lint between the upstream Postgres migrations (listed, one
# file name per line, in the committed manifest migrations/pg-manifest.txt)
# and the SQLite migrations in migrations/. Every PG migration must have a
# same-named SQLite sibling or an entry in .sqlite-skip; every SQLite
# migration must have a PG sibling; every .sqlite-skip entry must name a PG
# migration.
#
# .sqlite-skip format: one PG migration file name per line; lines starting
# with '#' are comments; blank lines are ignored; anything after the first
# whitespace-separated field (e.g. an inline '# issue:NNN') is ignored.
#
# Exit status: 0 parity OK, 1 drift found, 2 a migrations dir (or the PG
# manifest) is missing.
set -euo pipefail
export LC_ALL=C

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_MANIFEST="${1:-$ROOT/migrations/pg-manifest.txt}"
SQLITE_DIR="${2:-$ROOT/migrations}"
SKIP_FILE="${3:-$SQLITE_DIR/.sqlite-skip}"

MIGRATION_RE='^[0-9]+_.*\.sql$'

if [[ ! -f "$PG_MANIFEST" ]]; then
    echo "ERROR: PG migrations dir missing: $PG_MANIFEST" >&2
    exit 2
fi
if [[ ! -d "$SQLITE_DIR" ]]; then
    echo "ERROR: SQLite migrations dir missing: $SQLITE_DIR" >&2
    exit 2
fi

# PG migration names from the manifest (surrounding whitespace trimmed).
pg_files="$(awk '{ $1 = $1; print }' "$PG_MANIFEST" | grep -E "$MIGRATION_RE" | sort -u || true)"
# SQLite migration files actually present.
sqlite_files="$(for f in "$SQLITE_DIR"/*; do [[ -f "$f" ]] && printf '%s\n' "${f##*/}"; done | grep -E "$MIGRATION_RE" | sort -u || true)"
# Skip entries: drop comments and blank lines, keep the first field.
skip_entries=""
if [[ -f "$SKIP_FILE" ]]; then
    skip_entries="$(grep -vE '^[[:space:]]*(#|$)' "$SKIP_FILE" | awk '{ print $1 }' | sort -u || true)"
fi

# lines_not_in A B: lines of A that are not lines of B (both sorted, unique).
lines_not_in() {
    comm -23 <(printf '%s\n' "$1" | sed '/^$/d') <(printf '%s\n' "$2" | sed '/^$/d')
}

fail=0

missing="$(lines_not_in "$pg_files" "$(printf '%s\n%s\n' "$sqlite_files" "$skip_entries" | sort -u)")"
if [[ -n "$missing" ]]; then
    echo "ERROR: PG migrations without SQLite sibling or .sqlite-skip entry:" >&2
    printf '%s\n' "$missing" | sed 's/^/  /' >&2
    fail=1
fi

orphans="$(lines_not_in "$sqlite_files" "$pg_files")"
if [[ -n "$orphans" ]]; then
    echo "ERROR: SQLite migrations without PG sibling:" >&2
    printf '%s\n' "$orphans" | sed 's/^/  /' >&2
    fail=1
fi

stale="$(lines_not_in "$skip_entries" "$pg_files")"
if [[ -n "$stale" ]]; then
    echo "ERROR: .sqlite-skip entries do not match any PG migration filename:" >&2
    printf '%s\n' "$stale" | sed 's/^/  /' >&2
    echo "  (remove stale entries or fix the filename to match $PG_MANIFEST)" >&2
    fail=1
fi

if [[ "$fail" -ne 0 ]]; then
    exit 1
fi

pairs="$(printf '%s\n' "$pg_files" | sed '/^$/d' | wc -l | tr -d ' ')"
echo "OK: migration parity verified ($pairs pairs)"
