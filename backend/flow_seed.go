package backend

// Flow fixtures for Seed: the bodies of routes 17 (a flow), 18 (a
// member) and 20 (an edge) are SeedItems, checked as their routes check
// them. A seeded edge is staged and applied at once (a seeded DAG is
// meant to run; an edge staged but never applied would bind nothing).
// Like every seed item they are idempotent on ids: a flow, membership or
// edge id already there is left as it is.

func (a CreateFlowArgs) seedPlan() (seedStep, error) {
	const op = "create_flow"
	if err := validateCreateFlow(op, a); err != nil {
		return nil, err
	}
	return func(w *wtx) (bool, error) {
		res, err := w.createFlow(op, a)
		return res.Created, err
	}, nil
}

func (a AddExecutionToFlowArgs) seedPlan() (seedStep, error) {
	const op = "add_execution_to_flow"
	if a.ExecutionID.IsZero() {
		return nil, validation(op, "invalid_input", "execution_id: required")
	}
	return func(w *wtx) (bool, error) {
		res, err := w.addMember(op, a)
		return !res.AlreadyMember, err
	}, nil
}

func (a StageDependencyEdgeArgs) seedPlan() (seedStep, error) {
	const op = "stage_dependency_edge"
	if err := validateStageEdge(op, a); err != nil {
		return nil, err
	}
	return func(w *wtx) (bool, error) {
		f, err := w.flow(op, a.FlowID)
		if err != nil {
			return false, err
		}
		var up, down []byte
		var pol string
		if w.queryRow(qEdgeByID, f.part, flowKey(a.FlowID), flowKey(a.EdgeID)).Scan(&up, &down, &pol) == nil {
			return false, nil // already there (its revision has moved on)
		}
		res, err := w.stageEdge(op, a)
		if err != nil {
			return false, err
		}
		_, err = w.applyEdge("apply_dependency_to_child", ApplyDependencyToChildArgs{FlowID: a.FlowID, EdgeID: a.EdgeID,
			UpstreamExecutionID: a.UpstreamExecutionID, DownstreamExecutionID: a.DownstreamExecutionID,
			GraphRevision: res.NewGraphRevision, DataPassingRef: a.DataPassingRef})
		return err == nil, err
	}, nil
}
