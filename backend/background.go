package backend

import (
	"context"
	"sync"
)

// background runs the engine's own follow-up work after a call has
// answered (the member cancels of an asynchronous flow cancel). Its
// goroutines stop when the backend's last handle closes: their context
// is cancelled and Close waits for them. Whatever they leave undone is
// durable and the reconcilers finish it.
type background struct {
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// goBackground runs fn in a goroutine tracked by the backend. It reports
// false, starting nothing, once the backend is closing.
func (b *Backend) goBackground(fn func(ctx context.Context)) bool {
	in := b.in
	in.bgOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		in.bg = &background{ctx: ctx, cancel: cancel}
		if !in.onClose(func(context.Context) { in.bg.stop() }) {
			in.bg.stop()
		}
	})
	bg := in.bg
	bg.mu.Lock()
	if bg.closed {
		bg.mu.Unlock()
		return false
	}
	bg.wg.Add(1)
	bg.mu.Unlock()
	go func() {
		defer bg.wg.Done()
		fn(bg.ctx)
	}()
	return true
}

// stop cancels the running goroutines and waits for them.
func (bg *background) stop() {
	bg.mu.Lock()
	bg.closed = true
	bg.mu.Unlock()
	bg.cancel()
	bg.wg.Wait()
}
