package backend

// TimedOutAttemptsSQLForTest returns the attempt-timeout reconciler's
// candidate query, so an external test can check its plan.
func TimedOutAttemptsSQLForTest() string { return qTimedOutAttempts }
