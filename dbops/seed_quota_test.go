package dbops_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ffsqlite/ffsqlite/dbops"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// A seed file's executions may name its own quotas (policy.quota_policy_id,
// ffsqlite's extension): quotas apply first. Naming a quota the file and
// the database lack refuses the whole file.
func TestSeedAttachesQuotas(t *testing.T) {
	t.Parallel()
	b := testdb.Open(t)
	attached := strings.Replace(execEntry("11111111-2222-4333-8444-555555555555", "default"), `"now":0`,
		`"now":0,"policy":{"quota_policy_id":"6c8e2f0a-1b2c-4d3e-8f40-5a6b7c8d9e0f"}`, 1)
	if _, err := dbops.Seed(context.Background(), b.Path(), []byte(`{"executions":[`+attached+`],"quotas":[`+quotaEntry+`]}`),
		dbops.SeedOptions{Backend: quiet}); err != nil {
		t.Fatal(err)
	}
	if count(t, b, "ff_exec_core") != 1 || count(t, b, "ff_quota_policy") != 1 {
		t.Fatal("wrong row counts after the seed")
	}
	orphan := strings.Replace(strings.Replace(attached, "6c8e2f0a-1b2c-4d3e-8f40-5a6b7c8d9e0f", "0f1e2d3c-4b5a-4697-8877-665544332211", 1),
		"11111111-2222", "21111111-2222", 1)
	_, err := dbops.Seed(context.Background(), b.Path(), []byte(`{"executions":[`+orphan+`]}`), dbops.SeedOptions{Backend: quiet})
	if err == nil || !strings.Contains(err.Error(), "policy.quota_policy_id: no quota policy 0f1e2d3c-4b5a-4697-8877-665544332211") {
		t.Fatalf("orphan attachment: %v", err)
	}
	if count(t, b, "ff_exec_core") != 1 {
		t.Fatal("a refused seed wrote an execution")
	}
}
