package authz

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	security "istio.io/api/security/v1beta1"

	"github.com/gatehouse-dev/gatehouse/authz/jwt"
	"github.com/gatehouse-dev/gatehouse/policy/pathnorm"
)

// Explanation says why Check decided what it did: the stages Envoy's filters run (path
// normalization, jwt_authn, ext_authz for CUSTOM, RBAC DENY then ALLOW) and what each found. Its
// JSON form is stable machine output; String is the short human report.
type Explanation struct {
	Decision ExplainedDecision `json:"decision"`
	Request  ExplainedRequest  `json:"request"`
	// Path is set when a raw path was given (ExplainRawPath); Check itself sees paths already
	// normalized by the gateway.
	Path   *PathStep    `json:"pathNormalization,omitempty"`
	JWT    JWTStep      `json:"jwt"`
	Custom *CustomStep  `json:"custom,omitempty"`
	Deny   PolicyStep   `json:"deny"`
	Allow  PolicyStep   `json:"allow"`
	Notes  []string     `json:"notes,omitempty"`
	Denial *DenialEntry `json:"recorded,omitempty"`
}

// ExplainedDecision is Check's decision, and the stage that made it: "path", "workload", "jwt",
// "custom" (an unusable provider denies), "custom-provider" (the provider decides), "deny",
// "allow" (a rule matched), "no-allow-match", "no-deny-match" or "no-policy" (nothing applies).
type ExplainedDecision struct {
	Allowed        bool   `json:"allowed"`
	Status         int    `json:"status"`
	Reason         string `json:"reason,omitempty"`
	Stage          string `json:"stage"`
	Policy         string `json:"policy,omitempty"`
	CustomProvider string `json:"customProvider,omitempty"`
}

// ExplainedRequest is what was checked, with credentials redacted.
type ExplainedRequest struct {
	Workload        string            `json:"workload"`
	Protocol        string            `json:"protocol"`
	Method          string            `json:"method,omitempty"`
	Host            string            `json:"host,omitempty"`
	Path            string            `json:"path,omitempty"`
	Query           string            `json:"query,omitempty"`
	Headers         map[string]string `json:"headers,omitempty"`
	Source          string            `json:"source,omitempty"`
	RemoteIP        string            `json:"remoteIP,omitempty"`
	Destination     string            `json:"destination,omitempty"`
	SourcePrincipal string            `json:"sourcePrincipal,omitempty"`
	SNI             string            `json:"sni,omitempty"`
}

// PathStep is the MeshConfig pathNormalization applied to the raw path.
type PathStep struct {
	Mode       string `json:"mode"`
	Input      string `json:"input"`
	Normalized string `json:"normalized,omitempty"`
	Changed    bool   `json:"changed"`
	Error      string `json:"error,omitempty"`
}

