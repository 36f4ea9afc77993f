package policy

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
)

// oidcValidator checks one OIDCLogin spec, after defaults, reporting each problem at the line of
// the field it concerns (or of the nearest field written, for a default).
type oidcValidator struct {
	r *Resource
	d *protoDecoder
}

func (v oidcValidator) fail(path, format string, args ...any) {
	v.d.errors = append(v.d.errors, fieldError{path: path, line: v.r.LineOf(path), reason: fmt.Sprintf(format, args...)})
}

// written reports whether the author wrote the field, as opposed to it being defaulted.
func (v oidcValidator) written(path string) bool {
	_, ok := v.r.lines[path]
	return ok
}

// explicitZeros runs before defaults: a lifetime written as 0 would otherwise silently become
// the default.
func (v oidcValidator) explicitZeros(o *OIDCLogin) {
	for path, d := range map[string]Duration{
		"spec.session.absoluteLifetime": o.Session.AbsoluteLifetime,
		"spec.session.idleLifetime":     o.Session.IdleLifetime,
	} {
		if d == 0 && v.written(path) {
			v.fail(path, "must be positive (leave it out for the default)")
		}
	}
}

func (v oidcValidator) validate(o *OIDCLogin) {
	v.attachment(o)
	v.issuer(o.Issuer)
	if o.ClientID == "" {
		v.fail("spec.clientID", "required: the client id registered with the provider")
	}
	v.secretKeyRef("spec.clientSecret", o.ClientSecret)
	v.scopes(o.Scopes)
	v.paths(o)
	v.headers(&o.Headers)
	v.session(&o.Session)
}

// attachment: the two ways to attach a login, a gateway selector and a CUSTOM provider,
// may be used together; at least one is needed or the login serves nothing.
func (v oidcValidator) attachment(o *OIDCLogin) {
	if o.Selector == nil && o.Provider == "" {
		v.fail("spec", "give selector (gateways by their labels) or provider (an extensionProviders name that CUSTOM AuthorizationPolicies use), or both")
	}
	if o.Selector != nil {
		if len(o.Selector.MatchLabels) == 0 {
			v.fail("spec.selector.matchLabels", "required: an empty selector would attach the login to every gateway")
		}
		for k, val := range o.Selector.MatchLabels {
			for _, e := range k8svalidation.IsQualifiedName(k) {
				v.fail("spec.selector.matchLabels."+k, "label key: %s", e)
			}
			for _, e := range k8svalidation.IsValidLabelValue(val) {
				v.fail("spec.selector.matchLabels."+k, "label value %q: %s", val, e)
			}
		}
	}
}

