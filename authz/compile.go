package authz

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	meshconfig "istio.io/api/mesh/v1alpha1"
	security "istio.io/api/security/v1beta1"

	"github.com/gatehouse-dev/gatehouse/authz/jwt"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/pathnorm"
)

// maxCachedWorkloads bounds the per-workload sets a Compiled keeps. A gateway is one workload and an
// ext_authz service sees the few workloads of its mesh; past the bound, sets are built per request
// (correct, only slower) rather than letting a caller grow memory without limit.
const maxCachedWorkloads = 1024

// dryRunAnnotation marks a policy to be evaluated but never enforced (Envoy shadow rules).
const dryRunAnnotation = "istio.io/dry-run"

// compiledPolicy is one AuthorizationPolicy with its rules compiled.
type compiledPolicy struct {
	namespace, name string
	action          security.AuthorizationPolicy_Action
	dryRun          bool
	root            bool
	scope           scope
	rules           []*compiledRule
	// provider is the CUSTOM extension provider's name; providerOK reports that MeshConfig
	// defines it as an ext_authz provider, and providerTCP that it can check TCP (gRPC only).
	provider    string
	providerOK  bool
	providerTCP bool
}

// authnPolicy is one RequestAuthentication and its scope.
type authnPolicy struct {
	res   *policy.Resource
	scope scope
}

// Compiled is a snapshot's authorization config: every policy compiled to native matchers, and the
// per-workload sets built from them on first use. It is immutable apart from that cache and safe
// for concurrent use.
type Compiled struct {
	// Version is the snapshot version it was compiled from.
	Version uint64

	root     string
	policies []*compiledPolicy
	authn    []authnPolicy
	keys     *jwt.Keys
	// pathMode is the mesh's pathNormalization, for explaining a raw path; Check gets paths
	// already normalized.
	pathMode pathnorm.Mode

	mu   sync.Mutex // serializes cache writers
	sets atomic.Pointer[map[string]*workloadSet]
}

// workloadSet is what applies to one workload, in evaluation order. Rule lists are ordered as
// Envoy's RBAC engine reports them: by policy ID, root-namespace DENY rules first.
type workloadSet struct {
	custom []*compiledRule
	// customBad is set when the workload's CUSTOM policies name different providers, which Istio
	// refuses by turning every CUSTOM rule into a deny.
	customBad bool
	audit     []*compiledRule
	deny      []*compiledRule
	allow     []*compiledRule
	hasAllow  bool
	dryDeny   []*compiledRule
	dryAllow  []*compiledRule
	// hasDryAllow: dry-run ALLOW policies apply, so the shadow decision needs one to match.
	hasDryAllow bool
	authn       *jwt.Authenticator
	err         error
}

// Compile translates a snapshot. It is pure apart from registering the JWKS sources of
// RequestAuthentication rules with keys, and fails on a resource it cannot compile (which
// validation should have refused), so the caller keeps its last good Compiled.
func Compile(snap *policy.Snapshot, keys *jwt.Keys) (*Compiled, error) {
	c := &Compiled{Version: snap.Version, root: snap.RootNamespace(), keys: keys, pathMode: pathnorm.FromMesh(snap.Mesh)}
	providers := extensionProviders(snap.Mesh)
	for _, r := range snap.List(policy.KindAuthorizationPolicy) {
		cp, err := compilePolicy(r, c.root, providers)
		if err != nil {
			return nil, err
		}
		c.policies = append(c.policies, cp)
	}
	for _, r := range snap.List(policy.KindRequestAuthentication) {
		spec, ok := r.Spec.(*security.RequestAuthentication)
		if !ok {
			return nil, fmt.Errorf("%s: spec is %T, not a RequestAuthentication", r.Key(), r.Spec)
		}
		// Build it alone once so that a rule the jwt package cannot use fails the snapshot here,
		// not the first request of some workload.
		if _, err := jwt.NewAuthenticator(keys, []*policy.Resource{r}); err != nil {
			return nil, fmt.Errorf("%s: %w", r.Key(), err)
		}
		c.authn = append(c.authn, authnPolicy{res: r, scope: newScope(r, spec.GetSelector(), spec.GetTargetRef(), spec.GetTargetRefs())})
	}
	empty := map[string]*workloadSet{}
	c.sets.Store(&empty)
	return c, nil
}

// providerKind is what Gatehouse knows of one MeshConfig extension provider.
type providerKind struct{ tcp bool }

// extensionProviders lists the providers a CUSTOM policy can use: Envoy ext_authz over HTTP or gRPC
// (only gRPC also checks TCP), as istiod's processExtensionProvider accepts them.
func extensionProviders(mesh *meshconfig.MeshConfig) map[string]providerKind {
	out := map[string]providerKind{}
	for _, p := range mesh.GetExtensionProviders() {
		switch {
		case p.GetEnvoyExtAuthzGrpc() != nil:
			out[p.GetName()] = providerKind{tcp: true}
		case p.GetEnvoyExtAuthzHttp() != nil:
			out[p.GetName()] = providerKind{}
		}
	}
	return out
}

