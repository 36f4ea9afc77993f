package policy

import (
	"slices"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// KindOIDCLogin is the Gatehouse kind (gatehouse.dev/v1alpha1) for a browser sign-in against an
// OpenID provider: Istio has no resource for it.
const KindOIDCLogin Kind = "OIDCLogin"

// OIDCLogin is the spec of an OIDCLogin resource. It attaches to gateways by their labels
// (Selector), or serves a MeshConfig extensionProviders name that CUSTOM AuthorizationPolicies
// name (Provider), the way Kubeflow wires oauth2-proxy or oidc-authservice today; or both.
// Decoding fills every default, so the value in a Snapshot is the compiled form.
type OIDCLogin struct {
	// Selector attaches the login to the gateways whose labels match, in the resource's
	// namespace (every namespace when it is MeshConfig's rootNamespace).
	Selector *OIDCSelector `yaml:"selector" json:"selector,omitempty"`
	// Provider is an extensionProviders name that CUSTOM AuthorizationPolicies use.
	Provider string `yaml:"provider" json:"provider,omitempty"`
	// Issuer is the OpenID provider's issuer URL, whose discovery document is
	// <issuer>/.well-known/openid-configuration.
	Issuer   string `yaml:"issuer" json:"issuer"`
	ClientID string `yaml:"clientID" json:"clientID"`
	// ClientSecret names a key of a Secret in the resource's namespace. Only the name enters the
	// snapshot; the value stays in the credential store.
	ClientSecret SecretKeyRef `yaml:"clientSecret" json:"clientSecret"`
	// Scopes requested; DefaultOIDCScopes when empty. openid is required.
	Scopes []string `yaml:"scopes" json:"scopes"`
	// CallbackPath is the redirect URI's path, registered with the provider.
	CallbackPath string      `yaml:"callbackPath" json:"callbackPath"`
	Logout       OIDCLogout  `yaml:"logout" json:"logout"`
	Headers      OIDCHeaders `yaml:"headers" json:"headers"`
	// SkipPaths are served without a session: exact paths, "prefix*" or "*suffix", as
	// AuthorizationPolicy paths are written.
	SkipPaths []string    `yaml:"skipPaths" json:"skipPaths,omitempty"`
	Session   OIDCSession `yaml:"session" json:"session"`

	// Prompt is the authorization request's prompt parameter: "consent" when offline_access is
	// asked, since OpenID Connect Core §11 has the provider ignore offline_access otherwise.
	Prompt string `yaml:"-" json:"prompt,omitempty"`
}

// OIDCSelector selects gateway workloads by their labels, as Istio's WorkloadSelector.
type OIDCSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels" json:"matchLabels"`
}

// SecretKeyRef names one key of a Secret in the referring resource's namespace.
type SecretKeyRef struct {
	Name string `yaml:"name" json:"name"`
	Key  string `yaml:"key" json:"key"`
}

// SecretRef names a Secret in the referring resource's namespace, all of whose keys are used.
type SecretRef struct {
	Name string `yaml:"name" json:"name"`
}

// OIDCLogout is the logout endpoint: it ends the session, then redirects.
type OIDCLogout struct {
	Path string `yaml:"path" json:"path"`
	// RedirectTo is where the browser goes after logout when the provider advertises no
	// end_session_endpoint (Dex does not): a same-site path or an absolute http(s) URL.
	RedirectTo string `yaml:"redirectTo" json:"redirectTo"`
}

// OIDCHeaders are the identity headers set towards the upstream. Headers of these names that the
// client sent are always removed first.
type OIDCHeaders struct {
	UserID OIDCUserIDHeader `yaml:"userID" json:"userID"`
	Groups OIDCGroupsHeader `yaml:"groups" json:"groups"`
	// IDToken sends the id token upstream as `Authorization: Bearer <token>`.
	IDToken bool `yaml:"idToken" json:"idToken"`
}

// OIDCUserIDHeader maps one claim to a user-id header, as Kubeflow's kubeflow-userid: the
// claim's value, StripPrefix removed when present, then Prefix prepended. No header when Name
// is empty.
type OIDCUserIDHeader struct {
	Name        string `yaml:"name" json:"name,omitempty"`
	Claim       string `yaml:"claim" json:"claim"`
	Prefix      string `yaml:"prefix" json:"prefix,omitempty"`
	StripPrefix string `yaml:"stripPrefix" json:"stripPrefix,omitempty"`
}

// OIDCGroupsHeader maps a list claim to a header, its values comma-separated. No header when
// Name is empty.
type OIDCGroupsHeader struct {
	Name  string `yaml:"name" json:"name,omitempty"`
	Claim string `yaml:"claim" json:"claim"`
}

// Session stores.
const (
	OIDCStoreMemory = "memory"
	OIDCStoreRedis  = "redis"
)

