package inspect

import (
	"fmt"

	"github.com/ffsqlite/ffsqlite/render"
)

// Waitpoints prints the open waitpoints (`inspect waitpoints`).
func (p Printer) Waitpoints(l *WaitpointList) error { return printReport(p, l, p.waitpointsText) }

// waitsText renders an execution's suspension, waitpoints and delivered
// signals (never a raw token: its kid and fingerprint).
func (p Printer) waitsText(d *ExecutionDetail) error {
	if s := d.Suspension; s != nil {
		p.section("suspension")
		state := dash(s.State)
		if s.CloseReason != nil {
			state += " (" + *s.CloseReason + ", " + p.tsp(s.ClosedAtMS) + ")"
		}
		p.kv(
			"suspension", s.SuspensionID,
			"state", state,
			"since", p.ts(s.SuspendedAtMS),
			"reason", dash(s.ReasonCode),
			"requested by", dash(s.RequestedBy),
			"timeout", p.tsp(s.TimeoutAtMS)+" then "+dash(s.TimeoutBehavior),
			"condition", compact(s.Condition),
			"satisfied", compact(s.SatisfiedSet),
			"satisfiers", itoa(s.SatisfierCount),
		)
	}
	if len(d.Waitpoints) > 0 {
		p.section("waitpoints")
		var rows [][]string
		for _, w := range d.Waitpoints {
			state := dash(w.State)
			if w.CloseReason != nil {
				state += " (" + *w.CloseReason + ")"
			}
			rows = append(rows, []string{w.WaitpointID, dash(w.WaitpointKey), p.Painter.State(state), orDash(w.TokenKid),
				orDash(w.TokenFingerprint), compact(w.RequiredSignalNames), itoa(w.SignalCount), p.tsp(w.ExpiresAtMS)})
		}
		if err := render.Table(p.W, []string{"waitpoint", "key", "state", "kid", "fingerprint", "requires", "signals", "expires"}, rows); err != nil {
			return err
		}
	}
	if len(d.Signals) > 0 {
		p.section("signals")
		var rows [][]string
		for _, s := range d.Signals {
			payload := "-"
			if s.PayloadBytes > 0 {
				payload = fmt.Sprintf("%d bytes", s.PayloadBytes)
			}
			rows = append(rows, []string{s.SignalName, s.SignalCategory, s.SourceType + ":" + s.SourceIdentity,
				orDash(s.CorrelationID), p.ts(s.AcceptedAtMS), s.Effect, payload, s.WaitpointID})
		}
		if err := render.Table(p.W, []string{"signal", "category", "source", "correlation", "accepted", "effect", "payload", "waitpoint"}, rows); err != nil {
			return err
		}
	}
	return nil
}

func (p Printer) waitpointsText(l *WaitpointList) error {
	if len(l.Waitpoints) == 0 {
		p.printf("no open waitpoints\n")
		return nil
	}
	var rows [][]string
	for _, w := range l.Waitpoints {
		rows = append(rows, []string{w.ExecutionID, w.WaitpointID, dash(w.WaitpointKey), p.Painter.State(dash(w.State)),
			orDash(w.TokenKid), orDash(w.TokenFingerprint), compact(w.RequiredSignalNames), itoa(w.SignalCount),
			p.ts(w.CreatedAtMS), p.tsp(w.ExpiresAtMS)})
	}
	return render.Table(p.W, []string{"execution", "waitpoint", "key", "state", "kid", "fingerprint", "requires", "signals", "created", "expires"}, rows)
}
