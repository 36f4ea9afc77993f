package helm

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/test/peers/helmpeer"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.yaml from the chart")

// renderCase is one golden case: testdata/<name>.golden.yaml is the chart rendered with the
// values file testdata/<values> ("" for the defaults).
type renderCase struct {
	name   string
	values string
}

var renders = []renderCase{
	{"default", ""},
	{"split", "split.values.yaml"},
	{"custom", "custom.values.yaml"},
}

func (r renderCase) options() Options {
	if r.values == "" {
		return Options{}
	}
	return Options{ValuesFiles: []string{filepath.Join("testdata", r.values)}}
}

func TestTemplateGolden(t *testing.T) {
	t.Parallel()
	for _, r := range renders {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			got := Render(t, r.options())
			golden := filepath.Join("testdata", r.name+".golden.yaml")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("helm template with %s differs from %s (run with -update if intended):\n%s", orDefaults(r.values), golden, firstDiff(string(want), string(got)))
			}
		})
	}
}

func TestLintStrict(t *testing.T) {
	t.Parallel()
	helmpeer.SkipIfMissing(t)
	for _, r := range renders {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			args := []string{"lint", "--strict", ChartDir(), "--namespace", Namespace}
			if r.values != "" {
				abs, err := filepath.Abs(filepath.Join("testdata", r.values))
				if err != nil {
					t.Fatal(err)
				}
				args = append(args, "--values", abs)
			}
			out, err := helmpeer.Run(t.Context(), t.TempDir(), args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			// --strict fails on warnings; errors and warnings are both reported as [ERROR]/[WARNING].
			if s := string(out); strings.Contains(s, "[WARNING]") || strings.Contains(s, "[ERROR]") {
				t.Errorf("helm lint --strict with %s:\n%s", orDefaults(r.values), s)
			}
		})
	}
}

// TestTemplateRefuses checks that values which would install something that cannot work fail
// the render with a message naming the value.
func TestTemplateRefuses(t *testing.T) {
	t.Parallel()
	helmpeer.SkipIfMissing(t)
	tests := []struct {
		name string
		set  []string
		want string
	}{
		{"unknown mode", []string{"mode=both"}, `mode "both": want allInOne or split`},
		{"unknown source", []string{"source=etcd"}, `source "etcd": want configmap or kubernetes`},
		{"CA replicas without a shared root", []string{"mode=split", "ca.replicas=2"}, "ca.replicas > 1 needs pluginCA.secretName"},
		{"Redis over TLS", []string{"redis.url=rediss://redis:6379"}, `redis.url "rediss://redis:6379": want redis://host:port`},
		{"Redis with a password", []string{"redis.url=redis://:pw@redis:6379"}, "no credentials, database or TLS"},
		{"Redis database", []string{"redis.url=redis://redis:6379/2"}, "want redis://host:port"},
		{"memory sessions on several replicas", []string{"oidcLogins.dex.issuer=https://dex.example.org"}, "oidcLogins.dex: gateways.ingress may run more than one replica"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := Template(t.Context(), t.TempDir(), Options{Set: tt.set})
			if err == nil {
				t.Fatalf("helm template --set %s rendered; want an error containing %q:\n%s", strings.Join(tt.set, ","), tt.want, out)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q; want it to contain %q", err, tt.want)
			}
		})
	}
}

func orDefaults(values string) string {
	if values == "" {
		return "the default values"
	}
	return values
}

// firstDiff shows the first differing line and a little context, enough to see what moved.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl
		}
	}
	return "(no line differs)"
}
