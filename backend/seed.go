package backend

import (
	"context"
	"fmt"
)

// SeedItem is one fixture Seed applies: the request body of a create
// route. CreateExecutionArgs (route 2), CreateBudgetArgs (22) and
// CreateQuotaPolicyArgs (26) are SeedItems; a new kind (flows, members,
// edges) becomes one by giving its args type a seedPlan built from the
// engine's own create function.
type SeedItem interface {
	// RequiredFields lists the body's required top-level fields.
	RequiredFields() []string
	// seedPlan validates the item exactly as its route does and returns
	// the step that applies it inside a write transaction.
	seedPlan() (seedStep, error)
}

// seedStep applies one prepared item; created is false when the id
// already existed (Duplicate, AlreadySatisfied).
type seedStep func(w *wtx) (created bool, err error)

func (a CreateExecutionArgs) seedPlan() (seedStep, error) {
	p, err := prepareCreateExecution("create_execution", a)
	if err != nil {
		return nil, err
	}
	return func(w *wtx) (bool, error) {
		res, err := w.createExecution(p)
		return !res.Duplicate, err
	}, nil
}

func (a CreateBudgetArgs) seedPlan() (seedStep, error) {
	policy, err := prepareCreateBudget("create_budget", a)
	if err != nil {
		return nil, err
	}
	return func(w *wtx) (bool, error) {
		res, err := createBudgetTx(w.ctx, w.Txn, w.now, a, policy)
		return res.Created, err
	}, nil
}

func (a CreateQuotaPolicyArgs) seedPlan() (seedStep, error) {
	if err := prepareCreateQuota("create_quota_policy", a); err != nil {
		return nil, err
	}
	return func(w *wtx) (bool, error) {
		res, err := createQuotaTx(w.ctx, w.Txn, w.now, a)
		return res.Created, err
	}, nil
}

// SeedError names the item Seed stopped at; nothing was applied.
type SeedError struct {
	Index int
	Err   error
}

func (e *SeedError) Error() string { return fmt.Sprintf("item %d: %v", e.Index, e.Err) }

// Unwrap returns the engine error.
func (e *SeedError) Unwrap() error { return e.Err }

// Seed applies items in order in one write transaction, each through the
// engine's own create path (so idempotent on ids: an existing execution,
// budget or quota is left as it is). It returns, per item, whether it was
// created. Every item is validated before the transaction starts; a bad
// one, or a failing write, returns a *SeedError and applies nothing.
func (b *Backend) Seed(ctx context.Context, items []SeedItem) ([]bool, error) {
	steps := make([]seedStep, len(items))
	for i, it := range items {
		s, err := it.seedPlan()
		if err != nil {
			return nil, &SeedError{Index: i, Err: err}
		}
		steps[i] = s
	}
	created := make([]bool, len(items))
	err := b.write(ctx, "seed", func(w *wtx) error {
		for i, s := range steps {
			c, err := s(w)
			if err != nil {
				return &SeedError{Index: i, Err: err}
			}
			created[i] = c
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return created, nil
}