// OIDCSession configures the server-side session and its cookie, which holds only an opaque id.
type OIDCSession struct {
	// Store is OIDCStoreMemory (one replica) or OIDCStoreRedis (shared between replicas).
	Store      string     `yaml:"store" json:"store"`
	Redis      *OIDCRedis `yaml:"redis" json:"redis,omitempty"`
	CookieName string     `yaml:"cookieName" json:"cookieName"`
	// CookieDomain shares the cookie with subdomains; empty keeps it host-only.
	CookieDomain string `yaml:"cookieDomain" json:"cookieDomain,omitempty"`
	// AbsoluteLifetime ends a session this long after sign-in, whatever its use.
	AbsoluteLifetime Duration `yaml:"absoluteLifetime" json:"absoluteLifetime"`
	// IdleLifetime ends a session not used for this long.
	IdleLifetime Duration `yaml:"idleLifetime" json:"idleLifetime"`
}

// OIDCRedis is the shared session store.
type OIDCRedis struct {
	// Address is host:port.
	Address string `yaml:"address" json:"address"`
	// Keys names the Secret whose values are the AES-GCM keys that encrypt tokens at rest.
	Keys SecretRef `yaml:"keys" json:"keys"`
}

// Defaults of an OIDCLogin. The paths are oauth2-proxy's, which Kubeflow's manifests register
// with Dex, so swapping the provider keeps the redirect URI.
var DefaultOIDCScopes = []string{"openid", "email", "profile"}

const (
	DefaultOIDCCallbackPath = "/oauth2/callback"
	DefaultOIDCLogoutPath   = "/oauth2/sign_out"
	// DefaultOIDCCookieName takes the __Host- prefix: the browser then refuses the cookie from
	// anything but this exact host over HTTPS with Path=/ (RFC 6265bis §4.1.3.2).
	DefaultOIDCCookieName = "__Host-gatehouse-session"
	// DefaultOIDCDomainCookieName is used when cookieDomain is set, which __Host- forbids.
	DefaultOIDCDomainCookieName = "gatehouse-session"
	// DefaultOIDCAbsoluteLifetime is oidc-authservice's SESSION_MAX_AGE (86400s).
	DefaultOIDCAbsoluteLifetime = 24 * time.Hour
)

// decodeOIDCLogin decodes and validates an OIDCLogin spec; nil when it has errors, which go to
// d with the line of the field concerned.
func decodeOIDCLogin(spec *yaml.Node, r *Resource, d *protoDecoder) *OIDCLogin {
	var o OIDCLogin
	if !decodeStruct(spec, "spec", &o, d) {
		return nil
	}
	for _, list := range []string{"scopes", "skipPaths"} {
		if _, seq := mappingEntry(spec, list); seq != nil && seq.Kind == yaml.SequenceNode {
			for i, item := range seq.Content {
				d.lines["spec."+list+"["+strconv.Itoa(i)+"]"] = resolve(item).Line
			}
		}
	}
	before := len(d.errors)
	v := oidcValidator{r: r, d: d}
	v.explicitZeros(&o)
	o.applyDefaults()
	v.validate(&o)
	if len(d.errors) > before {
		return nil
	}
	return &o
}

// applyDefaults fills what the author left out and derives the compiled fields.
func (o *OIDCLogin) applyDefaults() {
	if len(o.Scopes) == 0 {
		o.Scopes = slices.Clone(DefaultOIDCScopes)
	}
	if slices.Contains(o.Scopes, "offline_access") {
		o.Prompt = "consent"
	}
	if o.CallbackPath == "" {
		o.CallbackPath = DefaultOIDCCallbackPath
	}
	if o.Logout.Path == "" {
		o.Logout.Path = DefaultOIDCLogoutPath
	}
	if o.Logout.RedirectTo == "" {
		o.Logout.RedirectTo = "/"
	}
	if o.Headers.UserID.Claim == "" {
		o.Headers.UserID.Claim = "email" // oidc-authservice's USERID_CLAIM default
	}
	if o.Headers.Groups.Claim == "" {
		o.Headers.Groups.Claim = "groups"
	}
	s := &o.Session
	if s.Store == "" {
		s.Store = OIDCStoreMemory
	}
	if s.CookieName == "" {
		s.CookieName = DefaultOIDCCookieName
		if s.CookieDomain != "" {
			s.CookieName = DefaultOIDCDomainCookieName
		}
	}
	if s.AbsoluteLifetime == 0 {
		s.AbsoluteLifetime = Duration(DefaultOIDCAbsoluteLifetime)
	}
	if s.IdleLifetime == 0 {
		// oidc-authservice has no idle limit; the absolute one is the only bound by default.
		s.IdleLifetime = s.AbsoluteLifetime
	}
}
