package dbops

import (
	"context"
	"slices"
	"testing"

	"github.com/ffsqlite/ffsqlite/migrate"
)

// Every table of the schema is either emptied or kept by reset: a
// migration that adds a table fails here until it is placed.
func TestTablesCoverTheSchema(t *testing.T) {
	t.Parallel()
	facts, err := migrate.ExpectedFacts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	kept := keptTables()
	emptied := emptiedTables()
	for _, tbl := range facts.Tables {
		_, k := kept[tbl.Name]
		e := slices.Contains(emptied, tbl.Name)
		if k == e {
			t.Errorf("table %s: kept %v, emptied %v (want exactly one)", tbl.Name, k, e)
		}
	}
	names := map[string]bool{}
	for _, tbl := range facts.Tables {
		names[tbl.Name] = true
	}
	for _, e := range emptied {
		if !names[e] {
			t.Errorf("emptied table %s is not in the schema", e)
		}
	}
	for k := range kept {
		if !names[k] && k != "goose_db_version" && k != "_sqlx_migrations" && k != "sqlite_sequence" {
			t.Errorf("kept table %s is not in the schema", k)
		}
	}
}
