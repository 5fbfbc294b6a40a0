package server

import (
	"encoding/json"
	"reflect"
	"strings"
)

// dropCaseVariants returns data without the object members whose key is
// not the exact name of a field of the struct t but equals one ignoring
// case, in t and in the structs it holds (a field, a pointer, a slice or
// an array of them). encoding/json would set the field from such a key;
// serde (ff-server) takes only the exact name and ignores any other key,
// so "NAMESPACE" must not override "namespace". Types that decode
// themselves (json.Unmarshaler) are left as they are. It reports whether
// it dropped anything; data is returned as it is when not.
func dropCaseVariants(data []byte, t reflect.Type) ([]byte, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 || decodesItself(t) {
			return data, false
		}
		var items []json.RawMessage
		if json.Unmarshal(data, &items) != nil {
			return data, false
		}
		changed := false
		for i, it := range items {
			if out, dropped := dropCaseVariants(it, t.Elem()); dropped {
				items[i], changed = out, true
			}
		}
		return remarshal(data, items, changed)
	case reflect.Struct:
	default:
		return data, false
	}
	if decodesItself(t) {
		return data, false
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(data, &members) != nil || members == nil {
		return data, false
	}
	fields := structFields(t)
	changed := false
	for k, v := range members {
		if ft, ok := fields.exact[k]; ok {
			if out, dropped := dropCaseVariants(v, ft); dropped {
				members[k], changed = out, true
			}
			continue
		}
		if _, variant := fields.folded[strings.ToLower(k)]; variant {
			delete(members, k)
			changed = true
		}
	}
	return remarshal(data, members, changed)
}

// remarshal is v encoded when changed, else data.
func remarshal(data []byte, v any, changed bool) ([]byte, bool) {
	if !changed {
		return data, false
	}
	out, err := json.Marshal(v)
	if err != nil {
		return data, false
	}
	return out, true
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

func decodesItself(t reflect.Type) bool {
	return t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType)
}

// jsonFields are a struct type's JSON field names (embedded structs'
// promoted ones included) with their types, and their lower-case forms.
type jsonFields struct {
	exact  map[string]reflect.Type
	folded map[string]struct{}
}

// structFields lists t's JSON fields (a request type has a handful).
func structFields(t reflect.Type) jsonFields {
	f := jsonFields{exact: map[string]reflect.Type{}, folded: map[string]struct{}{}}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if sf.Anonymous && name == "" {
				et := sf.Type
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct {
					walk(et)
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			f.exact[name] = sf.Type
			f.folded[strings.ToLower(name)] = struct{}{}
		}
	}
	walk(t)
	return f
}
