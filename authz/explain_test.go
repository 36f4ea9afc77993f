package authz

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/explain")

// explainCase is one request of a testdata/explain file, below its "# requests" line.
type explainCase struct {
	Name            string            `yaml:"name"`
	TCP             bool              `yaml:"tcp"`
	Method          string            `yaml:"method"`
	Host            string            `yaml:"host"`
	Path            string            `yaml:"path"`
	Query           string            `yaml:"query"`
	Headers         map[string]string `yaml:"headers"`
	Claims          map[string]any    `yaml:"claims"`
	Token           string            `yaml:"token"`
	SourcePrincipal string            `yaml:"sourcePrincipal"`
	SourceIP        string            `yaml:"sourceIP"`
	RemoteIP        string            `yaml:"remoteIP"`
	Port            uint16            `yaml:"port"`
	Namespace       string            `yaml:"namespace"`
	Labels          map[string]string `yaml:"labels"`
}

// request builds the case's request; the path stays raw, for ExplainRawPath.
func (c *explainCase) request(t *testing.T) *Request {
	w := ingress
	if c.Namespace != "" {
		w = NewWorkload(c.Namespace, c.Labels)
	}
	r := &Request{Workload: w, Source: netip.MustParseAddrPort("10.0.0.1:40000"), RemoteIP: netip.MustParseAddr("10.0.0.1"),
		Destination: netip.MustParseAddrPort("10.0.0.2:8080"), SourcePrincipal: c.SourcePrincipal}
	if c.SourceIP != "" {
		r.Source = netip.AddrPortFrom(netip.MustParseAddr(c.SourceIP), 40000)
		r.RemoteIP = r.Source.Addr()
	}
	if c.RemoteIP != "" {
		r.RemoteIP = netip.MustParseAddr(c.RemoteIP)
	}
	if c.Port != 0 {
		r.Destination = netip.AddrPortFrom(r.Destination.Addr(), c.Port)
	}
	if c.TCP {
		return r
	}
	r.HTTP, r.Method, r.Host, r.Path, r.RawQuery, r.Scheme = true, "GET", "www.example.com", "/", c.Query, "http"
	if c.Method != "" {
		r.Method = c.Method
	}
	if c.Host != "" {
		r.Host = c.Host
	}
	if c.Path != "" {
		r.Path = c.Path
	}
	r.Header = http.Header{}
	for k, v := range c.Headers {
		r.Header.Set(k, v)
	}
	switch {
	case c.Token != "":
		r.Header.Set("Authorization", "Bearer "+c.Token)
	case c.Claims != nil:
		r.Header.Set("Authorization", "Bearer "+jwtIssuer(t).token(t, c.Claims))
	}
	return r
}

// TestExplainGolden explains every request of testdata/explain/*.yaml into NAME.golden (text)
// and NAME.json.golden, and checks that each explained decision is Check's.
func TestExplainGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/explain/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			config, reqs, ok := strings.Cut(string(data), "\n# requests\n")
			if !ok {
				t.Fatalf("%s: no '# requests' line", file)
			}
			jwks, _ := json.Marshal(jwtIssuer(t).jwks)
			config = strings.ReplaceAll(config, "TEST_JWKS", string(jwks))
			var cases []explainCase
			if err := yaml.Unmarshal([]byte(reqs), &cases); err != nil {
				t.Fatalf("%s: requests: %v", file, err)
			}
			e := newEngine(t, Options{CustomProviderReady: func(string) bool { return true }}, config)
			var text, js bytes.Buffer
			for _, c := range cases {
				r := c.request(t)
				ex := e.ExplainRawPath(context.Background(), r, r.Path)
				checkSameDecision(t, e, c.Name, r, &ex)
				text.WriteString("=== " + c.Name + "\n" + ex.String() + "\n")
				b, err := json.MarshalIndent(struct {
					Name        string      `json:"name"`
					Explanation Explanation `json:"explanation"`
				}{c.Name, ex}, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				js.Write(b)
				js.WriteString("\n")
				if c.Claims != nil && strings.Contains(text.String()+js.String(), "eyJ") {
					t.Errorf("%s: the token is printed", c.Name)
				}
			}
			golden(t, strings.TrimSuffix(file, ".yaml")+".golden", text.Bytes())
			golden(t, strings.TrimSuffix(file, ".yaml")+".json.golden", js.Bytes())
		})
	}
}

