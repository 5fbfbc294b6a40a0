package backend

// ExecutionIDFromRow rebuilds an execution id from its stored columns
// (partition_key and the 16-byte execution_id BLOB), for readers that
// query ff_exec_core directly.
func ExecutionIDFromRow(part int64, raw []byte) (ExecutionID, error) {
	return execIDFromRow(part, raw)
}
