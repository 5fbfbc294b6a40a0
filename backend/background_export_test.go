package backend

// WaitBackground waits for the background work started so far (an
// asynchronous flow cancel's member cancels) to finish, without closing
// anything. A test that checks the file while the backend stays open
// calls it once every call that could start such work has returned, so
// that work still landing cannot change the state between two checks.
func (b *Backend) WaitBackground() {
	if bg := b.in.bg; bg != nil {
		bg.wg.Wait()
	}
}
