package backend

import "testing"

func TestIsMemoryURI(t *testing.T) {
	t.Parallel()
	cases := []struct {
		path string
		want bool
	}{
		{":memory:", true},
		{"file::memory:", true},
		{"file::memory:?cache=shared", true},
		{"file:ff-test?cache=shared&mode=memory", true},
		{"file:test?mode=memory", true},
		{"file:test?mode=memory#frag", true},
		{"file:my_mode=memory_db.sqlite", false},
		{"file:foo?mode=memory_extra", false},
		{"file:ff-test?cache=shared", false},
		{"file:data/ff.sqlite", false},
		{"file:./data.db", false},
		{"data/ff.sqlite", false},
		{":memory:?cache=shared", false},
		{"file:x?foo=1#mode=memory", false},
	}
	for _, tc := range cases {
		if got := IsMemoryURI(tc.path); got != tc.want {
			t.Errorf("IsMemoryURI(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestEffectiveMemoryURI(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		":memory:":                        "file::memory:?cache=shared",
		"file::memory:":                   "file::memory:?cache=shared",
		"file:a?mode=memory":              "file:a?mode=memory&cache=shared",
		"file:a?mode=memory&cache=shared": "file:a?mode=memory&cache=shared",
	}
	for in, want := range cases {
		if got := effectiveMemoryURI(in); got != want {
			t.Errorf("effectiveMemoryURI(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVersionAtLeast(t *testing.T) {
	t.Parallel()
	cases := []struct {
		v    string
		want bool
	}{
		{"3.35.0", true}, {"3.34.1", false}, {"3.46.1", true}, {"4.0.0", true}, {"2.99", false}, {"garbage", false},
	}
	for _, tc := range cases {
		if got := versionAtLeast(tc.v, 3, 35); got != tc.want {
			t.Errorf("versionAtLeast(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

func TestParsePoolSize(t *testing.T) {
	t.Parallel()
	if n, err := ParsePoolSize("8"); err != nil || n != 8 {
		t.Fatalf("ParsePoolSize(8) = %d, %v", n, err)
	}
	if _, err := ParsePoolSize("x"); err == nil || err.Error() != "invalid value for FF_SQLITE_POOL_SIZE: expected u32, got 'x'" {
		t.Fatalf("bad text error: %v", err)
	}
	if _, err := ParsePoolSize("0"); err == nil || err.Error() != "invalid value for FF_SQLITE_POOL_SIZE: must be > 0 (semaphore size)" {
		t.Fatalf("zero error: %v", err)
	}
}
