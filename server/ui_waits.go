package server

import (
	"encoding/json"
	"net/http"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/inspect"
)

// uiWaitsLimit caps the open waitpoints the dashboard lists.
const uiWaitsLimit = 100

// uiWaitpoint is an open waitpoint as the dashboard lists it: never the
// token (the page reads it through route 6 only to deliver a signal).
type uiWaitpoint struct {
	ExecutionID         string          `json:"execution_id"`
	PublicState         string          `json:"public_state"`
	WaitpointID         string          `json:"waitpoint_id"`
	WaitpointKey        string          `json:"waitpoint_key"`
	State               string          `json:"state"`
	TokenKid            string          `json:"token_kid"`
	TokenFingerprint    string          `json:"token_fingerprint"`
	RequiredSignalNames json.RawMessage `json:"required_signal_names"`
	SignalCount         int64           `json:"signal_count"`
	ExpiresAtMS         *int64          `json:"expires_at_ms"`
}

// GET /ui/api/waits: the open waitpoints (through the inspect package, the
// rows `ffsqlite inspect waitpoints` prints), each with its execution's
// public state, so the page shows what every suspended execution waits on.
func (s *Server) uiWaits(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	list, err := inspect.Waitpoints(ctx, s.b.ReaderDB(), uiWaitsLimit)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	out := struct {
		NowMS      int64         `json:"now_ms"`
		Waitpoints []uiWaitpoint `json:"waitpoints"`
	}{NowMS: s.b.Now(), Waitpoints: []uiWaitpoint{}}
	states := map[string]string{}
	for _, wp := range list.Waitpoints {
		st, ok := states[wp.ExecutionID]
		if !ok {
			if id, err := backend.ParseExecutionID(wp.ExecutionID); err == nil {
				st, _ = s.b.GetPublicState(ctx, id)
			}
			states[wp.ExecutionID] = st
		}
		out.Waitpoints = append(out.Waitpoints, uiWaitpoint{
			ExecutionID: wp.ExecutionID, PublicState: st, WaitpointID: wp.WaitpointID, WaitpointKey: deref(wp.WaitpointKey),
			State: deref(wp.State), TokenKid: wp.TokenKid, TokenFingerprint: wp.TokenFingerprint,
			RequiredSignalNames: wp.RequiredSignalNames, SignalCount: wp.SignalCount, ExpiresAtMS: wp.ExpiresAtMS,
		})
	}
	writeJSON(w, http.StatusOK, out)
}