// issuer follows OpenID Connect Core §1.2: an https URL with no query or fragment. Plain http is
// accepted for loopback hosts only, so tests can run a provider on 127.0.0.1.
func (v oidcValidator) issuer(s string) {
	const f = "spec.issuer"
	if s == "" {
		v.fail(f, "required: the provider's issuer URL, such as https://dex.example.com/dex")
		return
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		v.fail(f, "%q: want an https URL such as https://dex.example.com/dex", s)
	case u.User != nil:
		v.fail(f, "%q: must not hold credentials", u.Redacted())
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#"):
		v.fail(f, "%q: an issuer has no query or fragment (OpenID Connect Core 1.2)", s)
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
	case u.Scheme == "http":
		v.fail(f, "%q: must be https; http is accepted only for loopback hosts (localhost, 127.0.0.0/8, ::1)", s)
	default:
		v.fail(f, "%q: scheme %q: want https", s, u.Scheme)
	}
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func (v oidcValidator) secretKeyRef(f string, ref SecretKeyRef) {
	if ref == (SecretKeyRef{}) {
		v.fail(f, "required: name and key of a Secret in the resource's namespace")
		return
	}
	v.secretName(f+".name", ref.Name)
	if ref.Key == "" {
		v.fail(f+".key", "required: the key of the Secret that holds the value")
	}
	for _, e := range k8svalidation.IsConfigMapKey(ref.Key) {
		if ref.Key != "" {
			v.fail(f+".key", "%q: %s", ref.Key, e)
		}
	}
}

func (v oidcValidator) secretName(f, name string) {
	if name == "" {
		v.fail(f, "required: a Secret in the resource's namespace")
		return
	}
	for _, e := range k8svalidation.IsDNS1123Subdomain(name) {
		v.fail(f, "%q: %s", name, e)
	}
}

// scopes: each an RFC 6749 §3.3 scope-token, openid among them (without it the request is plain
// OAuth 2.0 and no id token comes back).
func (v oidcValidator) scopes(scopes []string) {
	seen := map[string]int{}
	for i, s := range scopes {
		f := "spec.scopes[" + strconv.Itoa(i) + "]"
		if !isScopeToken(s) {
			v.fail(f, "%q: not a scope token (printable ASCII, no space, \" or \\)", s)
		}
		if j, dup := seen[s]; dup {
			v.fail(f, "%q: also spec.scopes[%d]", s, j)
		}
		seen[s] = i
	}
	if _, ok := seen["openid"]; !ok {
		v.fail("spec.scopes", "must include openid")
	}
}

func isScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func (v oidcValidator) paths(o *OIDCLogin) {
	v.exactPath("spec.callbackPath", o.CallbackPath)
	v.exactPath("spec.logout.path", o.Logout.Path)
	if o.CallbackPath == o.Logout.Path {
		v.fail("spec.logout.path", "%q: same as callbackPath", o.Logout.Path)
	}
	v.redirectTarget("spec.logout.redirectTo", o.Logout.RedirectTo)
	for i, p := range o.SkipPaths {
		f := "spec.skipPaths[" + strconv.Itoa(i) + "]"
		switch {
		case p == "*":
			v.fail(f, `"*" skips the login everywhere; detach the OIDCLogin instead`)
		case strings.Count(p, "*") > 1 || strings.Contains(strings.Trim(p, "*"), "*"):
			v.fail(f, "%q: want an exact path, \"prefix*\" or \"*suffix\"", p)
		case !strings.HasPrefix(p, "*") && !strings.HasPrefix(p, "/"):
			v.fail(f, "%q: must start with /", p)
		case skipPathMatches(p, o.CallbackPath):
			v.fail(f, "%q covers callbackPath %s: the login could never complete", p, o.CallbackPath)
		}
	}
}

// skipPathMatches matches a path against an exact, "prefix*" or "*suffix" pattern, as Istio's
// AuthorizationPolicy paths do.
func skipPathMatches(pattern, path string) bool {
	switch {
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(path, strings.TrimSuffix(pattern, "*"))
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(path, strings.TrimPrefix(pattern, "*"))
	}
	return pattern == path
}

// exactPath checks a path the login serves itself. The gateway normalizes the request path
// before authorization, so a path not in normal form would never match.
func (v oidcValidator) exactPath(f, p string) {
	switch {
	case !strings.HasPrefix(p, "/"):
		v.fail(f, "%q: must start with /", p)
	case p == "/":
		v.fail(f, `"/" would take over the whole site`)
	case strings.ContainsAny(p, "?#*"):
		v.fail(f, "%q: an exact path: no query, fragment or wildcard", p)
	case strings.Contains(p, "//") || slices.ContainsFunc(strings.Split(p, "/"), func(s string) bool { return s == "." || s == ".." }):
		v.fail(f, "%q: not a normalized path (no //, . or .. segments)", p)
	}
}

// redirectTarget accepts a same-site absolute path or an absolute http(s) URL; "//host" is a
// URL in disguise and is refused.
func (v oidcValidator) redirectTarget(f, s string) {
	if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") && !strings.HasPrefix(s, "/\\") {
		return
	}
	if u, err := url.Parse(s); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		return
	}
	v.fail(f, "%q: want a path starting with / or an absolute http(s) URL", s)
}