func compilePolicy(r *policy.Resource, root string, providers map[string]providerKind) (*compiledPolicy, error) {
	spec, ok := r.Spec.(*security.AuthorizationPolicy)
	if !ok {
		return nil, fmt.Errorf("%s: spec is %T, not an AuthorizationPolicy", r.Key(), r.Spec)
	}
	cp := &compiledPolicy{
		namespace: r.Namespace,
		name:      r.Name,
		action:    spec.GetAction(),
		root:      r.Namespace == root,
		scope:     newScope(r, spec.GetSelector(), spec.GetTargetRef(), spec.GetTargetRefs()),
	}
	// Istio reads the annotation with strconv.ParseBool and treats a bad value as false.
	cp.dryRun, _ = strconv.ParseBool(r.Annotations[dryRunAnnotation])
	if cp.action == security.AuthorizationPolicy_CUSTOM {
		cp.provider = spec.GetProvider().GetName()
		kind, ok := providers[cp.provider]
		cp.providerOK, cp.providerTCP = ok, kind.tcp
	}
	for i, rule := range spec.GetRules() {
		cr, err := compileRule(fmt.Sprintf("spec.rules[%d]", i), r.Namespace, rule)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Key(), err)
		}
		cr.name = ruleName(r.Namespace, r.Name, i)
		cr.policy = cp
		cp.rules = append(cp.rules, cr)
	}
	if len(spec.GetRules()) == 0 {
		// Istio generates an explicit never-matching policy: an ALLOW without rules (`spec: {}`)
		// then denies everything, since an ALLOW policy exists and nothing matches it.
		cp.rules = []*compiledRule{{name: ruleName(r.Namespace, r.Name, 0), policy: cp, never: true}}
	}
	return cp, nil
}

// set returns the workload's compiled set, building and caching it on first sight.
func (c *Compiled) set(w *Workload) *workloadSet {
	key := w.Key()
	if ws, ok := (*c.sets.Load())[key]; ok {
		return ws
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := *c.sets.Load()
	if ws, ok := cur[key]; ok {
		return ws
	}
	ws := c.build(w)
	if len(cur) >= maxCachedWorkloads {
		return ws
	}
	next := maps.Clone(cur)
	next[key] = ws
	c.sets.Store(&next)
	return ws
}

// cached reports how many workload sets are cached.
func (c *Compiled) cached() int { return len(*c.sets.Load()) }

func (c *Compiled) build(w *Workload) *workloadSet {
	ws := &workloadSet{}
	var rootDeny, deny []*compiledRule
	providers := map[string]bool{}
	for _, p := range c.policies {
		if !p.scope.selects(w, c.root) {
			continue
		}
		switch {
		case p.action == security.AuthorizationPolicy_CUSTOM:
			if p.dryRun {
				continue // a dry-run CUSTOM policy is not enforced
			}
			providers[p.provider] = true
			ws.custom = append(ws.custom, p.rules...)
		case p.action == security.AuthorizationPolicy_AUDIT:
			if !p.dryRun {
				ws.audit = append(ws.audit, p.rules...)
			}
		case p.action == security.AuthorizationPolicy_DENY && p.dryRun:
			ws.dryDeny = append(ws.dryDeny, p.rules...)
		case p.action == security.AuthorizationPolicy_DENY && p.root:
			rootDeny = append(rootDeny, p.rules...)
		case p.action == security.AuthorizationPolicy_DENY:
			deny = append(deny, p.rules...)
		case p.dryRun:
			ws.hasDryAllow = true
			ws.dryAllow = append(ws.dryAllow, p.rules...)
		default:
			ws.hasAllow = true
			ws.allow = append(ws.allow, p.rules...)
		}
	}
	ws.customBad = len(providers) > 1
	for _, l := range [][]*compiledRule{ws.custom, ws.audit, ws.dryDeny, rootDeny, deny, ws.dryAllow, ws.allow} {
		slices.SortStableFunc(l, func(a, b *compiledRule) int { return strings.Compare(a.name, b.name) })
	}
	ws.deny = append(rootDeny, deny...)

	var authn []*policy.Resource
	for _, a := range c.authn {
		if a.scope.selects(w, c.root) {
			authn = append(authn, a.res)
		}
	}
	if len(authn) > 0 {
		ws.authn, ws.err = jwt.NewAuthenticator(c.keys, authn)
		if ws.err != nil {
			ws.err = fmt.Errorf("workload %s: RequestAuthentication: %w", w.Namespace, ws.err)
		}
	}
	return ws
}
