package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/extauthz"
	"github.com/gatehouse-dev/gatehouse/authz/jwt"
	"github.com/gatehouse-dev/gatehouse/authz/opa"
	"github.com/gatehouse-dev/gatehouse/authz/provider"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/pathnorm"
)

// benchDirEnv names the scratch directory test/bench/opa.sh writes (native/, builtin/,
// requests.json and requests.json.want). Without it the in-process comparison skips, so
// `make test` does not run it.
const benchDirEnv = "GATEHOUSE_BENCH_OPA_DIR"

// inProcess is the same three deciders opa.sh serves over gRPC, built in this process from the
// same config directories: the native engine, the built-in OPA behind a CUSTOM policy, and the
// plugin-style server whose Check is called directly.
type inProcess struct {
	native    *authz.Engine
	builtin   *authz.Engine
	providers *provider.Set
	plugin    *server

	// checks are requests.json as the plugin receives them; nativeReqs and builtinReqs the same
	// requests as the gateway hands the engine (see authzRequest), one set per config because
	// path normalization is a per-config MeshConfig setting.
	checks                  []*authv3.CheckRequest
	nativeReqs, builtinReqs []*authz.Request
	want                    []string
}

// loadInProcess builds the deciders from $GATEHOUSE_BENCH_OPA_DIR, or skips.
func loadInProcess(tb testing.TB) *inProcess {
	tb.Helper()
	dir := os.Getenv(benchDirEnv)
	if dir == "" {
		tb.Skipf("%s is unset: set it to the scratch directory test/bench/opa.sh writes", benchDirEnv)
	}
	var ip inProcess
	var err error
	if ip.checks, err = readRequests(filepath.Join(dir, "requests.json")); err != nil {
		tb.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(dir, "requests.json.want"))
	if err != nil {
		tb.Fatal(err)
	}
	ip.want = strings.Split(strings.TrimSpace(string(want)), "\n")
	if len(ip.want) != len(ip.checks) {
		tb.Fatalf("requests.json.want: %d decisions for %d requests", len(ip.want), len(ip.checks))
	}

	nativeSnap := loadSnapshot(tb, filepath.Join(dir, "native"))
	ip.native = newEngine(tb, nativeSnap, nil)
	ip.nativeReqs = authzRequests(tb, nativeSnap, ip.checks)

	builtinSnap := loadSnapshot(tb, filepath.Join(dir, "builtin"))
	// As `gatehouse authz` builds its providers: Settings.opa names served by opa.Builtin.
	set, errs := provider.Compile(builtinSnap.Mesh, provider.Options{OPA: builtinSnap.Settings.OPA, NewOPA: opa.Builtin})
	if len(errs) > 0 {
		tb.Fatalf("builtin: extension providers: %v", errs)
	}
	ip.providers = set
	ip.builtin = newEngine(tb, builtinSnap, set.Has)
	ip.builtinReqs = authzRequests(tb, builtinSnap, ip.checks)

	modules, data, err := opa.LoadDir(filepath.Join(dir, "builtin", "rego"))
	if err != nil {
		tb.Fatal(err)
	}
	if ip.plugin, err = newServer(context.Background(), modules, data, opa.DefaultPath, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		tb.Fatal(err)
	}
	return &ip
}

