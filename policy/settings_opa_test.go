package policy

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const opaMesh = `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    extensionProviders:
    - name: opa-ext-authz
      envoyExtAuthzGrpc: {service: opa.opa.svc.cluster.local, port: 9191}
---
`

const settingsHead = `apiVersion: gatehouse.dev/v1alpha1
kind: Settings
metadata: {name: gatehouse, namespace: istio-system}
spec:
  opa:
`

// writeTree creates files (slash-separated paths) under root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSettingsOPAValidation: each entry of Settings.opa is checked, and a problem names the
// Settings file, the line of the field, and the field.
func TestSettingsOPAValidation(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"cfg/rego/policy.rego":     "package envoy.authz\n\nallow := true\n",
		"cfg/rego/roles/data.json": `{"admins": ["alice"]}`,
		"cfg/rego/..2026/x.rego":   "package ignored\n",
		"cfg/rego/notes.txt":       "not read",
		"cfg/dataonly/data.yaml":   "a: 1\n",
		"cfg/afile":                "x",
	})
	file := filepath.Join(root, "cfg", "settings.yaml")
	for _, tt := range []struct {
		name string
		opa  string // the entries, under spec.opa at line 6 of the Settings document
		// want are substrings of the problems, in order; none means no problem at all.
		want []string
	}{
		{"dir and inline", "  - provider: opa-ext-authz\n    dir: rego\n    modules: {extra.rego: \"package x\"}\n    data: {a: 1}\n", nil},
		{"unknown field", "  - provider: opa-ext-authz\n    modulez: {}\n",
			[]string{`settings.yaml:16: Settings/istio-system/gatehouse: spec.opa[].modulez: unknown field "modulez"`}},
		{"provider required", "  - dir: rego\n",
			[]string{"settings.yaml:15: Settings/istio-system/gatehouse: spec.opa[0].provider: required"}},
		{"provider unique", "  - {provider: opa-ext-authz, dir: rego}\n  - {provider: opa-ext-authz, dir: rego}\n",
			[]string{`settings.yaml:16: Settings/istio-system/gatehouse: spec.opa[1].provider: "opa-ext-authz": must be unique; also spec.opa[0]`}},
		{"bad path", "  - provider: opa-ext-authz\n    dir: rego\n    path: /envoy//allow\n",
			[]string{`settings.yaml:17: Settings/istio-system/gatehouse: spec.opa[0].path: "/envoy//allow": want a slash-separated decision path`}},
		{"missing dir", "  - provider: opa-ext-authz\n    dir: nope\n",
			[]string{`settings.yaml:16: Settings/istio-system/gatehouse: spec.opa[0].dir: "nope": no such file or directory`}},
		{"dir is a file", "  - provider: opa-ext-authz\n    dir: afile\n",
			[]string{`settings.yaml:16: Settings/istio-system/gatehouse: spec.opa[0].dir: "afile": ` + filepath.Join(root, "cfg", "afile") + `: not a directory`}},
		{"no modules", "  - provider: opa-ext-authz\n    dir: dataonly\n",
			[]string{`settings.yaml:16: Settings/istio-system/gatehouse: spec.opa[0].dir: no Rego modules`}},
		{"no modules at all", "  - provider: opa-ext-authz\n",
			[]string{`settings.yaml:15: Settings/istio-system/gatehouse: spec.opa[0].modules: no Rego modules`}},
		{"module name", "  - provider: opa-ext-authz\n    modules: {authz: \"package x\"}\n",
			[]string{`settings.yaml:16: Settings/istio-system/gatehouse: spec.opa[0].modules.authz: module name "authz": must end in .rego`}},
		{"module in both", "  - provider: opa-ext-authz\n    dir: rego\n    modules: {policy.rego: \"package x\"}\n",
			[]string{`settings.yaml:16: Settings/istio-system/gatehouse: spec.opa[0].dir: "rego": module policy.rego is also in modules`}},
		{"unknown provider warns", "  - provider: nobody\n    dir: rego\n",
			[]string{`settings.yaml:15: warning: Settings/istio-system/gatehouse: spec.opa[0].provider: "nobody" names no envoyExtAuthzGrpc or envoyExtAuthzHttp entry`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Parse(map[string][]byte{file: []byte(opaMesh + settingsHead + tt.opa)}, LoadOptions{})
			var got []string
			for _, p := range cfg.Problems {
				got = append(got, p.String())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("problems:\n%s\nwant %d", strings.Join(got, "\n"), len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// TestSettingsOPALoadsDir: dir contents are in the Settings value, by path relative to dir,
// skipping ..-prefixed entries and files OPA does not read.
func TestSettingsOPALoadsDir(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"rego/policy.rego":     "package envoy.authz\n\nallow := true\n",
		"rego/lib/lib.rego":    "package lib\n",
		"rego/roles/data.json": `{"admins": ["alice"]}`,
		"rego/data.yml":        "mesh: gatehouse\n",
		"rego/..data/x.rego":   "package ignored\n",
		"rego/README.md":       "not read",
	})
	file := filepath.Join(root, "settings.yaml")
	snap, ps := ParseSnapshot(map[string][]byte{file: []byte(opaMesh + settingsHead + "  - provider: opa-ext-authz\n    dir: rego\n")})
	if snap == nil {
		t.Fatal(ps.Err())
	}
	o := snap.Settings.OPA[0]
	if o.Path != DefaultOPAPath || o.DirPath != filepath.Join(root, "rego") {
		t.Errorf("path %q dirPath %q", o.Path, o.DirPath)
	}
	wantModules := map[string]string{"policy.rego": "package envoy.authz\n\nallow := true\n", "lib/lib.rego": "package lib\n"}
	if !reflect.DeepEqual(o.DirModules, wantModules) {
		t.Errorf("DirModules = %v", o.DirModules)
	}
	wantData := map[string]string{"roles/data.json": `{"admins": ["alice"]}`, "data.yml": "mesh: gatehouse\n"}
	if !reflect.DeepEqual(o.DirData, wantData) {
		t.Errorf("DirData = %v", o.DirData)
	}
}

// TestLoadDirSkipsOPAData: data.yaml beside Rego (and below it) is an OPA data document of a
// Settings opa dir under the config dir, not Kubernetes YAML, so the config loader leaves it out.
func TestLoadDirSkipsOPAData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, data := range map[string]string{
		"settings.yaml":         "apiVersion: gatehouse.dev/v1alpha1\nkind: Settings\nmetadata: {name: gatehouse, namespace: istio-system}\nspec: {}\n",
		"rego/authz.rego":       "package envoy.authz\n\ndefault allow := false\n",
		"rego/data.yaml":        "roles: {admin: [alice]}\n",
		"rego/tenants/data.yml": "a: 1\n",
		"elsewhere/data.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: data, namespace: default}\n",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, err := ConfigFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "elsewhere", "data.yaml"), filepath.Join(dir, "settings.yaml")}
	if !slices.Equal(files, want) {
		t.Errorf("ConfigFiles = %v, want %v", files, want)
	}
}
