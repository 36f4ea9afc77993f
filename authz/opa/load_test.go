package opa

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadDirMountsDataAtDirectoryPaths(t *testing.T) {
	t.Parallel()
	modules, data, err := LoadDir(filepath.Join("testdata", "layout"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join("testdata", "layout", "lib", "lib.rego"),
		filepath.Join("testdata", "layout", "policy.rego"),
	}
	for _, name := range want {
		if _, ok := modules[name]; !ok {
			t.Errorf("module %s not loaded; got %v", name, keysOf(modules))
		}
	}
	if len(modules) != len(want) {
		t.Errorf("got %d modules, want %d", len(modules), len(want))
	}
	// util.Unmarshal keeps numbers as json.Number; compare their text.
	roles, _ := data["roles"].(map[string]any)
	limits, _ := roles["limits"].(map[string]any)
	if got := []any{roles["admins"], limits["rps"], limits["burst"], data["mesh"]}; !reflect.DeepEqual(
		stringify(got), []string{"[admin]", "10", "20", "gatehouse"}) {
		t.Errorf("data = %v", data)
	}
	if _, ok := data["ignored"]; ok {
		t.Errorf("a ..-prefixed ConfigMap directory was read: %v", data)
	}
}

func TestLoadDirReportsFileAndLine(t *testing.T) {
	t.Parallel()
	_, _, err := LoadDir(filepath.Join("testdata", "bad"))
	if err == nil {
		t.Fatal("LoadDir accepted a broken module")
	}
	want := filepath.Join("testdata", "bad", "broken.rego") + ":5"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name %s", err, want)
	}
}

func TestLoadDirThenNewEvaluates(t *testing.T) {
	t.Parallel()
	modules, data, err := LoadDir(filepath.Join("testdata", "layout"))
	if err != nil {
		t.Fatal(err)
	}
	p := newProvider(t, Options{Modules: modules, Data: data})
	if res := p.Check(t.Context(), request("GET", "/", ""), nil); !res.Allowed || res.Err != nil {
		t.Errorf("Check = %+v, want allowed", res)
	}
}

func TestNewReportsCompileErrorWithFile(t *testing.T) {
	t.Parallel()
	_, err := New(Options{Modules: map[string]string{"policies/authz.rego": "package envoy.authz\n\nallow if undefined_fn(input.x)\n"}})
	if err == nil || !strings.Contains(err.Error(), "policies/authz.rego:3") {
		t.Errorf("New error = %v, want one naming policies/authz.rego:3", err)
	}
}

func keysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func stringify(xs []any) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprint(x)
	}
	return out
}
