package server

import (
	"context"
	"database/sql"
	"embed"
	"io/fs"
	"net/http"
	"strings"

	"github.com/ffsqlite/ffsqlite/backend"
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
	Usage     uint64 `json:"usage"`
	HardLimit uint64 `json:"hard_limit"`
	SoftLimit uint64 `json:"soft_limit"`
}

type uiBudget struct {
	BudgetID   string        `json:"budget_id"`
	Dimensions []uiDimension `json:"dimensions"`
}

type uiWorker struct {
	WorkerInstanceID string   `json:"worker_instance_id"`
	WorkerID         string   `json:"worker_id"`
	Lanes            []string `json:"lanes"`
	LastHeartbeatMS  int64    `json:"last_heartbeat_ms"`
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
	rows, err = db.QueryContext(ctx, `SELECT e.partition_key, e.execution_id, e.lane_id,
		coalesce(json_extract(e.raw_fields, '$.execution_kind'), ''), e.public_state, e.priority, e.created_at_ms,
		(SELECT count(*) FROM ff_attempt a WHERE a.partition_key = e.partition_key AND a.execution_id = e.execution_id)
		FROM ff_exec_core e ORDER BY e.created_at_ms DESC LIMIT ?`, uiLimit)
	if err != nil {
		return err
	}
	for rows.Next() {
		var part int64
		var raw []byte
		var e uiExecution
		if err := rows.Scan(&part, &raw, &e.LaneID, &e.ExecutionKind, &e.PublicState, &e.Priority, &e.CreatedAtMS, &e.Attempts); err != nil {
			rows.Close()
			return err
		}
		id, err := backend.ExecutionIDFromRow(part, raw)
		if err != nil {
			rows.Close()
			return err
		}
		e.ExecutionID = id.String()
		out.Executions = append(out.Executions, e)
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	rows, err = db.QueryContext(ctx, `SELECT p.budget_id, u.dimensions_key, u.current_value,
		coalesce(json_extract(p.policy_json, '$.hard_limits.' || json_quote(u.dimensions_key)), 0),
		coalesce(json_extract(p.policy_json, '$.soft_limits.' || json_quote(u.dimensions_key)), 0)
		FROM ff_budget_policy p JOIN ff_budget_usage u ON u.partition_key = p.partition_key AND u.budget_id = p.budget_id
		ORDER BY p.budget_id, u.dimensions_key LIMIT 200`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id string
		var d uiDimension
		if err := rows.Scan(&id, &d.Dimension, &d.Usage, &d.HardLimit, &d.SoftLimit); err != nil {
			rows.Close()
			return err
		}
		if n := len(out.Budgets); n == 0 || out.Budgets[n-1].BudgetID != id {
			out.Budgets = append(out.Budgets, uiBudget{BudgetID: id})
		}
		last := &out.Budgets[len(out.Budgets)-1]
		last.Dimensions = append(last.Dimensions, d)
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	rows, err = db.QueryContext(ctx, `SELECT worker_instance_id, worker_id, lanes, last_heartbeat_ms
		FROM ff_worker_registry ORDER BY worker_instance_id LIMIT 100`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var wk uiWorker
		var lanes string
		if err := rows.Scan(&wk.WorkerInstanceID, &wk.WorkerID, &lanes, &wk.LastHeartbeatMS); err != nil {
			return err
		}
		if lanes != "" {
			wk.Lanes = strings.Split(lanes, ",")
		}
		out.Workers = append(out.Workers, wk)
	}
	return rows.Err()
}

// closeRows closes rows and reports an error that ended the iteration
// early, so a failed read is never served as a short list.
func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	rows.Close()
	return err
}

type uiEvent struct {
	Outbox  string `json:"outbox"`
	EventID int64  `json:"event_id"`
	Type    string `json:"type"`
	AtMS    int64  `json:"at_ms"`
}

// GET /ui/api/execution?id=…: info, attempts and recent events.
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
	events := []uiEvent{}
	rows, err := s.b.ReaderDB().QueryContext(ctx, `
		SELECT 'lease', event_id, event_type, occurred_at_ms FROM ff_lease_event WHERE execution_id = ?1
		UNION ALL SELECT 'operator', event_id, event_type, occurred_at_ms FROM ff_operator_event WHERE execution_id = ?1
		UNION ALL SELECT 'completion', event_id, outcome, occurred_at_ms FROM ff_completion_event
			WHERE partition_key = ?2 AND execution_id = ?3
		ORDER BY 4 DESC, 2 DESC LIMIT 30`, id.String(), int64(id.Partition), id.UUID[:])
	if err != nil {
		writeEngineError(w, err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var e uiEvent
		if err := rows.Scan(&e.Outbox, &e.EventID, &e.Type, &e.AtMS); err != nil {
			writeEngineError(w, err)
			return
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"info": info, "attempts": attempts, "events": events, "now_ms": s.b.Now()})
}
