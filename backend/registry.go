package backend

import "sync"

// registry holds one live backend per canonical path per process, as the
// spec demands; it is the package's only mutable global. Construction runs
// under the lock, so two concurrent Opens of one path never build twice.
var registry = struct {
	sync.Mutex
	live map[string]*inner
}{live: map[string]*inner{}}

// lookupLocked returns the live inner for key and takes a reference.
// The caller holds registry's lock.
func lookupLocked(key string) *inner {
	in := registry.live[key]
	if in == nil {
		return nil
	}
	in.refs++
	return in
}

// release drops one reference and reports whether it was the last; the
// entry is removed then, so the next Open builds afresh (and prints the
// banner again, as upstream does once the old handle is gone).
func release(in *inner) bool {
	registry.Lock()
	defer registry.Unlock()
	in.refs--
	if in.refs > 0 {
		return false
	}
	if registry.live[in.key] == in {
		delete(registry.live, in.key)
	}
	return true
}
