package backend

// The top-level fields each create route's body must carry
// (server-api.md §4; a missing or null one is a 422 over HTTP). The HTTP
// layer and the seed loader both check them through these methods, so the
// rule is written once.

// RequiredFields lists route 2's required fields.
func (CreateExecutionArgs) RequiredFields() []string {
	return []string{"execution_id", "namespace", "lane_id", "execution_kind", "input_payload", "priority",
		"creator_identity", "partition_id", "now"}
}

// RequiredFields lists route 22's required fields.
func (CreateBudgetArgs) RequiredFields() []string {
	return []string{"budget_id", "scope_type", "scope_id", "enforcement_mode", "on_hard_limit", "on_soft_limit",
		"reset_interval_ms", "dimensions", "hard_limits", "soft_limits", "now"}
}

// RequiredFields lists route 26's required fields.
func (CreateQuotaPolicyArgs) RequiredFields() []string {
	return []string{"quota_policy_id", "window_seconds", "max_requests_per_window", "max_concurrent", "now"}
}
