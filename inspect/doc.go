// Package inspect answers "what is my local engine doing?" from a FlowFabric
// SQLite database without writing to it. Every function is a pure query over
// a query-only handle (backend.Open with ReadOnly) that follows
// docs/storage.md and returns typed structs whose JSON form is the stable
// contract documented in docs/inspect-json.md: times are raw Unix
// milliseconds, execution ids are wire strings "{fp:N}:<uuid>", flow ids are
// uuid strings.
//
// Functions take the clock as an explicit now (Unix ms) so output is
// reproducible; the CLI passes backend.Now().
//
// The queries adapt to older schema versions: a missing column reads as
// NULL, a missing table makes list views fail with *MissingTableError and
// the overview report zero.
//
// Each report lives in a file of its own (overview.go, executions.go, …);
// Printer (render.go) renders every report as that JSON or as text for
// people, so a report and its rendering change here together; the golden
// files in testdata/golden pin both (go test -run TestGolden -update
// rewrites them). `ffsqlite inspect` only wires flags to reports and
// Printer. The value formats shared with the engine (ids, budget
// policy_json, worker sets) come from internal/codec.
package inspect
