package server

import (
	"context"
	"database/sql"
	"embed"
	"io/fs"
	"maps"
	"net/http"
	"slices"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/inspect"
	"github.com/ffsqlite/ffsqlite/migrations"
)

//go:embed dashboard
var dashboardFS embed.FS

// uiLimit is how many recent executions the dashboard lists.
const uiLimit = 50

func (s *Server) dashboardIndex() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, _ := dashboardFS.ReadFile("dashboard/index.html")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
}

func (s *Server) dashboardAssets() http.Handler {
	sub, _ := fs.Sub(dashboardFS, "dashboard")
	return http.StripPrefix("/ui/", http.FileServerFS(sub))
}

type uiExecution struct {
	ExecutionID   string `json:"execution_id"`
	LaneID        string `json:"lane_id"`
	ExecutionKind string `json:"execution_kind"`
	PublicState   string `json:"public_state"`
	Priority      int64  `json:"priority"`
	Attempts      int64  `json:"attempts"`
	CreatedAtMS   int64  `json:"created_at_ms"`
}

type uiDimension struct {
	Dimension string `json:"dimension"`
	Usage     int64  `json:"usage"`
	HardLimit int64  `json:"hard_limit"`
	SoftLimit int64  `json:"soft_limit"`
	// Status is inspect.DimensionStatus: "ok", "over_soft" or "at_hard".
	Status string `json:"status"`
}

type uiBudget struct {
	BudgetID   string        `json:"budget_id"`
	Dimensions []uiDimension `json:"dimensions"`
	// Status is inspect's: "ok", "soft_breach" or "breach".
	Status          string `json:"status"`
	BreachCount     int64  `json:"breach_count"`
	SoftBreachCount int64  `json:"soft_breach_count"`
}

type uiWorker struct {
	WorkerInstanceID string   `json:"worker_instance_id"`
	WorkerID         string   `json:"worker_id"`
	Lanes            []string `json:"lanes"`
	LastHeartbeatMS  int64    `json:"last_heartbeat_ms"`
	ExpiresAtMS      int64    `json:"expires_at_ms"`
	// Status is "alive" or "expired" (liveness TTL passed).
	Status string `json:"status"`
}

type uiScanner struct {
	Name      string `json:"name"`
	Ticks     uint64 `json:"ticks"`
	Processed uint64 `json:"processed"`
	Errors    uint64 `json:"errors"`
	LastRunMS int64  `json:"last_run_ms"`
}

type uiStateResponse struct {
	Database      string           `json:"database"`
	SQLiteVersion string           `json:"sqlite_version"`
	SchemaVersion int64            `json:"schema_version"`
	NowMS         int64            `json:"now_ms"`
	States        map[string]int64 `json:"states"`
	Executions    []uiExecution    `json:"executions"`
	Budgets       []uiBudget       `json:"budgets"`
	Workers       []uiWorker       `json:"workers"`
	Scanners      []uiScanner      `json:"scanners"`
}

