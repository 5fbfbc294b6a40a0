package writer

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// A write started from inside a write function fails at once with
// ErrNested, whatever context it carries (the function's, or a fresh one
// that knows nothing of the write around it), alone or in a batch and
// however deep in the function's calls; the outer write fails with it and
// the writer goes on: later writes and Close do not hang.
func TestNestedWriteFails(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		ctx   func(fnCtx context.Context) context.Context
		depth int
	}{
		{"function's context", func(ctx context.Context) context.Context { return ctx }, 0},
		{"fresh context", func(context.Context) context.Context { return context.Background() }, 0},
		{"fresh context, deep stack", func(context.Context) context.Context { return context.Background() }, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, opts{})
			nested := func(ctx context.Context, tx *Tx) error {
				var inner error
				recurse(c.depth, func() { inner = e.w.Write(c.ctx(ctx), insert(1)) })
				if !errors.Is(inner, ErrNested) {
					return fmt.Errorf("nested write: %v, want ErrNested", inner)
				}
				return inner
			}
			within(t, "a nested write", func() {
				if err := e.w.Write(bg, nested); !errors.Is(err, ErrNested) {
					t.Errorf("alone: %v, want ErrNested", err)
				}
			})
			within(t, "a nested write in a batch", func() {
				errs := e.batch(nil, insert(2), nested, insert(3))
				if errs[0] != nil || errs[2] != nil || !errors.Is(errs[1], ErrNested) {
					t.Errorf("batch: %v, want only the nested write's request to fail", errs)
				}
			})
			within(t, "a write after the nested ones", func() {
				if err := e.w.Write(bg, insert(4)); err != nil {
					t.Errorf("write after the nested ones: %v", err)
				}
			})
			if got := e.ids(); got != "[2 3 4]" {
				t.Fatalf("committed ids %s, want [2 3 4]", got)
			}
			within(t, "Close", func() {
				if err := e.w.Close(); err != nil {
					t.Error(err)
				}
			})
		})
	}
}

// recurse calls f depth calls deep.
//
//go:noinline
func recurse(depth int, f func()) {
	if depth == 0 {
		f()
		return
	}
	recurse(depth-1, f)
}

// Writes from other goroutines while a function runs are not nested: they
// queue and commit (the leader's function waits for them to queue).
func TestConcurrentWriteIsNotNested(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	queued := e.queueWatch()
	done := make(chan error, 1)
	err := e.w.Write(bg, func(ctx context.Context, tx *Tx) error {
		drain(queued) // this write's own signal
		go func() { done <- e.w.Write(context.Background(), insert(2)) }()
		waitQueued(t, queued, 1)
		return insert(1)(ctx, tx)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("write from another goroutine: %v", err)
	}
	if got := e.ids(); got != "[1 2]" {
		t.Fatalf("committed ids %s, want [1 2]", got)
	}
}

// BenchmarkNestedCheck: the cost Write adds to a call made while the
// writer runs functions (a stack walk), at the depth of a test and 50
// frames deeper.
func BenchmarkNestedCheck(b *testing.B) {
	for _, depth := range []int{0, 50} {
		b.Run(fmt.Sprintf("depth=+%d", depth), func(b *testing.B) {
			recurse(depth, func() {
				for b.Loop() {
					if insideWriteFunc() {
						b.Fatal("inside a write function")
					}
				}
			})
		})
	}
}
