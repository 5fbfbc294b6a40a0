package backend_test

import (
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
)

// Every way an execution ends closes what a durable wait left open (the
// one terminal transition does it): the pending waitpoints a running
// worker created close with the end's reason (kept, not deleted), and a
// signal to one answers target_not_signalable.
func TestTerminalClosesPendingWaitpoints(t *testing.T) {
	t.Parallel()
	ends := []struct {
		name   string
		end    func(b *backend.Backend, l *backend.Lease) error
		reason string
	}{
		{"complete", func(b *backend.Backend, l *backend.Lease) error { return b.Complete(engCtx, l.Handle, nil) }, backend.CloseTerminal},
		{"terminal fail", func(b *backend.Backend, l *backend.Lease) error {
			_, err := b.Fail(engCtx, l.Handle, backend.FailArgs{Class: backend.FailPermanent, Reason: "no"})
			return err
		}, backend.CloseTerminal},
		{"worker cancel", func(b *backend.Backend, l *backend.Lease) error {
			_, err := b.CancelByHolder(engCtx, l.Handle, "stop")
			return err
		}, backend.CloseCancelled},
		{"operator cancel", func(b *backend.Backend, l *backend.Lease) error {
			_, err := b.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: l.ExecutionID, Reason: "stop"})
			return err
		}, backend.CloseCancelled},
	}
	for _, e := range ends {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			b, _ := waitOpen(t, false)
			id := engCreate(t, b)
			l := engClaim(t, b)
			pw, err := b.CreateWaitpoint(engCtx, l.Handle, backend.CreateWaitpointArgs{WaitpointKey: "k", ExpiresInMS: 60_000})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.end(b, l); err != nil {
				t.Fatal(err)
			}
			if got := waitWaitpointState(t, b, pw.WaitpointID); got != "closed/"+e.reason {
				t.Fatalf("waitpoint %s, want closed/%s", got, e.reason)
			}
			_, err = b.DeliverSignal(engCtx, waitSignal(id, pw.WaitpointID, pw.WaitpointToken, "x"))
			engWantCode(t, err, backend.KindState, "target_not_signalable")
			waitCheckInvariants(t, b)
		})
	}
}
