package scanners

import (
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
)

// The reconcilers' names: each is also the interval flag of `ffsqlite
// scan` and `ffsqlite serve` (--budget-reset 30s) and an --only value.
const (
	BudgetReset       = "budget-reset"
	WorkerTTL         = "worker-ttl"
	DelayedPromoter   = "delayed-promoter"
	LeaseExpiry       = "lease-expiry"
	AttemptTimeout    = "attempt-timeout"
	ExecutionDeadline = "execution-deadline"
	SuspensionTimeout = "suspension-timeout"
	// PendingWaitpointExpiry closes pending waitpoints that no suspend
	// bound before their expiry.
	PendingWaitpointExpiry = "pending-waitpoint-expiry"
	// Dependency resolves flow edges no terminal transition resolved.
	Dependency = "dependency"
	// CancelBacklog finishes the member cancels of cancel_all flow
	// cancels that the live dispatch missed.
	CancelBacklog = "cancel-backlog"
	// QuotaUnblock makes executions blocked by their quota eligible again
	// once the quota's window or concurrency allows them.
	QuotaUnblock = "quota-unblock"
)

// table is every reconciler, one row each, in run and display order:
// name (= flag), one line of help, default interval, upstream's
// environment variable and its unit (none: no variable), batch size and
// the backend call that processes one batch. Adding a reconciler is a row
// here plus its backend function of the BackendSweep shape; the flags,
// the environment, --only, `scan --once`, serve and the metrics follow.
var table = []Definition{
	// runtime.md §4.2: due budgets, earliest first, re-checked inside
	// BEGIN IMMEDIATE; usage zeroed, last-breach cleared, next reset
	// scheduled; lifetime breach counters kept.
	{Name: BudgetReset, Summary: "zero the usage of budgets whose reset is due and reschedule them",
		Default: 15 * time.Second, Env: "FF_BUDGET_RESET_INTERVAL_S", EnvUnit: time.Second,
		Batch: backend.DefaultBudgetResetBatch, Sweep: (*backend.Backend).ResetDueBudgets},
	// runtime.md §4.3: registrations whose last heartbeat + TTL has passed
	// are deleted, each with a ttl_swept event. Upstream hard-codes 30 s
	// and reads no variable, so neither does ffsqlite.
	{Name: WorkerTTL, Summary: "delete worker registrations whose heartbeat TTL has expired",
		Default: 30 * time.Second,
		Batch:   backend.DefaultWorkerSweepBatch, Sweep: (*backend.Backend).SweepExpiredWorkers},
	// Delayed executions (a future delay_until, or a retry backoff) whose
	// time has come become waiting.
	{Name: DelayedPromoter, Summary: "move delayed executions whose delay has passed to waiting",
		Default: 750 * time.Millisecond, Env: "FF_DELAYED_PROMOTER_INTERVAL_MS", EnvUnit: time.Millisecond,
		Batch: 100, Sweep: (*backend.Backend).PromoteDelayed},
	// Expired leases: the attempt is interrupted and the execution goes
	// back to the queue for a reclaim attempt while lease_reclaim_count <
	// max_reclaim_count, else it fails.
	{Name: LeaseExpiry, Summary: "return executions whose lease expired to the queue (or fail them past max_reclaim_count)",
		Default: 1500 * time.Millisecond, Env: "FF_LEASE_EXPIRY_INTERVAL_MS", EnvUnit: time.Millisecond,
		Batch: 100, Sweep: (*backend.Backend).ExpireLeases},
	// Running attempts past their policy's timeout_policy.attempt_timeout_ms
	// fail with class timeout (the retry policy applies).
	{Name: AttemptTimeout, Summary: "fail attempts that ran longer than the policy's attempt timeout",
		Default: 2 * time.Second, Env: "FF_ATTEMPT_TIMEOUT_INTERVAL_S", EnvUnit: time.Second,
		Batch: 100, Sweep: (*backend.Backend).TimeoutAttempts},
	// Non-terminal executions past their deadline become terminal /
	// expired; a held lease is released.
	{Name: ExecutionDeadline, Summary: "expire executions whose deadline has passed",
		Default: 5 * time.Second, Env: "FF_EXECUTION_DEADLINE_INTERVAL_S", EnvUnit: time.Second,
		Batch: 100, Sweep: (*backend.Backend).ExpireDeadlines},
	// engine-canonical.md §2.2: open suspensions past timeout_at_ms get
	// their timeout behaviour: fail / cancel / expire end the execution,
	// auto_resume_with_timeout_signal resumes it, escalate hands it to an
	// operator.
	{Name: SuspensionTimeout, Summary: "apply the timeout behaviour of suspensions whose timeout has passed",
		Default: 2 * time.Second, Env: "FF_SUSPENSION_TIMEOUT_INTERVAL_S", EnvUnit: time.Second,
		Batch: 100, Sweep: (*backend.Backend).ExpireSuspensions},
	// Pending waitpoints (created ahead of a suspend) past their expiry
	// close with reason never_committed; their buffered signals stay
	// recorded.
	{Name: PendingWaitpointExpiry, Summary: "close pending waitpoints that expired before a suspend bound them",
		Default: 5 * time.Second, Env: "FF_PENDING_WP_EXPIRY_INTERVAL_S", EnvUnit: time.Second,
		Batch: 100, Sweep: (*backend.Backend).ExpirePendingWaitpoints},
	// engine-canonical.md §2.1: the safety net of dependency resolution
	// (every terminal transition of a member resolves its edges in its
	// own transaction): applied edges left unresolved behind an ended
	// upstream (a flow_cascade cancel, another process's write), and
	// blocked members whose edges have all resolved.
	{Name: Dependency, Summary: "resolve flow dependency edges whose upstream ended without resolving them",
		Default: 15 * time.Second, Env: "FF_DEPENDENCY_RECONCILER_INTERVAL_S", EnvUnit: time.Second,
		Batch: backend.DefaultFlowReconcileBatch, Sweep: (*backend.Backend).ReconcileDependencies},
	// Members of cancel_all flow cancels still owed a cancel 30 s after
	// the cancel (the live dispatch failed or the process stopped) are
	// cancelled and acknowledged.
	{Name: CancelBacklog, Summary: "finish the member cancels of cancelled flows that the live dispatch missed",
		Default: 15 * time.Second, Env: "FF_CANCEL_RECONCILER_INTERVAL_S", EnvUnit: time.Second,
		Batch: backend.DefaultFlowReconcileBatch, Sweep: (*backend.Backend).ReconcileFlowCancels},
	// engine-canonical.md §2.4 (ffsqlite's quota extension): executions
	// rate_limited by their quota are re-checked, and made waiting when
	// its window has slid or a slot was released; the policies' slot
	// counts are refreshed. Upstream's unblock scanner runs every 5 s.
	{Name: QuotaUnblock, Summary: "make executions blocked by their quota waiting again once the quota allows them",
		Default: 5 * time.Second, Env: "FF_UNBLOCK_INTERVAL_S", EnvUnit: time.Second,
		Batch: backend.DefaultQuotaUnblockBatch, Sweep: (*backend.Backend).UnblockQuotas},
}
