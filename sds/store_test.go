package sds

import (
	"testing"
)

func data(v string) map[string][]byte { return map[string][]byte{"tls.crt": []byte(v)} }

func TestStoreSources(t *testing.T) {
	t.Parallel()
	s := NewStore()
	v0, changed := s.Version()

	s.ReplaceSource("files", map[string]map[string][]byte{"istio-system/a": data("files-a"), "istio-system/b": data("files-b")})
	select {
	case <-changed:
	default:
		t.Fatal("a change did not close the watch channel")
	}
	v1, changed := s.Version()
	if v1 != v0+1 {
		t.Fatalf("version %d after one change", v1)
	}

	// Another source adds its own names and cannot override an earlier source's.
	s.ReplaceSource("kubernetes", map[string]map[string][]byte{"istio-system/a": data("kube-a"), "istio-system/c": data("kube-c")})
	// Sources merge in name order, first wins: "files" keeps a.
	if got, _ := s.Get("istio-system/a"); string(got["tls.crt"]) != "files-a" {
		t.Fatalf("a = %q", got["tls.crt"])
	}
	if got, ok := s.Get("istio-system/c"); !ok || string(got["tls.crt"]) != "kube-c" {
		t.Fatalf("c = %q %v", got["tls.crt"], ok)
	}
	if names := s.Names(); len(names) != 3 {
		t.Fatalf("names %v", names)
	}

	// Replacing one source leaves the other's untouched.
	s.ReplaceSource("files", map[string]map[string][]byte{"istio-system/b": data("files-b2")})
	if got, _ := s.Get("istio-system/a"); string(got["tls.crt"]) != "kube-a" {
		t.Fatalf("a after files dropped it = %q", got["tls.crt"])
	}
	if got, _ := s.Get("istio-system/b"); string(got["tls.crt"]) != "files-b2" {
		t.Fatalf("b = %q", got["tls.crt"])
	}

	// An identical update is not a change.
	v2, changed := s.Version()
	s.ReplaceSource("files", map[string]map[string][]byte{"istio-system/b": data("files-b2")})
	if v3, _ := s.Version(); v3 != v2 {
		t.Fatalf("identical update bumped the version %d -> %d", v2, v3)
	}
	select {
	case <-changed:
		t.Fatal("identical update closed the watch channel")
	default:
	}
}
