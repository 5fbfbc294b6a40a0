package suspension

import "fmt"

// ValidationError is a rule violation found before any write. Detail is
// upstream's detail text (e.g. "waitpoints_empty",
// "count_n_zero at path <root>"); the engine reports it as
// "invalid_input: <detail>".
type ValidationError struct {
	Detail string
}

func (e *ValidationError) Error() string { return "invalid_input: " + e.Detail }

func invalid(format string, args ...any) *ValidationError {
	return &ValidationError{Detail: fmt.Sprintf(format, args...)}
}

// ShapeError is JSON that does not have the shape of the type being
// decoded (unknown variant, missing field, wrong type). It is what serde
// rejects while deserialising, so the HTTP layer answers it with 422,
// unlike a ValidationError (400).
type ShapeError struct {
	What string
}

func (e *ShapeError) Error() string { return "invalid JSON shape: " + e.What }

func shape(format string, args ...any) *ShapeError {
	return &ShapeError{What: fmt.Sprintf(format, args...)}
}