// GET /ui/api/state: everything the dashboard draws, in one read.
func (s *Server) uiState(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	out := uiStateResponse{
		Database: s.b.Path(), SQLiteVersion: s.b.SQLiteVersion(), SchemaVersion: migrations.LatestVersion,
		NowMS: s.b.Now(), States: map[string]int64{}, Executions: []uiExecution{}, Budgets: []uiBudget{},
		Workers: []uiWorker{}, Scanners: []uiScanner{},
	}
	if s.scanners != nil {
		for _, st := range s.scanners.Stats() {
			out.Scanners = append(out.Scanners, uiScanner{Name: st.Reconciler, Ticks: st.Ticks, Processed: st.Processed, Errors: st.Errors, LastRunMS: st.LastTickMS})
		}
	}
	if err := s.readUIState(ctx, &out); err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// readUIState reads the dashboard's lists through the inspect package, so
// the page and `ffsqlite inspect` show the same rows from the same
// queries; only the per-state counts are read here.
func (s *Server) readUIState(ctx context.Context, out *uiStateResponse) error {
	db := s.b.ReaderDB()
	rows, err := db.QueryContext(ctx, "SELECT public_state, count(*) FROM ff_exec_core GROUP BY public_state")
	if err != nil {
		return err
	}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			rows.Close()
			return err
		}
		out.States[st] = n
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	execs, err := inspect.Executions(ctx, db, inspect.ExecutionFilter{Limit: uiLimit})
	if err != nil {
		return err
	}
	for _, e := range execs.Executions {
		attempts := int64(0)
		if e.StartedAtMS != nil {
			attempts = e.AttemptIndex + 1
		}
		out.Executions = append(out.Executions, uiExecution{
			ExecutionID: e.ID, LaneID: e.Lane, ExecutionKind: deref(e.ExecutionKind), PublicState: e.PublicState,
			Priority: e.Priority, Attempts: attempts, CreatedAtMS: e.CreatedAtMS,
		})
	}
	budgets, err := inspect.Budgets(ctx, db, out.NowMS)
	if err != nil {
		return err
	}
	for _, bg := range budgets.Budgets {
		ub := uiBudget{BudgetID: bg.ID, Status: bg.Status, BreachCount: bg.BreachCount, SoftBreachCount: bg.SoftBreachCount}
		dims := map[string]bool{}
		for _, m := range []map[string]int64{bg.Usage, bg.HardLimits, bg.SoftLimits} {
			for d := range m {
				dims[d] = true
			}
		}
		for _, d := range slices.Sorted(maps.Keys(dims)) {
			ub.Dimensions = append(ub.Dimensions, uiDimension{
				Dimension: d, Usage: bg.Usage[d], HardLimit: bg.HardLimits[d], SoftLimit: bg.SoftLimits[d],
				Status: inspect.DimensionStatus(bg.Usage[d], bg.HardLimits[d], bg.SoftLimits[d])})
		}
		out.Budgets = append(out.Budgets, ub)
	}
	workers, err := inspect.Workers(ctx, db, out.NowMS)
	if err != nil {
		return err
	}
	for _, wk := range workers.Workers {
		out.Workers = append(out.Workers, uiWorker{WorkerInstanceID: wk.WorkerInstanceID, WorkerID: wk.WorkerID,
			Lanes: wk.Lanes, LastHeartbeatMS: wk.LastHeartbeatMS, ExpiresAtMS: wk.ExpiresAtMS, Status: wk.Status})
	}
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// closeRows closes rows and reports an error that ended the iteration
// early, so a failed read is never served as a short list.
func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	rows.Close()
	return err
}

// uiSummary is what the execution detail shows above the state vector:
// why it failed, when it runs again, what it produced.
type uiSummary struct {
	FailureClass       *string `json:"failure_class"`
	FailureReason      *string `json:"failure_reason"`
	DelayUntilMS       *int64  `json:"delay_until_ms"`
	DeadlineAtMS       *int64  `json:"deadline_at_ms"`
	ResultSize         *int64  `json:"result_size"`
	PayloadSize        int64   `json:"payload_size"`
	RetryCount         int64   `json:"retry_count"`
	ReplayCount        int64   `json:"replay_count"`
	CancellationReason *string `json:"cancellation_reason"`
	// Progress is the worker's last report (POST /v1/worker/progress).
	Progress *inspect.Progress `json:"progress,omitempty"`
}

// summarize picks the summary out of inspect's detail. The failure of a
// retried execution is its last failed attempt's (the execution row keeps
// only a terminal failure).
func summarize(d *inspect.ExecutionDetail) uiSummary {
	s := uiSummary{FailureClass: d.FailureClass, FailureReason: d.FailureReason, DelayUntilMS: d.DelayUntilMS,
		DeadlineAtMS: d.DeadlineAtMS, ResultSize: d.ResultSize, PayloadSize: d.PayloadSize, RetryCount: d.RetryCount,
		ReplayCount: d.ReplayCount, CancellationReason: d.CancellationReason, Progress: d.Progress}
	if s.FailureReason == nil && s.FailureClass == nil {
		for i := len(d.Attempts) - 1; i >= 0; i-- {
			if a := d.Attempts[i]; a.FailureReason != nil || a.FailureClass != nil {
				s.FailureClass, s.FailureReason = a.FailureClass, a.FailureReason
				break
			}
		}
	}
	return s
}

// GET /ui/api/execution?id=…: info, summary, attempts and recent events.
func (s *Server) uiExecution(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := backend.ParseExecutionID(r.URL.Query().Get("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, invalidInput(err))
		return
	}
	info, err := s.b.GetExecutionInfo(ctx, id)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	attempts, err := s.b.ListAttempts(ctx, id)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	detail, err := inspect.Execution(ctx, s.b.ReaderDB(), id.String(), s.b.Now())
	if err != nil {
		writeEngineError(w, err)
		return
	}
	events := detail.Events
	if events == nil {
		events = []inspect.Event{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"info": info, "summary": summarize(detail), "attempts": attempts,
		"events": events, "now_ms": s.b.Now()})
}
