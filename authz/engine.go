package authz

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gatehouse-dev/gatehouse/authz/jwt"
)

// Reasons for decisions the engine makes without a policy, failing closed.
const (
	reasonNoConfig   = "authz: no policy loaded"
	reasonNoWorkload = "authz: request names no workload"
	reasonBadConfig  = "authz: workload policy could not be compiled"
)

// badCustomSuffix is how istiod names the DENY rules it substitutes for CUSTOM rules whose
// provider is unusable; the prefix is its ext_authz policy prefix.
const (
	customPrefix    = "istio-ext-authz-"
	badCustomSuffix = "-deny-due-to-bad-CUSTOM-action"
)

// Options configure an Engine; the zero value is usable.
type Options struct {
	// Log receives denials at debug level and workload compile errors. Nil discards.
	Log *slog.Logger
	// CustomProviderReady reports whether the named CUSTOM extension provider can be asked. Nil
	// means none can, and then CUSTOM rules deny what they match, as istiod configures Envoy when a
	// provider is unusable.
	CustomProviderReady func(name string) bool
}

// Engine answers authorization checks against the Compiled config installed last.
type Engine struct {
	log   *slog.Logger
	ready func(string) bool
	cur   atomic.Pointer[Compiled]
	// denials, when set by RecordDenials, keeps the last denied requests for /debug/authz.
	denials atomic.Pointer[DenialLog]

	mu         sync.Mutex
	registered []*Workload
}

// NewEngine returns an Engine with no config: it denies until Apply.
func NewEngine(opts Options) *Engine {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ready := opts.CustomProviderReady
	if ready == nil {
		ready = func(string) bool { return false }
	}
	return &Engine{log: log, ready: ready}
}

// Register makes the engine build w's policy set eagerly, now and on every Apply, so the first
// request of that workload pays nothing (the gateway registers itself). It returns the error of
// building w's set against the current config, if any.
func (e *Engine) Register(w *Workload) error {
	e.mu.Lock()
	if !slices.ContainsFunc(e.registered, func(r *Workload) bool { return r.Key() == w.Key() }) {
		e.registered = append(e.registered, w)
	}
	e.mu.Unlock()
	if c := e.cur.Load(); c != nil {
		return c.set(w).err
	}
	return nil
}

// Apply installs c after building the sets of registered workloads; checks in flight finish on the
// previous config.
func (e *Engine) Apply(c *Compiled) {
	e.mu.Lock()
	regs := append([]*Workload(nil), e.registered...)
	e.mu.Unlock()
	for _, w := range regs {
		if err := c.set(w).err; err != nil {
			e.log.Error("authz: workload policy set does not compile; its requests are denied", "namespace", w.Namespace, "version", c.Version, "error", err)
		}
	}
	e.cur.Store(c)
}

// Compiled returns the installed config, nil before the first Apply.
func (e *Engine) Compiled() *Compiled { return e.cur.Load() }

// Check decides one request the way Envoy's jwt_authn, ext_authz (CUSTOM) and RBAC filters do, in
// that order: a JWT failure is a 401 before any policy; a matching CUSTOM rule names the provider to
// ask (or denies, when the provider is unusable); a matching DENY rule denies; then, if any ALLOW
// policy applies, one of its rules must match. AUDIT and dry-run rules are recorded only.
func (e *Engine) Check(ctx context.Context, r *Request) Decision {
	d := e.check(ctx, r)
	if !d.Allowed {
		if l := e.denials.Load(); l != nil {
			l.record(e.cur.Load(), r, &d)
		}
	}
	return d
}