func loadSnapshot(tb testing.TB, dir string) *policy.Snapshot {
	tb.Helper()
	cfg, err := policy.LoadDir(dir, policy.LoadOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	snap := cfg.Snapshot(1)
	if snap == nil {
		tb.Fatalf("%s: the config does not load: %v", dir, cfg.Problems.Err())
	}
	return snap
}

// newEngine compiles snap and installs it, as `gatehouse authz` does on a snapshot.
func newEngine(tb testing.TB, snap *policy.Snapshot, ready func(string) bool) *authz.Engine {
	tb.Helper()
	keys := jwt.NewKeys(jwt.KeysOptions{})
	tb.Cleanup(func() { keys.Close() })
	c, err := authz.Compile(snap, keys)
	if err != nil {
		tb.Fatal(err)
	}
	e := authz.NewEngine(authz.Options{CustomProviderReady: ready})
	e.Apply(c)
	return e
}

// authzRequests maps each CheckRequest to the engine's request, the workloads shared as the
// ext_authz server caches them.
func authzRequests(tb testing.TB, snap *policy.Snapshot, checks []*authv3.CheckRequest) []*authz.Request {
	tb.Helper()
	workloads := map[string]*authz.Workload{}
	out := make([]*authz.Request, len(checks))
	for i, cr := range checks {
		r, err := authzRequest(cr, pathnorm.FromMesh(snap.Mesh), workloads)
		if err != nil {
			tb.Fatalf("requests.json [%d]: %v", i, err)
		}
		out[i] = r
	}
	return out
}

// authzRequest maps a CheckRequest as the ext_authz gRPC server does for the fields opa.sh's
// requests carry (socket addresses, HTTP attributes, the workload in context_extensions). The
// server's mapping is unexported, so this restates it through exported APIs; it is setup, not
// measured: in-process, the gateway builds the engine's request from the HTTP request it holds.
func authzRequest(cr *authv3.CheckRequest, mode pathnorm.Mode, workloads map[string]*authz.Workload) (*authz.Request, error) {
	attrs := cr.GetAttributes()
	h := attrs.GetRequest().GetHttp()
	if h == nil {
		return nil, fmt.Errorf("attributes.request.http: missing")
	}
	r := &authz.Request{
		HTTP:        true,
		Source:      socketAddr(attrs.GetSource().GetAddress()),
		Destination: socketAddr(attrs.GetDestination().GetAddress()),
		Method:      h.GetMethod(),
		Scheme:      h.GetScheme(),
		Host:        h.GetHost(),
		Header:      make(http.Header, len(h.GetHeaders())),
	}
	for k, v := range h.GetHeaders() {
		if !strings.HasPrefix(k, ":") {
			r.Header[http.CanonicalHeaderKey(k)] = []string{v}
		}
	}
	if r.Host == "" {
		r.Host = h.GetHeaders()[":authority"]
	}
	target := h.GetPath()
	if target == "" {
		target = h.GetHeaders()[":path"]
	}
	raw, query, _ := strings.Cut(target, "?")
	path, err := pathnorm.Normalize(mode, raw)
	if err != nil {
		return nil, fmt.Errorf("attributes.request.http.path %q: %w", target, err)
	}
	r.Path, r.RawQuery = path, query
	// No numTrustedProxies in these configs: the client is the peer.
	r.RemoteIP = r.Source.Addr()

	ext := attrs.GetContextExtensions()
	ns, labels := ext[extauthz.ExtNamespace], ext[extauthz.ExtLabels]
	if ns == "" {
		return nil, fmt.Errorf("attributes.contextExtensions.%s: missing", extauthz.ExtNamespace)
	}
	w, ok := workloads[ns+"\x00"+labels]
	if !ok {
		parsed, err := policy.ParseLabels(labels)
		if err != nil {
			return nil, fmt.Errorf("attributes.contextExtensions.%s %q: %w", extauthz.ExtLabels, labels, err)
		}
		w = authz.NewWorkload(ns, parsed)
		workloads[ns+"\x00"+labels] = w
	}
	r.Workload = w
	return r, nil
}

func socketAddr(a *corev3.Address) netip.AddrPort {
	sa := a.GetSocketAddress()
	ip, err := netip.ParseAddr(sa.GetAddress())
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(sa.GetPortValue()))
}

// checkNative is the native engine's answer.
func (ip *inProcess) checkNative(ctx context.Context, r *authz.Request) authz.Decision {
	return ip.native.Check(ctx, r)
}

// checkBuiltin is the built-in OPA's answer as the gateway reaches it: the engine finds the
// CUSTOM rule, the provider decides first (its denial is the answer, as Envoy's ext_authz filter
// runs ahead of RBAC), then the engine's own decision stands. The bench policy asks for no body.
func (ip *inProcess) checkBuiltin(ctx context.Context, r *authz.Request) (authz.Decision, provider.Result) {
	d := ip.builtin.Check(ctx, r)
	if d.CustomProvider == "" {
		return d, provider.Result{Allowed: true}
	}
	p, ok := ip.providers.Lookup(d.CustomProvider)
	if !ok {
		return d, provider.Result{Status: http.StatusForbidden}
	}
	return d, p.Check(ctx, r, nil)
}

// verdicts are the three deciders' answers to request i, in check.go's "allow" / "deny STATUS".
func (ip *inProcess) verdicts(ctx context.Context, i int) (native, builtin, plugin string, err error) {
	native = decisionVerdict(ip.checkNative(ctx, ip.nativeReqs[i]))
	d, res := ip.checkBuiltin(ctx, ip.builtinReqs[i])
	if d.CustomProvider == "" {
		return "", "", "", fmt.Errorf("builtin: request [%d] matched no CUSTOM rule", i)
	}
	if res.Allowed {
		builtin = decisionVerdict(d)
	} else {
		builtin = resultVerdict(res)
	}
	resp, err := ip.plugin.Check(ctx, ip.checks[i])
	if err != nil {
		return "", "", "", fmt.Errorf("plugin: request [%d]: %w", i, err)
	}
	return native, builtin, verdict(resp), nil
}

func decisionVerdict(d authz.Decision) string {
	if d.Allowed {
		return "allow"
	}
	return fmt.Sprintf("deny %d", d.Status)
}

func resultVerdict(res provider.Result) string {
	if res.Allowed {
		return "allow"
	}
	st := res.Status
	if st == 0 {
		st = http.StatusForbidden
	}
	return fmt.Sprintf("deny %d", st)
}

// agree fails unless the three deciders give every request of the mix its wanted decision, so
// the benchmarks measure equal decisions.
func (ip *inProcess) agree(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	for i, want := range ip.want {
		native, builtin, plugin, err := ip.verdicts(ctx, i)
		if err != nil {
			tb.Fatal(err)
		}
		if native != want || builtin != want || plugin != want {
			tb.Fatalf("request [%d] (%s %s): native %q, built-in %q, plugin %q; want %q", i,
				ip.checks[i].GetAttributes().GetRequest().GetHttp().GetMethod(),
				ip.checks[i].GetAttributes().GetRequest().GetHttp().GetPath(), native, builtin, plugin, want)
		}
	}
}

// In process, the native engine, the built-in OPA (CUSTOM) and the plugin style decide opa.sh's
// mix as its gRPC servers do.
func TestInProcessDecisionsAgree(t *testing.T) {
	t.Parallel()
	loadInProcess(t).agree(t)
}
