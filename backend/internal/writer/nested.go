package writer

import (
	"context"
	"runtime"
	"runtime/debug"
)

// Nested writes. Every function of a batch runs on the leader's goroutine,
// inside callWrite, while the leader holds the writer; a write started
// from inside such a function would queue behind its own batch and wait
// forever, and every later write and Close with it. Whatever context the
// nested write carries, it runs on the goroutine that is inside callWrite,
// so Write refuses a call whose own stack holds callWrite's frame.
//
// Walking the stack costs in proportion to its depth (BenchmarkNestedCheck),
// so Write walks it only while the writer is running a function
// (groupCommit.running): a call that finds none running cannot come from
// inside one. A write into another writer from inside a function is
// refused too when that writer is busy running functions, since waiting
// for it could deadlock both. What the check cannot see is a function
// waiting for a write it started on another goroutine: that still
// deadlocks, so a function must not wait for other writes at all.

// callWriteReturn is the return address of callWrite's call of a write
// function: the program counter runtime.Callers reports for callWrite's
// frame in any stack that runs a function. Found once by calling
// callWrite, and never changed.
var callWriteReturn = func() uintptr {
	var pc uintptr
	_ = callWrite(context.Background(), func(context.Context, *Tx) error {
		var pcs [1]uintptr
		runtime.Callers(2, pcs[:]) // skip runtime.Callers and this function
		pc = pcs[0]
		return nil
	}, nil)
	return pc
}()

// callWrite runs fn, turning a panic into a *PanicError. It must call fn
// in exactly one place (callWriteReturn) and must not be inlined.
//
//go:noinline
func callWrite(ctx context.Context, fn Func, t *Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return fn(ctx, t)
}

// insideWriteFunc reports whether the calling goroutine is running a
// write function: whether callWrite's frame is on its stack.
func insideWriteFunc() bool {
	var pcs [32]uintptr
	for skip := 2; ; { // skip runtime.Callers and insideWriteFunc
		n := runtime.Callers(skip, pcs[:])
		for _, pc := range pcs[:n] {
			if pc == callWriteReturn {
				return true
			}
		}
		if n < len(pcs) {
			return false
		}
		skip += n
	}
}
