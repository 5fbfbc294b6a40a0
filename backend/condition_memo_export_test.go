package backend

// ConditionRemembered reports whether the backend's condition memo holds
// the condition encoded as text (condition_memo.go).
func ConditionRemembered(b *Backend, text string) bool {
	c := &b.in.conditions
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.m[text]
	return ok
}