func (e *Engine) check(ctx context.Context, r *Request) Decision {
	c := e.cur.Load()
	if c == nil {
		return Decision{Status: http.StatusServiceUnavailable, Reason: reasonNoConfig}
	}
	if r.Workload == nil {
		return Decision{Status: http.StatusForbidden, Reason: reasonNoWorkload}
	}
	ws := c.set(r.Workload)
	if ws.err != nil {
		return Decision{Status: http.StatusInternalServerError, Reason: reasonBadConfig}
	}

	ec := evalContext{r: r}
	var authn jwt.Result
	if r.HTTP && ws.authn != nil {
		authn = ws.authn.Authenticate(ctx, jwt.Input{
			Header: r.Header, RawQuery: r.RawQuery, Scheme: r.Scheme, Host: r.Host, Path: r.Path,
		})
		if f := authn.Failure; f != nil {
			status := f.Status
			if status == 0 {
				status = http.StatusUnauthorized
			}
			d := Decision{Status: status, Reason: f.Reason}
			if f.WWWAuthenticate != "" {
				d.ResponseHeaders = []Header{{Name: "www-authenticate", Value: f.WWWAuthenticate}}
			}
			return d
		}
		ec.id = authn.Identity
	}

	d := e.evaluate(ctx, ws, &ec)
	d.Identity = ec.id
	if d.Allowed {
		d.SetHeaders, d.RemoveHeaders = authn.SetHeaders, authn.RemoveHeaders
	}
	return d
}

func (e *Engine) evaluate(ctx context.Context, ws *workloadSet, ec *evalContext) Decision {
	tcp := !ec.r.HTTP
	var d Decision

	for _, cr := range ws.custom {
		p := cr.policy
		usable := !ws.customBad && p.providerOK && e.ready(p.provider)
		if usable && tcp && !p.providerTCP {
			continue // istiod installs no TCP ext_authz for an HTTP-only provider
		}
		if !cr.match(ec, tcp) {
			continue
		}
		if !usable {
			return e.denied(ctx, ec, customPrefix+cr.name+badCustomSuffix)
		}
		if d.CustomProvider == "" {
			d.CustomProvider, d.CustomPolicy = p.provider, cr.name
		}
	}

	for _, cr := range ws.audit {
		if cr.match(ec, tcp) {
			d.Audited, d.AuditPolicy = true, cr.name
			break
		}
	}
	if len(ws.dryDeny) > 0 || ws.hasDryAllow {
		d.DryRun = dryRun(ws, ec, tcp)
	}

	for _, cr := range ws.deny {
		if cr.match(ec, tcp) {
			denied := e.denied(ctx, ec, cr.name)
			denied.CustomProvider, denied.CustomPolicy = d.CustomProvider, d.CustomPolicy
			denied.Audited, denied.AuditPolicy, denied.DryRun = d.Audited, d.AuditPolicy, d.DryRun
			return denied
		}
	}
	if !ws.hasAllow {
		d.Allowed, d.Status = true, http.StatusOK
		return d
	}
	for _, cr := range ws.allow {
		if tcp && cr.httpOnly {
			continue // Istio drops an ALLOW rule with HTTP-only fields from TCP filter chains
		}
		if cr.match(ec, tcp) {
			d.Allowed, d.Status, d.Policy = true, http.StatusOK, cr.name
			return d
		}
	}
	denied := e.denied(ctx, ec, "")
	denied.CustomProvider, denied.CustomPolicy = d.CustomProvider, d.CustomPolicy
	denied.Audited, denied.AuditPolicy, denied.DryRun = d.Audited, d.AuditPolicy, d.DryRun
	return denied
}

// dryRun is the shadow decision of the dry-run policies alone.
func dryRun(ws *workloadSet, ec *evalContext, tcp bool) DryRunResult {
	res := DryRunResult{Evaluated: true}
	for _, cr := range ws.dryDeny {
		if cr.match(ec, tcp) {
			res.Policy = cr.name
			return res
		}
	}
	if !ws.hasDryAllow {
		res.Allowed = true
		return res
	}
	for _, cr := range ws.dryAllow {
		if (!tcp || !cr.httpOnly) && cr.match(ec, tcp) {
			res.Allowed, res.Policy = true, cr.name
			return res
		}
	}
	return res
}

// denied builds a 403 and logs it, naming the rule as Envoy's RBAC filter does.
func (e *Engine) denied(ctx context.Context, ec *evalContext, policy string) Decision {
	if e.log.Enabled(ctx, slog.LevelDebug) {
		w := ec.r.Workload
		e.log.DebugContext(ctx, "RBAC: access denied", "matched_policy", policy, "namespace", w.Namespace,
			"path", ec.r.Path, "source_principal", ec.r.SourcePrincipal)
	}
	return denyRBAC(policy)
}
