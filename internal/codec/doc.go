// Package codec holds the formats of the engine's values that more than
// one package writes or reads, without SQL: the execution id's wire form
// "{fp:N}:<uuid>" and its stored columns, the budget policy_json document
// and the comma-joined sets of the worker registry. backend writes them,
// inspect reads them (docs/storage.md describes each); a rule changes here
// and both follow. Errors are plain: callers wrap them in their own error
// types (backend.Error, a CLI usage error).
package codec
