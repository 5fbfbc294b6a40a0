// Package backend is ffsqlite's FlowFabric engine on SQLite: Open, the
// guarded per-path database handle, and the engine's operations on it.
//
// # What the exported API is for
//
// The exported names are the engine as ffsqlite's own layers use it: the
// REST routes and the HTTP worker loop (package server) call the
// execution, budget and worker operations; the reconcilers (package
// scanners) call the sweep entry points (ExpireLeases, PromoteDelayed, …);
// dbinit and the commands open, migrate through WriterDB and seed the
// waitpoint key; inspect reads through ReaderDB. Go tests of this module,
// and Go programs that run the dev engine in process instead of over HTTP
// (the README's "Go API" figures), call the same operations, with the
// codecs their arguments use (ExecutionID, Handle, Bytes). It is not an
// SDK kept for hypothetical callers: a name no layer uses is removed (as
// the worker heartbeat, mark-dead and list calls were). Subscribe, the
// in-process outbox feed, is kept for the dashboard's live updates and the
// long-polls of the coming flow work; nothing in the product calls it yet
// (stream tails wake through StreamChanged, stream.go).
//
// # Layout
//
// One file per concern; shared helpers are named for what they are:
//
//   - the handle: open.go (Open, Close, the pools), options.go,
//     location.go, memory.go, registry.go (one backend per path),
//     guard.go (FF_DEV_MODE);
//   - the writer: write.go holds b.write and the wtx helpers, the one
//     write entry point of engine code; it runs each function in a
//     transaction of backend/internal/writer (held writer connection,
//     group commit, busy retry, after-commit hooks, background
//     checkpoints), while backend keeps the guard, the registry, the pools
//     and the switch to WAL;
//   - values and codecs: ids.go, handle.go, bytes.go, state.go, policy.go;
//     the formats inspect also reads are in internal/codec;
//   - rules and errors: validate.go (every input rule, once), errors.go
//     (error kinds, not-found errors);
//   - shared transition helpers: terminal.go (wtx.terminate, the one
//     terminal transition, and attempt end), head.go (the execution head
//     read), fence.go (lease fencing), partitions.go (partition
//     enumeration), events.go (outbox rows, Subscribe);
//   - operations: create.go, claim.go (Claim, ClaimMany, PeekClaimable,
//     the claim's rule; fresh, retry, reclaim and resumed claims),
//     readyindex.go (the claim's ready index in the writer connection's
//     TEMP schema), lease.go, complete.go, fail.go, operator.go (cancel,
//     priority, replay, revoke), reads.go, grant.go (route 14's claim
//     grants and their consumption), reclaim.go (route 13's reclaim
//     grants, reclaim, canonical lease-expiry marking);
//   - durable waits (the pure rules are in package suspension): suspend.go,
//     waitpoint.go (pending waitpoints, close, list), signal.go (delivery,
//     observe), resume.go (resume and the resumed attempt), delay.go,
//     holder_cancel.go (a worker's cancel);
//   - flows: flow.go (create, add member, lookups, the flow partition),
//     flow_edge.go (stage, apply, edge-group policies), flow_resolve.go
//     (resolution on every terminal transition, the worklist cascade,
//     skips, data passing, group decisions), flow_cancel.go (route 19,
//     its backlog and reconciler), flow_replay.go (a member's dependency
//     reset), flow_wait.go (a worker waiting for its children),
//     flow_reconcile.go (the dependency reconciler), flow_reads.go,
//     flow_seed.go; background.go runs an asynchronous flow cancel's
//     dispatch until Close;
//   - reconcilers: sweep.go (the batch machinery), reconcile.go
//     (SweepReport), expiry.go, timeouts.go, promote.go,
//     suspension_timeout.go (suspension timeouts, pending-waitpoint
//     expiry), and the budget and worker sweeps beside their aggregates;
//   - attempt streams and progress: stream.go (fenced append, retention,
//     close reasons, the tails' wake-up hub), stream_summary.go (the
//     summary document's merge patch), stream_reads.go (range, tail,
//     summary), stream_validate.go (their input rules and cursors),
//     progress.go;
//   - aggregates: budget.go, budget_usage.go, worker.go, hmac.go;
//     quota.go (route 26) and quota_admission.go (ffsqlite's
//     policy.quota_policy_id: admission at claim, the quota-unblock sweep).
package backend
