package dbops_test

import (
	"testing"

	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }
