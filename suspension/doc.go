// Package suspension holds the SQL-free rules of FlowFabric's durable
// waits: the resume-condition JSON codec, its structural validation and
// its evaluator, the waitpoint HMAC token format, and the suspend
// arguments a worker sends with their validation. The engine (backend)
// stores what these functions compute; nothing here touches a database,
// so every rule is unit-tested and fuzzed on its own.
//
// Wire shapes follow upstream's serde encoding of
// crates/ff-core/src/contracts (externally tagged enums, PascalCase unit
// variants); the strings stored in the database are the snake_case wire
// strings upstream's Lua reads.
package suspension