// JWTStep is what RequestAuthentication did. Outcome is "none" (no RequestAuthentication applies
// or the request is TCP), "no-token" (passes with no identity), "verified" or "failed".
type JWTStep struct {
	Outcome string `json:"outcome"`
	// Rules are the jwtRules that apply, "ns/name jwtRules[i] issuer <iss>".
	Rules []string `json:"rules,omitempty"`
	// VerifiedBy names the jwtRule whose issuer the verified token carries.
	VerifiedBy string `json:"verifiedBy,omitempty"`
	Principal  string `json:"principal,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Status     int    `json:"status,omitempty"`
}

// CustomStep is the CUSTOM stage: the matched rules and the provider that would be asked.
type CustomStep struct {
	Provider string   `json:"provider,omitempty"`
	Matched  []string `json:"matched,omitempty"`
	// Unusable is set when a matched rule's provider is not defined or not ready, or the
	// workload's CUSTOM policies name several providers: Istio then denies what it matches.
	Unusable string `json:"unusable,omitempty"`
}

// PolicyStep is one action's policies: those that apply, the rules that matched, the rules dropped
// on TCP, and, when none matched, the nearest rule and every condition of it that failed.
type PolicyStep struct {
	Policies []string  `json:"policies,omitempty"`
	Matched  []string  `json:"matched,omitempty"`
	Dropped  []string  `json:"droppedOnTCP,omitempty"`
	Nearest  *NearMiss `json:"nearest,omitempty"`
}

// NearMiss is the rule with the fewest failing conditions (for ORed from/to entries, those of the
// entry failing least count), and every condition of it that failed.
type NearMiss struct {
	Rule     string   `json:"rule"`
	Failures []string `json:"failures"`
}

// Explain evaluates r as Check does, recording why; it is a slow path (it allocates freely) and
// its Decision equals Check's. Custom providers count as ready as the Engine's options say.
func (e *Engine) Explain(ctx context.Context, r *Request) Explanation {
	return e.explain(ctx, e.cur.Load(), r, nil)
}

// ExplainRawPath is Explain for a path as the client sent it: it normalizes rawPath as the gateway
// does per the config's MeshConfig pathNormalization, then explains the request with that path.
func (e *Engine) ExplainRawPath(ctx context.Context, r *Request, rawPath string) Explanation {
	c := e.cur.Load()
	if !r.HTTP {
		return e.explain(ctx, c, r, nil)
	}
	mode := pathnorm.Base
	if c != nil {
		mode = c.pathMode
	}
	step := &PathStep{Mode: mode.String(), Input: rawPath}
	norm, err := pathnorm.Normalize(mode, rawPath)
	if err != nil {
		step.Error = err.Error()
		ex := Explanation{Path: step, Request: explainedRequest(r), JWT: JWTStep{Outcome: "none"}}
		ex.Decision = ExplainedDecision{Status: http.StatusBadRequest, Reason: "path could not be normalized", Stage: "path"}
		if errors.Is(err, pathnorm.ErrInvalid) {
			ex.Notes = append(ex.Notes, "the gateway answers 400 before routing or authorization")
		}
		return ex
	}
	step.Normalized, step.Changed = norm, norm != rawPath
	rc := *r
	rc.Path = norm
	ex := e.explain(ctx, c, &rc, nil)
	ex.Path = step
	return ex
}

// authnOutcome replaces JWT verification when explaining a recorded denial, whose token was
// redacted: the identity (or failure) recorded at Check time stands in for it.
type authnOutcome struct {
	id      *jwt.Identity
	failure *jwt.Failure
}

func (e *Engine) explain(ctx context.Context, c *Compiled, r *Request, recorded *authnOutcome) Explanation {
	ex := Explanation{Request: explainedRequest(r), JWT: JWTStep{Outcome: "none"}}
	decide := func(d Decision, stage string) Explanation {
		ex.Decision = ExplainedDecision{Allowed: d.Allowed, Status: d.Status, Reason: d.Reason, Stage: stage,
			Policy: d.Policy, CustomProvider: d.CustomProvider}
		return ex
	}
	switch {
	case c == nil:
		return decide(Decision{Status: http.StatusServiceUnavailable, Reason: reasonNoConfig}, "workload")
	case r.Workload == nil:
		return decide(Decision{Status: http.StatusForbidden, Reason: reasonNoWorkload}, "workload")
	}
	ws := c.set(r.Workload)
	if ws.err != nil {
		ex.Notes = append(ex.Notes, ws.err.Error())
		return decide(Decision{Status: http.StatusInternalServerError, Reason: reasonBadConfig}, "workload")
	}

	ec := evalContext{r: r}
	if r.HTTP {
		ex.JWT.Rules = c.jwtRules(r.Workload)
	}
	if r.HTTP && ws.authn != nil {
		var res jwt.Result
		if recorded != nil {
			res = jwt.Result{Identity: recorded.id, Failure: recorded.failure}
		} else {
			res = ws.authn.Authenticate(ctx, jwt.Input{Header: r.Header, RawQuery: r.RawQuery, Scheme: r.Scheme, Host: r.Host, Path: r.Path})
		}
		switch {
		case res.Failure != nil:
			status := res.Failure.Status
			if status == 0 {
				status = http.StatusUnauthorized
			}
			ex.JWT.Outcome, ex.JWT.Reason, ex.JWT.Status = "failed", res.Failure.Reason, status
			return decide(Decision{Status: status, Reason: res.Failure.Reason}, "jwt")
		case res.Identity != nil:
			ex.JWT.Outcome, ex.JWT.Principal = "verified", res.Identity.Principal()
			ex.JWT.VerifiedBy = c.jwtRuleFor(r.Workload, res.Identity.Issuer)
		default:
			ex.JWT.Outcome = "no-token"
		}
		ec.id = res.Identity
	}
	d, stage := e.explainPolicies(ws, &ec, &ex)
	return decide(d, stage)
}

// explainPolicies mirrors evaluate, matching with the same rule.match, and fills ex's steps.
func (e *Engine) explainPolicies(ws *workloadSet, ec *evalContext, ex *Explanation) (Decision, string) {
	tcp := !ec.r.HTTP
	if tcp {
		ex.Notes = append(ex.Notes, "TCP: HTTP-only fields (hosts, methods, paths, requestPrincipals, request.* conditions) are ignored in DENY and CUSTOM rules, and ALLOW rules using them are dropped")
	}
	var d Decision
	var unusable Decision
	for _, cr := range ws.custom {
		p := cr.policy
		usable := !ws.customBad && p.providerOK && e.ready(p.provider)
		if usable && tcp && !p.providerTCP {
			ex.Notes = append(ex.Notes, fmt.Sprintf("%s: provider %q checks HTTP only; not installed on TCP", cr.name, p.provider))
			continue
		}
		if !cr.match(ec, tcp) {
			continue
		}
		if ex.Custom == nil {
			ex.Custom = &CustomStep{}
		}
		ex.Custom.Matched = append(ex.Custom.Matched, cr.name)
		if !usable {
			if unusable.Status == 0 {
				ex.Custom.Unusable = customProblem(ws, p, e.ready(p.provider))
				unusable = denyRBAC(customPrefix + cr.name + badCustomSuffix)
			}
			continue
		}
		if d.CustomProvider == "" {
			d.CustomProvider, d.CustomPolicy = p.provider, cr.name
			ex.Custom.Provider = p.provider
		}
	}
	if unusable.Status != 0 {
		return unusable, "custom"
	}

	ex.Deny.Policies = policyNames(ws.deny)
	var denied *compiledRule
	for _, cr := range ws.deny {
		if cr.match(ec, tcp) {
			ex.Deny.Matched = append(ex.Deny.Matched, cr.name)
			if denied == nil {
				denied = cr
			}
		}
	}
	ex.Allow.Policies = policyNames(ws.allow)
	var allowed *compiledRule
	var nearest *NearMiss
	nearestN := -1
	for _, cr := range ws.allow {
		if tcp && cr.httpOnly {
			ex.Allow.Dropped = append(ex.Allow.Dropped, cr.name+": "+strings.Join(httpOnlyFields(cr), ", "))
			continue
		}
		if cr.match(ec, tcp) {
			ex.Allow.Matched = append(ex.Allow.Matched, cr.name)
			if allowed == nil {
				allowed = cr
			}
			continue
		}
		fails, n := cr.failures(ec, tcp)
		if nearestN < 0 || n < nearestN {
			nearest, nearestN = &NearMiss{Rule: cr.name, Failures: fails}, n
		}
	}

	withShared := func(out Decision) Decision {
		out.CustomProvider, out.CustomPolicy = d.CustomProvider, d.CustomPolicy
		return out
	}
	switch {
	case denied != nil:
		return withShared(denyRBAC(denied.name)), "deny"
	case !ws.hasAllow:
		d.Allowed, d.Status = true, http.StatusOK
		stage := "no-policy"
		switch {
		case d.CustomProvider != "":
			stage = "custom-provider"
		case len(ws.deny) > 0:
			stage = "no-deny-match"
		}
		return d, stage
	case allowed != nil:
		d.Allowed, d.Status, d.Policy = true, http.StatusOK, allowed.name
		return d, "allow"
	}
	ex.Allow.Nearest = nearest
	return withShared(denyRBAC("")), "no-allow-match"
}

// customProblem says why a matched CUSTOM rule denies instead of asking its provider.
func customProblem(ws *workloadSet, p *compiledPolicy, ready bool) string {
	switch {
	case ws.customBad:
		return "the workload's CUSTOM policies name different providers; Istio allows one per workload"
	case !p.providerOK:
		return fmt.Sprintf("provider %q is not an envoyExtAuthzGrpc or envoyExtAuthzHttp extensionProvider in MeshConfig", p.provider)
	case !ready:
		return fmt.Sprintf("provider %q is not ready", p.provider)
	}
	return ""
}

// policyNames lists the distinct "ns/name" of the policies owning rules.
func policyNames(rules []*compiledRule) []string {
	var out []string
	for _, cr := range rules {
		n := cr.policy.namespace + "/" + cr.policy.name
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// jwtRules lists the jwtRules of the RequestAuthentications that apply to w.
func (c *Compiled) jwtRules(w *Workload) []string {
	var out []string
	for _, a := range c.authn {
		if !a.scope.selects(w, c.root) {
			continue
		}
		spec, _ := a.res.Spec.(*security.RequestAuthentication)
		for i, jr := range spec.GetJwtRules() {
			out = append(out, fmt.Sprintf("%s/%s jwtRules[%d] issuer %s", a.res.Namespace, a.res.Name, i, jr.GetIssuer()))
		}
	}
	return out
}

// jwtRuleFor names the first applying jwtRule with issuer iss: the one whose keys verified it.
func (c *Compiled) jwtRuleFor(w *Workload, iss string) string {
	for _, a := range c.authn {
		if !a.scope.selects(w, c.root) {
			continue
		}
		spec, _ := a.res.Spec.(*security.RequestAuthentication)
		for i, jr := range spec.GetJwtRules() {
			if jr.GetIssuer() == iss {
				return fmt.Sprintf("%s/%s jwtRules[%d]", a.res.Namespace, a.res.Name, i)
			}
		}
	}
	return ""
}