// checkSameDecision fails unless ex's decision is the one Check makes (with the normalized path).
func checkSameDecision(t *testing.T, e *Engine, name string, r *Request, ex *Explanation) {
	t.Helper()
	if ex.Path != nil && ex.Path.Error != "" {
		return // the gateway answers 400 before Check
	}
	rc := *r
	if ex.Path != nil {
		rc.Path = ex.Path.Normalized
	}
	d := e.Check(context.Background(), &rc)
	got := ex.Decision
	if got.Allowed != d.Allowed || got.Status != d.Status || got.Reason != d.Reason || got.Policy != d.Policy || got.CustomProvider != d.CustomProvider {
		t.Errorf("%s: explained %+v, Check decided allowed=%v status=%d reason=%q policy=%q custom=%q",
			name, got, d.Allowed, d.Status, d.Reason, d.Policy, d.CustomProvider)
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update to accept):\n%s", path, got)
	}
}

// TestDenialLog checks the ring keeps the last n denials only, newest first, never keeps a
// token, and explains each as Check decided it.
func TestDenialLog(t *testing.T) {
	t.Parallel()
	iss := jwtIssuer(t)
	e := newEngine(t, Options{}, iss.requestAuthn("istio-system", "https://issuer.example"), `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: only-get, namespace: istio-system}
spec:
  rules:
  - to: [{operation: {methods: [GET]}}]
`)
	log := e.RecordDenials(2)
	tok := iss.token(t, map[string]any{"iss": "https://issuer.example", "sub": "alice"})
	expired := iss.token(t, map[string]any{"iss": "https://issuer.example", "sub": "bob", "exp": time.Now().Add(-time.Hour).Unix()})
	ctx := context.Background()
	e.Check(ctx, req(ingress, method("DELETE")))                                                         // dropped from the ring
	e.Check(ctx, req(ingress))                                                                           // allowed: not recorded
	e.Check(ctx, req(ingress, method("POST"), bearer(tok)))                                              // ALLOW no match
	e.Check(ctx, req(ingress, bearer(expired), func(r *Request) { r.RawQuery = "access_token=" + tok })) // JWT failure

	got := log.Explain(ctx)
	if len(got) != 2 {
		t.Fatalf("%d denials kept, want 2", len(got))
	}
	if got[0].Decision.Stage != "jwt" || got[0].Decision.Reason != "Jwt is expired" || got[0].Denial.Seq != 3 {
		t.Errorf("newest: %+v %+v", got[0].Decision, got[0].Denial)
	}
	if got[1].Decision.Stage != "no-allow-match" || got[1].JWT.Principal != "https://issuer.example/alice" || got[1].Allow.Nearest == nil {
		t.Errorf("older: %+v %+v", got[1].Decision, got[1].JWT)
	}
	b, _ := json.Marshal(got)
	text := got[0].String() + got[1].String()
	for _, secret := range []string{tok, expired, "eyJ"} {
		if strings.Contains(string(b), secret) || strings.Contains(text, secret) {
			t.Fatalf("a token is kept in the denial log:\n%s", text)
		}
	}
}

func TestRedactQuery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"a=1&b=2", "a=1&b=2"},
		{"access_token=abc&x=1", "access_token=%5Bredacted%5D&x=1"},
		{"my_jwt=eyJh.eyJi.sig", "my_jwt=%5Bredacted%5D"},
		{"flag", "flag"},
	} {
		if got := redactQuery(tc.in); got != tc.want {
			t.Errorf("redactQuery(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
