package retry

import (
	"fmt"
	"unsafe"

	"modernc.org/sqlite"
)

// sqliteErrorLayout mirrors modernc.org/sqlite.Error's fields so tests can
// build an error with any extended code; the driver exports no constructor.
// newSQLiteError panics if the layout ever stops matching.
type sqliteErrorLayout struct {
	msg  string
	code int
}

func newSQLiteError(code int) error {
	if unsafe.Sizeof(sqlite.Error{}) != unsafe.Sizeof(sqliteErrorLayout{}) {
		panic("modernc.org/sqlite.Error layout changed")
	}
	m := &sqliteErrorLayout{msg: fmt.Sprintf("sqlite error %d", code), code: code}
	e := (*sqlite.Error)(unsafe.Pointer(m))
	if e.Code() != code {
		panic("modernc.org/sqlite.Error layout changed")
	}
	return e
}
