package main

import (
	"fmt"

	"github.com/ffsqlite/ffsqlite/inspect"
	"github.com/ffsqlite/ffsqlite/render"
)

// waits renders an execution's suspension, waitpoints and delivered
// signals (never a raw token: its kid and fingerprint).
func (v *inspectView) waits(d *inspect.ExecutionDetail) error {
	if s := d.Suspension; s != nil {
		v.section("suspension")
		state := inspDash(s.State)
		if s.CloseReason != nil {
			state += " (" + *s.CloseReason + ", " + v.tsp(s.ClosedAtMS) + ")"
		}
		v.kv(
			"suspension", s.SuspensionID,
			"state", state,
			"since", v.ts(s.SuspendedAtMS),
			"reason", inspDash(s.ReasonCode),
			"requested by", inspDash(s.RequestedBy),
			"timeout", v.tsp(s.TimeoutAtMS)+" then "+inspDash(s.TimeoutBehavior),
			"condition", inspCompact(s.Condition),
			"satisfied", inspCompact(s.SatisfiedSet),
			"satisfiers", inspItoa(s.SatisfierCount),
		)
	}
	if len(d.Waitpoints) > 0 {
		v.section("waitpoints")
		var rows [][]string
		for _, w := range d.Waitpoints {
			state := inspDash(w.State)
			if w.CloseReason != nil {
				state += " (" + *w.CloseReason + ")"
			}
			rows = append(rows, []string{w.WaitpointID, inspDash(w.WaitpointKey), v.p.State(state), inspOrDash(w.TokenKid),
				inspOrDash(w.TokenFingerprint), inspCompact(w.RequiredSignalNames), inspItoa(w.SignalCount), v.tsp(w.ExpiresAtMS)})
		}
		if err := render.Table(v.w, []string{"waitpoint", "key", "state", "kid", "fingerprint", "requires", "signals", "expires"}, rows); err != nil {
			return err
		}
	}
	if len(d.Signals) > 0 {
		v.section("signals")
		var rows [][]string
		for _, s := range d.Signals {
			payload := "-"
			if s.PayloadBytes > 0 {
				payload = fmt.Sprintf("%d bytes", s.PayloadBytes)
			}
			rows = append(rows, []string{s.SignalName, s.SignalCategory, s.SourceType + ":" + s.SourceIdentity,
				inspOrDash(s.CorrelationID), v.ts(s.AcceptedAtMS), s.Effect, payload, s.WaitpointID})
		}
		if err := render.Table(v.w, []string{"signal", "category", "source", "correlation", "accepted", "effect", "payload", "waitpoint"}, rows); err != nil {
			return err
		}
	}
	return nil
}

// waitpoints renders `inspect waitpoints`.
func (v *inspectView) waitpoints(l *inspect.WaitpointList) error {
	if len(l.Waitpoints) == 0 {
		fprintf(v.w, "no open waitpoints\n")
		return nil
	}
	var rows [][]string
	for _, w := range l.Waitpoints {
		rows = append(rows, []string{w.ExecutionID, w.WaitpointID, inspDash(w.WaitpointKey), v.p.State(inspDash(w.State)),
			inspOrDash(w.TokenKid), inspOrDash(w.TokenFingerprint), inspCompact(w.RequiredSignalNames), inspItoa(w.SignalCount),
			v.ts(w.CreatedAtMS), v.tsp(w.ExpiresAtMS)})
	}
	return render.Table(v.w, []string{"execution", "waitpoint", "key", "state", "kid", "fingerprint", "requires", "signals", "created", "expires"}, rows)
}
