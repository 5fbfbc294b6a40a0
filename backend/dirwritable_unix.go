//go:build unix

package backend

import "syscall"

// dirWritable reports whether this process may create files in dir
// (access(2) with W_OK), without creating any.
func dirWritable(dir string) bool { return syscall.Access(dir, 2) == nil }
