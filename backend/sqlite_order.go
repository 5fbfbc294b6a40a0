package backend

import (
	"bytes"
	"cmp"
	"strings"
)

// sqliteCompare orders two column values as SQLite's ORDER BY does with
// the BINARY collation: NULL, then numbers (integers and reals compared
// by value), then text, then blobs. It returns -1, 0 or +1. Values are
// those the driver scans into any: nil, int64, float64, string, []byte
// (anything else sorts with the blobs, by its absence of bytes).
func sqliteCompare(a, b any) int {
	ca, cb := sqliteClass(a), sqliteClass(b)
	if ca != cb {
		return cmp.Compare(ca, cb)
	}
	switch ca {
	case classNull:
		return 0
	case classNumber:
		return cmpNumber(a, b)
	case classText:
		return strings.Compare(a.(string), b.(string))
	}
	ab, _ := a.([]byte)
	bb, _ := b.([]byte)
	return bytes.Compare(ab, bb)
}

// The storage classes in SQLite's sort order.
const (
	classNull = iota
	classNumber
	classText
	classBlob
)

func sqliteClass(v any) int {
	switch v.(type) {
	case nil:
		return classNull
	case int64, float64:
		return classNumber
	case string:
		return classText
	}
	return classBlob
}

// cmpNumber compares two numbers, each an int64 or a float64, by value,
// as SQLite does: two integers exactly, and an integer with a real
// without rounding the integer to a float.
func cmpNumber(a, b any) int {
	ai, aInt := a.(int64)
	bi, bInt := b.(int64)
	switch {
	case aInt && bInt:
		return cmp.Compare(ai, bi)
	case aInt:
		return -cmpIntFloat(b.(float64), ai)
	case bInt:
		return cmpIntFloat(a.(float64), bi)
	}
	return cmp.Compare(a.(float64), b.(float64))
}

// cmpIntFloat compares real f with integer i without rounding i.
func cmpIntFloat(f float64, i int64) int {
	switch {
	case f != f: // SQLite stores NaN as NULL, so none arrives; ordered first all the same
		return -1
	case f < -9223372036854775808.0:
		return -1
	case f >= 9223372036854775808.0:
		return 1
	}
	t := int64(f) // truncates toward zero; exact for |f| < 2^63
	if c := cmp.Compare(t, i); c != 0 {
		return c
	}
	return cmp.Compare(f-float64(t), 0) // the fraction decides
}
