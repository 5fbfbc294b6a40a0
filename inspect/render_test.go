package inspect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/inspect"
	"github.com/ffsqlite/ffsqlite/internal/inspecttest"
	"github.com/ffsqlite/ffsqlite/render"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// goldenCases are the rendered reports of the seeded database, each
// printed as text and as JSON (NAME.golden, NAME.json.golden).
// `ffsqlite inspect`'s own test prints the same files through the CLI
// (cmd/ffsqlite/inspect_test.go lists the matching arguments).
var goldenCases = []struct {
	name  string
	print func(ctx context.Context, b *backend.Backend, p inspect.Printer) error
}{
	{"overview", func(ctx context.Context, b *backend.Backend, p inspect.Printer) error {
		return show(inspect.Overview(ctx, b, inspect.OverviewOptions{NowMS: p.NowMS}))(p.Overview)
	}},
	{"executions", executions(inspect.ExecutionFilter{})},
	{"executions_delayed", executions(inspect.ExecutionFilter{State: "delayed"})},
	{"executions_lane_llm", executions(inspect.ExecutionFilter{Lane: "llm", Limit: 2})},
	{"executions_flow", executions(inspect.ExecutionFilter{Flow: inspecttest.SeedFlowDiamond})},
	{"execution_retried", execution(inspecttest.SeedExec(5))},
	{"execution_suspended", execution(inspecttest.SeedExec(6))},
	{"execution_resumed", execution(inspecttest.SeedExec(10))},
	{"waitpoints", func(ctx context.Context, b *backend.Backend, p inspect.Printer) error {
		return show(inspect.Waitpoints(ctx, b.ReaderDB(), inspect.DefaultLimit))(p.Waitpoints)
	}},
	{"execution_waiting", execution(inspecttest.SeedExec(1))},
	{"execution_partition3", execution(inspecttest.SeedUUID(18))},
	{"flows", func(ctx context.Context, b *backend.Backend, p inspect.Printer) error {
		return show(inspect.Flows(ctx, b.ReaderDB(), inspect.DefaultLimit))(p.Flows)
	}},
	{"flow_diamond", flow(inspecttest.SeedFlowDiamond)},
	{"flow_failed", flow(inspecttest.SeedFlowFailed)},
	{"budgets", func(ctx context.Context, b *backend.Backend, p inspect.Printer) error {
		return show(inspect.Budgets(ctx, b.ReaderDB(), p.NowMS))(p.Budgets)
	}},
	{"budget_tokens", budget("b-tokens")},
	{"budget_breached", budget("b-breached")},
	{"quotas", func(ctx context.Context, b *backend.Backend, p inspect.Printer) error {
		return show(inspect.Quotas(ctx, b.ReaderDB(), p.NowMS))(p.Quotas)
	}},
	{"workers", func(ctx context.Context, b *backend.Backend, p inspect.Printer) error {
		return show(inspect.Workers(ctx, b.ReaderDB(), p.NowMS))(p.Workers)
	}},
	{"events", events(nil, "", 0)},
	{"events_lease_after", events([]string{"lease"}, "3", 2)},
	{"events_cursor", events(nil, "completion:6,lease:6,signal:0,operator:1", 0)},
	{"schema", func(ctx context.Context, b *backend.Backend, p inspect.Printer) error {
		return show(inspect.Schema(ctx, b.ReaderDB()))(p.Schema)
	}},
	{"drift", func(ctx context.Context, b *backend.Backend, p inspect.Printer) error {
		d, err := inspect.Drift(ctx, b.ReaderDB())
		if err != nil {
			return err
		}
		return p.Drift(d, b.Path())
	}},
}

// show hands a report, or its error, to a Printer method.
func show[T any](r T, err error) func(func(T) error) error {
	return func(print func(T) error) error {
		if err != nil {
			return err
		}
		return print(r)
	}
}

func executions(f inspect.ExecutionFilter) func(context.Context, *backend.Backend, inspect.Printer) error {
	return func(ctx context.Context, b *backend.Backend, p inspect.Printer) error {
		return show(inspect.Executions(ctx, b.ReaderDB(), f))(p.Executions)
	}
}

func execution(id string) func(context.Context, *backend.Backend, inspect.Printer) error {
	return func(ctx context.Context, b *backend.Backend, p inspect.Printer) error {
		return show(inspect.Execution(ctx, b.ReaderDB(), id, p.NowMS))(p.Execution)
	}
}

func flow(id string) func(context.Context, *backend.Backend, inspect.Printer) error {
	return func(ctx context.Context, b *backend.Backend, p inspect.Printer) error {
		return show(inspect.Flow(ctx, b.ReaderDB(), id))(p.Flow)
	}
}

func budget(id string) func(context.Context, *backend.Backend, inspect.Printer) error {
	return func(ctx context.Context, b *backend.Backend, p inspect.Printer) error {
		return show(inspect.Budget(ctx, b.ReaderDB(), id, p.NowMS))(p.Budget)
	}
}

func events(outboxes []string, after string, limit int) func(context.Context, *backend.Backend, inspect.Printer) error {
	return func(ctx context.Context, b *backend.Backend, p inspect.Printer) error {
		obs, err := inspect.ValidateOutboxes(outboxes)
		if err != nil {
			return err
		}
		q := inspect.EventQuery{Outboxes: obs, Limit: limit}
		if after != "" {
			if q.After, err = inspect.ParseCursor(after, obs); err != nil {
				return err
			}
		}
		return show(inspect.Events(ctx, b.ReaderDB(), q))(p.Events)
	}
}

// TestGolden renders every report of the seeded database, in UTC and
// without colour, as text and as JSON, and compares it with its golden
// file; -update rewrites them.
func TestGolden(t *testing.T) {
	path := seeded(t)
	ctx := context.Background()
	b := openRO(t, path)
	defer b.Close(ctx)
	for _, c := range goldenCases {
		for _, asJSON := range []bool{false, true} {
			name := c.name
			if asJSON {
				name += ".json"
			}
			t.Run(name, func(t *testing.T) {
				var out bytes.Buffer
				p := inspect.Printer{W: &out, JSON: asJSON, Painter: render.Painter{}, NowMS: inspecttest.SeedNowMS, Zone: time.UTC}
				if err := c.print(ctx, b, p); err != nil {
					t.Fatal(err)
				}
				if asJSON && !json.Valid(out.Bytes()) {
					t.Fatalf("invalid JSON:\n%s", out.String())
				}
				golden(t, name, inspecttest.Normalize(out.String(), path, b.SQLiteVersion()))
			})
		}
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", "golden", name+".golden")
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (go test ./inspect -run TestGolden -update writes it)", err)
	}
	if string(want) != got {
		os.WriteFile(file+".FAIL", []byte(got), 0o644)
		t.Errorf("%s differs from the golden file (got written to %s.FAIL; -update rewrites):\n%s", name, file, got)
	}
}
