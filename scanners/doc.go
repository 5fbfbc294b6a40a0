// Package scanners runs ffsqlite's background reconcilers: the loops that
// make a local engine behave like production (budget resets, worker TTL
// sweep, delayed promotion, lease expiry, attempt timeouts, execution
// deadlines). Upstream's SQLite backend runs only the first two; ffsqlite
// runs them all.
//
// A Reconciler processes one bounded batch per Tick. A Supervisor runs
// each enabled reconciler on its own cadence (the first run one interval
// after Start, like upstream), one tick at a time against the database,
// survives failing and panicking ticks, logs one line per tick and keeps
// counters; Shutdown drains running ticks up to a deadline. Both
// `ffsqlite scan` and `ffsqlite serve` use it.
//
// The reconcilers are one table (table.go): a row per reconciler with its
// name (which is also its flag), default interval, environment variable,
// batch and backend call. Adding a reconciler is one row plus its backend
// function. Resolve turns flags, environment and defaults into the Config
// both commands run.
package scanners
