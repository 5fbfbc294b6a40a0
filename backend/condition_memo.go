package backend

import (
	"sync"

	"github.com/ffsqlite/ffsqlite/suspension"
)

// conditionMemoMax bounds the resume conditions a conditionMemo holds:
// beyond it the memo starts again empty, so memory stays bounded whatever
// the number of open suspensions.
const conditionMemoMax = 1024

// conditionMemo remembers resume conditions by their stored JSON text
// (ff_suspension_current.condition), so that a signal need not parse the
// condition its suspend has just encoded. The text determines the
// condition (ParseCondition is a pure function and MarshalJSON its
// canonical inverse), so an entry never goes stale, whoever wrote the row;
// a miss only costs the parse. Conditions are read-only once made
// (suspension.Apply and Satisfied never change them), so one value may
// serve concurrent signals.
type conditionMemo struct {
	mu sync.Mutex
	m  map[string]suspension.Condition
}

// remember records c as the condition encoded as text.
func (c *conditionMemo) remember(text string, cond suspension.Condition) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= conditionMemoMax {
		c.m = make(map[string]suspension.Condition)
	}
	c.m[text] = cond
}

// parse returns the condition text encodes: remembered, or parsed now
// and remembered.
func (c *conditionMemo) parse(text string) (suspension.Condition, error) {
	c.mu.Lock()
	cond, ok := c.m[text]
	c.mu.Unlock()
	if ok {
		return cond, nil
	}
	cond, err := suspension.ParseCondition([]byte(text))
	if err != nil {
		return cond, err
	}
	c.remember(text, cond)
	return cond, nil
}
