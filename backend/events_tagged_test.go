package backend_test

import (
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// Claim and Complete write their lease and completion events from the
// execution columns read back by the statement that changed the row
// (RETURNING) instead of INSERT ... SELECT; the rows must hold exactly
// what the SELECT would copy, types included.
func TestHotPathEventsCopyExecutionColumns(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		cases := []struct {
			name string
			tags map[string]string
			flow string // SQL expression for flow_id, "" keeps NULL
		}{
			{"plain", nil, ""},
			{"instance tag", map[string]string{"cairn.instance_id": "inst-1", "other": "x"}, ""},
			{"flow blob", map[string]string{"cairn.instance_id": ""}, "x'00112233445566778899aabbccddeeff'"},
			{"empty flow blob", nil, "x''"},
			{"text flow", nil, "'flow-as-text'"},
		}
		for _, c := range cases {
			a := engArgs(func(a *backend.CreateExecutionArgs) { a.Tags = c.tags; a.Namespace = "ns-" + c.name })
			if _, err := b.CreateExecution(engCtx, a); err != nil {
				t.Fatal(err)
			}
			part, key := int64(a.ExecutionID.Partition), a.ExecutionID.UUID[:]
			if c.flow != "" {
				engExec(t, b, `UPDATE ff_exec_core SET flow_id = `+c.flow+` WHERE partition_key = ? AND execution_id = ?`, part, key)
			}
			l := engClaim(t, b)
			if l.ExecutionID != a.ExecutionID {
				t.Fatalf("%s: claimed %s, want %s", c.name, l.ExecutionID, a.ExecutionID)
			}
			if err := b.Complete(engCtx, l.Handle, []byte("r")); err != nil {
				t.Fatal(err)
			}
			var wantNS, wantTag, wantFlow string
			if err := b.ReaderDB().QueryRow(`SELECT quote(json_extract(raw_fields, '$.namespace')),
  quote(json_extract(raw_fields, '$.tags."cairn.instance_id"')), quote(flow_id)
FROM ff_exec_core WHERE partition_key = ? AND execution_id = ?`, part, key).Scan(&wantNS, &wantTag, &wantFlow); err != nil {
				t.Fatal(err)
			}
			rows, err := b.ReaderDB().Query(`SELECT event_type, quote(namespace), quote(instance_tag) FROM ff_lease_event
WHERE execution_id = ? ORDER BY event_id`, a.ExecutionID.String())
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for rows.Next() {
				var typ, ns, tag string
				if err := rows.Scan(&typ, &ns, &tag); err != nil {
					t.Fatal(err)
				}
				types = append(types, typ)
				if ns != wantNS || tag != wantTag {
					t.Errorf("%s: lease event %s has namespace %s, instance_tag %s; want %s, %s", c.name, typ, ns, tag, wantNS, wantTag)
				}
			}
			rows.Close()
			if len(types) != 2 || types[0] != "acquired" || types[1] != "released" {
				t.Errorf("%s: lease events %v, want [acquired released]", c.name, types)
			}
			var ns, tag, flow, outcome string
			if err := b.ReaderDB().QueryRow(`SELECT outcome, quote(namespace), quote(instance_tag), quote(flow_id)
FROM ff_completion_event WHERE partition_key = ? AND execution_id = ?`, part, key).Scan(&outcome, &ns, &tag, &flow); err != nil {
				t.Fatal(err)
			}
			if outcome != "success" || ns != wantNS || tag != wantTag || flow != wantFlow {
				t.Errorf("%s: completion event (%s, %s, %s, %s); want (success, %s, %s, %s)", c.name, outcome, ns, tag, flow, wantNS, wantTag, wantFlow)
			}
		}
	})
}
