package pathnorm

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	const bad = "!error"
	tests := []struct {
		raw                       string
		none, base, merge, decode string
	}{
		{"/", "/", "/", "/", "/"},
		{"/a/../admin", "/a/../admin", "/admin", "/admin", "/admin"},
		{"/a/./b", "/a/./b", "/a/b", "/a/b", "/a/b"},
		{"//a//b", "//a//b", "//a//b", "/a/b", "/a/b"},
		{"/%2e%2e/admin", "/%2e%2e/admin", "/admin", "/admin", "/admin"},
		{"/a/b/%2E%2E/c", "/a/b/%2E%2E/c", "/a/c", "/a/c", "/a/c"},
		{"/a/b/%2E./c", "/a/b/%2E./c", "/a/c", "/a/c", "/a/c"},
		{"/a%2Fb", "/a%2Fb", "/a%2Fb", "/a%2Fb", "/a/b"},
		{"/a%2fb", "/a%2fb", "/a%2fb", "/a%2fb", "/a/b"},
		{"/a%5cb", "/a%5cb", "/a%5cb", "/a%5cb", "/a/b"},
		{"/x/a%2F..%2Fadmin", "/x/a%2F..%2Fadmin", "/x/a%2F..%2Fadmin", "/x/a%2F..%2Fadmin", "/x/admin"},
		{"/a\\..\\admin", "/a\\..\\admin", "/admin", "/admin", "/admin"},
		{"/a/..\\c", "/a/..\\c", "/c", "/c", "/c"},
		{"/%61dmin", "/%61dmin", "/admin", "/admin", "/admin"},
		{"/%252F", "/%252F", "/%252F", "/%252F", "/%252F"},
		{"/%c0%af", "/%c0%af", "/%c0%af", "/%c0%af", "/%c0%af"},
		{"/a/b/.", "/a/b/.", "/a/b/", "/a/b/", "/a/b/"},
		{"/a/b/..", "/a/b/..", "/a/", "/a/", "/a/"},
		{"/a/..", "/a/..", "/", "/", "/"},
		{"/../../a", "/../../a", "/a", "/a", "/a"},
		{"/a//../b", "/a//../b", "/a/b", "/a/b", "/a/b"},
		{"/a/...", "/a/...", "/a/...", "/a/...", "/a/..."},
		{"/.well-known/x", "/.well-known/x", "/.well-known/x", "/.well-known/x", "/.well-known/x"},
		{"a/b/../c", "a/b/../c", "/a/c", "/a/c", "/a/c"},
		{"..", "..", "/", "/", "/"},
		{"", "", "/", "/", "/"},
		{"/a%zzb", "/a%zzb", bad, bad, bad},
		{"/a%4", "/a%4", bad, bad, bad},
		{"/xyz/.%00../abc", "/xyz/.%00../abc", bad, bad, bad},
		{"/a b", "/a b", bad, bad, bad},
	}
	modes := []Mode{None, Base, MergeSlashes, DecodeAndMergeSlashes}
	for _, tt := range tests {
		for i, want := range []string{tt.none, tt.base, tt.merge, tt.decode} {
			got, err := Normalize(modes[i], tt.raw)
			if err != nil {
				got = bad
			}
			if got != want {
				t.Errorf("Normalize(%s, %q) = %q, want %q", modes[i], tt.raw, got, want)
			}
		}
	}
}

func TestNormalizeKeepsNormalPathsWithoutAllocating(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Normalize(MergeSlashes, "/api/v1/items/42"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("normalizing a normal path allocates %v times", allocs)
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"/a/../admin", "/%2e%2e/x", "//a//b", "/a%2Fb", "/a%5cb", "a\\b", "/a/b/.", "/%", "..", "/%252F"} {
		f.Add(uint8(1), s)
	}
	f.Fuzz(func(t *testing.T, m uint8, raw string) {
		mode := Mode(m%3) + Base
		p, err := Normalize(mode, raw)
		if err != nil {
			return
		}
		if !strings.HasPrefix(p, "/") {
			t.Fatalf("Normalize(%s, %q) = %q: not absolute", mode, raw, p)
		}
		again, err := Normalize(mode, p)
		if err != nil || again != p {
			t.Fatalf("Normalize(%s, %q) = %q, then %q (%v): not idempotent", mode, raw, p, again, err)
		}
	})
}