// reservedHeaders are headers the login itself or HTTP owns; mapping a claim onto them would
// break the request or the login.
var reservedHeaders = []string{"authorization", "cookie", "host", "connection", "content-length",
	"transfer-encoding", "te", "upgrade", "keep-alive", "proxy-authorization", "set-cookie"}

func (v oidcValidator) headers(h *OIDCHeaders) {
	v.headerName("spec.headers.userID.name", h.UserID.Name)
	v.headerName("spec.headers.groups.name", h.Groups.Name)
	if h.UserID.Name == "" && (h.UserID.Prefix != "" || h.UserID.StripPrefix != "" || v.written("spec.headers.userID.claim")) {
		v.fail("spec.headers.userID.name", "required when claim, prefix or stripPrefix is set")
	}
	if h.Groups.Name == "" && v.written("spec.headers.groups.claim") {
		v.fail("spec.headers.groups.name", "required when claim is set")
	}
	if h.UserID.Name != "" && strings.EqualFold(h.UserID.Name, h.Groups.Name) {
		v.fail("spec.headers.groups.name", "%q: same header as userID", h.Groups.Name)
	}
}

func (v oidcValidator) headerName(f, name string) {
	switch {
	case name == "":
	case !isToken(name):
		v.fail(f, "%q: not a valid header name", name)
	case slices.Contains(reservedHeaders, strings.ToLower(name)):
		v.fail(f, "%q: reserved (use idToken for Authorization)", name)
	}
}

// isToken reports whether s is an RFC 9110 token: what header and cookie names are made of.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func (v oidcValidator) session(s *OIDCSession) {
	switch s.Store {
	case OIDCStoreMemory:
		if s.Redis != nil {
			v.fail("spec.session.redis", "set, but store is memory: set store: redis, or remove redis")
		}
	case OIDCStoreRedis:
		if s.Redis == nil {
			v.fail("spec.session.redis", "required by store: redis (address and keys)")
			break
		}
		v.redisAddress(s.Redis.Address)
		v.secretName("spec.session.redis.keys.name", s.Redis.Keys.Name)
	default:
		v.fail("spec.session.store", "%q: want memory or redis", s.Store)
	}
	v.cookie(s)
	if s.IdleLifetime > s.AbsoluteLifetime {
		v.fail("spec.session.idleLifetime", "%s: longer than absoluteLifetime %s", s.IdleLifetime.Std(), s.AbsoluteLifetime.Std())
	}
}

func (v oidcValidator) redisAddress(addr string) {
	const f = "spec.session.redis.address"
	if addr == "" {
		v.fail(f, "required: host:port of the Redis server")
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		v.fail(f, "%q: want host:port", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		v.fail(f, "%q: port %q: want 1-65535", addr, port)
	}
}

// cookie applies RFC 6265bis: the name is a token, and a __Host- cookie has no Domain (the
// session cookie's Path is always /, and it is always Secure, which __Secure- needs).
// Browsers match the prefixes case-insensitively.
func (v oidcValidator) cookie(s *OIDCSession) {
	if !isToken(s.CookieName) {
		v.fail("spec.session.cookieName", "%q: not a valid cookie name", s.CookieName)
	}
	if s.CookieDomain == "" {
		return
	}
	if len(s.CookieName) >= 7 && strings.EqualFold(s.CookieName[:7], "__Host-") {
		v.fail("spec.session.cookieDomain", "%q: a __Host- cookie (%s) must not have a Domain", s.CookieDomain, s.CookieName)
		return
	}
	d := strings.ToLower(strings.TrimPrefix(s.CookieDomain, "."))
	for _, e := range k8svalidation.IsDNS1123Subdomain(d) {
		v.fail("spec.session.cookieDomain", "%q: %s", s.CookieDomain, e)
	}
}
