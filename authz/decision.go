package authz

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/authz/jwt"
)

// Header is one response or upstream header.
type Header = jwt.Header

// ReasonDenied is Envoy's RBAC body and log text for a denied request.
const ReasonDenied = "RBAC: access denied"

// Decision is the outcome of Check.
type Decision struct {
	// Allowed reports whether the request may proceed. When CustomProvider is set, the caller
	// must first ask that provider: its denial wins, as Envoy's ext_authz filter runs before RBAC.
	Allowed bool
	// Status is the HTTP status for the client: 200 when allowed, 401 for a JWT failure (403 for
	// a disallowed audience, as Envoy's jwt_authn answers), 403 for an authorization denial, 5xx
	// when the engine cannot decide (fail closed).
	Status int
	// Reason is Envoy's text: "RBAC: access denied", or the jwt_authn reason ("Jwt is expired", …).
	Reason string
	// ResponseHeaders are sent to the client with a denial (www-authenticate on a 401).
	ResponseHeaders []Header
	// SetHeaders and RemoveHeaders are the upstream header changes of an allowed request
	// (outputPayloadToHeader, outputClaimToHeaders, and the token removed unless forwarded).
	SetHeaders    []Header
	RemoveHeaders []string
	// Identity is the verified JWT's identity, nil without a token.
	Identity *jwt.Identity

	// Policy names the rule that decided, in Envoy's style "ns[<ns>]-policy[<name>]-rule[<i>]":
	// the DENY rule that denied, or the ALLOW rule that allowed. Empty when no policy applies, or
	// when ALLOW policies exist and none matched.
	Policy string
	// CustomProvider is the MeshConfig extensionProviders name that must be asked, set when a
	// CUSTOM rule matched and its provider is usable; CustomPolicy names that rule.
	CustomProvider string
	CustomPolicy   string
	// Audited reports whether an AUDIT rule matched (AuditPolicy names the first, by name);
	// auditing never changes the decision.
	Audited     bool
	AuditPolicy string
	// DryRun is the decision the policies annotated istio.io/dry-run: "true" would have made;
	// they never change Allowed.
	DryRun DryRunResult
}

// DryRunResult is what Envoy's shadow rules report for dry-run policies.
type DryRunResult struct {
	// Evaluated is set when dry-run policies apply to the workload.
	Evaluated bool
	// Allowed is the shadow decision, and Policy the shadow rule that decided it.
	Allowed bool
	Policy  string
}

func denyRBAC(policy string) Decision {
	return Decision{Status: http.StatusForbidden, Reason: ReasonDenied, Policy: policy}
}
