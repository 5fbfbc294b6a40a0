package server

import "sync"

// waker lets blocked worker claims sleep until something may have become
// claimable (a create, replay or retry through this server) instead of
// spinning; a periodic poll covers writes from other processes.
type waker struct {
	mu sync.Mutex
	ch chan struct{}
}

func newWaker() *waker { return &waker{ch: make(chan struct{})} }

// wait returns a channel closed at the next notify.
func (w *waker) wait() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ch
}

// notify wakes every current waiter.
func (w *waker) notify() {
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.ch)
	w.ch = make(chan struct{})
}
