package backend

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// Bytes is a byte string that travels as a JSON array of integers 0–255
// (upstream's Vec<u8> shape). It also accepts a base64 JSON string.
type Bytes []byte

// MarshalJSON renders an array of integers; nil renders [].
func (b Bytes) MarshalJSON() ([]byte, error) {
	out := make([]byte, 0, 2+4*len(b))
	out = append(out, '[')
	for i, c := range b {
		if i > 0 {
			out = append(out, ',')
		}
		out = strconv.AppendUint(out, uint64(c), 10)
	}
	return append(out, ']'), nil
}

// UnmarshalJSON accepts an array of integers 0–255, a base64 string or
// null.
func (b *Bytes) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case string(data) == "null":
		*b = nil
		return nil
	case len(data) > 0 && data[0] == '"':
		var raw []byte
		if err := json.Unmarshal(data, &raw); err != nil {
			return err
		}
		*b = raw
		return nil
	}
	var ints []int
	if err := json.Unmarshal(data, &ints); err != nil {
		return err
	}
	out := make([]byte, len(ints))
	for i, v := range ints {
		if v < 0 || v > 255 {
			return errors.New("byte array element out of range 0..255")
		}
		out[i] = byte(v)
	}
	*b = out
	return nil
}
